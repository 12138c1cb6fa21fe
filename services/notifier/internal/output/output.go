package output

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Delivery is one alert for one output.
type Delivery struct {
	Alert *schema.Alert
	// ID is the stable alert id (the alert's Nats-Msg-Id): the same on every
	// retry and replay, for outputs whose target deduplicates.
	ID string
	// Text is the output's message template rendered over the alert, or
	// Falco's text line (Alert.Output) when the output has no template.
	Text string
}

// Output delivers alerts to one target.
//
// Send returns nil only when the target accepted the alert (HTTP 2xx, SMTP
// 250, ...). An error wrapping [ErrPermanent] is not retried (HTTP 400: the
// same request will fail again); any other error is retried with backoff
// until the output's maximum deliveries, then dead-lettered. Errors never
// contain secrets: build them with [Redact] when they may quote one.
//
// Send may be called from several goroutines at once when the output's
// consumer allows more than one pending alert; an output that cannot do
// that guards itself with a mutex.
type Output interface {
	Name() string
	Send(ctx context.Context, d Delivery) error
}

// Closer is implemented by outputs that hold connections or files; the core
// calls Close once after the last Send.
type Closer interface{ Close() error }

// ErrPermanent marks a delivery failure that retrying cannot fix.
var ErrPermanent = errors.New("permanent delivery failure")

// Permanent wraps err so that errors.Is(err, ErrPermanent) holds.
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() []error {
	return []error{e.err, ErrPermanent}
}

// Env gives outputs what they need from the service.
type Env struct {
	// Getenv reads the process environment (os.Getenv in the service, a map
	// in tests).
	Getenv func(string) string
	// HTTPClient is the shared client for outputs without their own TLS
	// settings. Outputs that need mTLS or a custom CA build their own.
	HTTPClient *http.Client
	// Hostname is the notifier's host name, for outputs that report it.
	Hostname string
	// Stdout is where the stdout output writes: os.Stdout in the service,
	// a buffer in tests.
	Stdout io.Writer
}

// Spec is one output kind in the registry
// (services/notifier/internal/outputs/registry.go).
type Spec struct {
	// Key is the config key, as in Falcosidekick: "slack", "webhook",
	// "alertmanager", ... It names the YAML section and the env prefix.
	Key string
	// Enable is the sub-key whose presence turns the output on, as in
	// Falcosidekick ("webhookurl" for slack, "address" for webhook). When
	// empty, the output is on only with "enabled: true".
	Enable string
	// New builds the output from its config section. It returns an error
	// naming the bad field; it must not connect to the target yet, so a
	// target that is down at start-up is retried like any failed delivery.
	New func(cfg *Config, env Env) (Output, error)
}
