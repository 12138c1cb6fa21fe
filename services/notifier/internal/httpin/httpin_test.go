package httpin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/natstest"
)

// FuzzAlert posts arbitrary bodies to POST /: the input answers 200 (a
// valid alert, published) or 400 (with a reason), and never crashes.
func FuzzAlert(f *testing.F) {
	payload, err := os.ReadFile("../app/testdata/falco_read_sensitive_file_untrusted.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(payload), "", "{", "null", "[]", `{"rule":"x"}`,
		`{"rule":"x","time":"2025-12-01T20:31:56Z","priority":"Warning","output_fields":{"a":[1,{"b":null}]}}`,
		`{"rule":"x","time":"2025-12-01T20:31:56Z","priority":7}`} {
		f.Add(seed)
	}
	s := natstest.Server(f, "")
	_, js := natstest.Connect(f, s)
	if _, err := js.CreateOrUpdateStream(context.Background(), bus.AlertsStream(bus.StreamLimits{Memory: true})); err != nil {
		f.Fatal(err)
	}
	h := New(js, metrics.New(prometheus.NewRegistry()), nil, "node-1").Handler()
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			if strings.TrimSpace(rec.Body.String()) == "" {
				t.Errorf("400 without a reason for %q", body)
			}
		default:
			t.Errorf("POST / %q = %d %s", body, rec.Code, rec.Body.String())
		}
	})
}
