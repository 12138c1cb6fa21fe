// Package webhook posts each alert's Falco JSON to an HTTP endpoint, as
// Falcosidekick's webhook output does.
//
// Request: METHOD address (POST by default), Content-Type
// application/json, the body the alert as Falco's json_output prints it,
// plus the configured customheaders. Every request carries the alert's
// stable id in X-Alert-Id and Idempotency-Key: it is the same on every
// retry, redelivery after a crash and replay, so a receiver that keeps the
// ids it has seen gets each alert exactly once.
//
// Config (section "webhook", env WEBHOOK_*): address (enables it), method,
// customheaders (map; env "Key:Value,Key2:Value2"), checkcert, certfile,
// keyfile and cacertfile for mTLS; mutualtls: true takes the client
// certificate from the global mutualtlsclient section as Falcosidekick does.
package webhook

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Headers set on every request.
const (
	HeaderAlertID     = "X-Alert-Id"
	HeaderIdempotency = "Idempotency-Key"
)

// Config is the webhook section.
type Config struct {
	// Address is not a Secret: its host helps the reader of an error, and
	// output.Do hides its path, query and password, where tokens live.
	Address         string            `yaml:"address"`
	Method          string            `yaml:"method"`
	CustomHeaders   map[string]string `yaml:"customheaders"`
	MutualTLS       bool              `yaml:"mutualtls"`
	output.TLSFiles `yaml:",inline"`
}

// Validate checks the address and method.
func (c *Config) Validate() error {
	if c.Address == "" {
		return output.Missing("address")
	}
	u, err := url.Parse(c.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return output.Invalid("address", fmt.Errorf("want an http or https URL"))
	}
	c.Method = strings.ToUpper(c.Method)
	if c.Method == "" {
		c.Method = http.MethodPost
	}
	switch c.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return output.Invalid("method", fmt.Errorf("%q: want POST, PUT or PATCH", c.Method))
	}
	return nil
}

// Spec registers the output.
func Spec() output.Spec {
	return output.Spec{Key: "webhook", Enable: "address", New: New}
}

// Webhook is the output. Safe for concurrent use.
type Webhook struct {
	cfg    Config
	client *http.Client
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	client, err := output.ClientWithMutualTLS(cfg, env, c.TLSFiles, c.MutualTLS)
	if err != nil {
		return nil, fmt.Errorf("output webhook: %w", err)
	}
	return &Webhook{cfg: c, client: client}, nil
}

// Name returns "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Send posts the alert. A 4xx answer other than 408 and 429 is permanent.
func (w *Webhook) Send(ctx context.Context, d output.Delivery) error {
	body, err := d.Alert.MarshalJSON()
	if err != nil {
		return output.Permanent(fmt.Errorf("webhook: encode alert %s: %w", d.ID, err))
	}
	req, err := http.NewRequestWithContext(ctx, w.cfg.Method, w.cfg.Address, bytes.NewReader(body))
	if err != nil {
		return output.Permanent(output.Redact(fmt.Errorf("webhook: %w", err), output.Secret(w.cfg.Address)))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Peregrine-notifier")
	for k, v := range w.cfg.CustomHeaders {
		req.Header.Set(k, v)
	}
	if d.ID != "" {
		req.Header.Set(HeaderAlertID, d.ID)
		req.Header.Set(HeaderIdempotency, d.ID)
	}
	if err := output.Do(w.client, req); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}
