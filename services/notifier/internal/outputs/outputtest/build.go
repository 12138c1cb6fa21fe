package outputtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// New builds spec's output from a config file's text (its section under
// spec.Key), without environment, with a plain HTTP client. A config that
// does not parse fails t; the error New of the spec returns is the
// caller's to check.
func New(t *testing.T, spec output.Spec, yaml string) (output.Output, error) {
	t.Helper()
	cfg, err := output.ParseConfig(spec.Key, "config.yaml", yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	return spec.New(cfg, output.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second}})
}

// MustNew is [New] failing t on any error.
func MustNew(t *testing.T, spec output.Spec, yaml string) output.Output {
	t.Helper()
	o, err := New(t, spec, yaml)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
