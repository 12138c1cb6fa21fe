package datadog

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

const apiKey = "0123456789abcdefs3cr3t"

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "12:00:00.000000000: Critical Container drift detected (proc=/tmp/x)",
		Priority: schema.PriorityCritical, Rule: "Drift detected (chmod)", Source: "syscall",
		Tags: []string{"process", "T1059"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{"proc.exepath": "/tmp/x", "k8s.ns.name": nil},
	}
}

// datadog stands in for the events API: it checks the key header and
// answers 202 with the created event, or 403 for a wrong key, as Datadog does.
func datadog(t *testing.T, status int) (*httptest.Server, chan map[string]any) {
	t.Helper()
	ch := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/events" || r.URL.RawQuery != "" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("DD-API-KEY") != apiKey {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"errors":["Forbidden"]}`)
			return
		}
		m := outputtest.ReadJSON(t, r)
		select {
		case ch <- m:
		default:
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"status":"ok","event":{"id":1,"title":"x"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func build(t *testing.T, yaml string) (output.Output, error) {
	t.Helper()
	return outputtest.New(t, Spec(), yaml)
}

func TestSendPostsEvent(t *testing.T) {
	srv, ch := datadog(t, http.StatusAccepted)
	o, err := build(t, "datadog:\n  apikey: "+apiKey+"\n  host: "+srv.URL+"/\n")
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert()
	if err := o.Send(context.Background(), output.Delivery{Alert: a, Text: a.Output}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"title": "Drift detected (chmod)", "text": a.Output, "alert_type": "error", "source_type_name": "falco",
		"host": "node-1", "date_happened": float64(a.Time.Unix()),
		"tags": []any{"k8s.ns.name:<NA>", "proc.exepath:/tmp/x", "source:syscall", "hostname:node-1", "T1059", "process"},
	}
	if diff := cmp.Diff(want, <-ch); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func TestAlertType(t *testing.T) {
	got := map[string]string{}
	for p := schema.PriorityEmergency; p <= schema.PriorityDebug; p++ {
		got[p.String()] = AlertType(p)
	}
	want := map[string]string{
		"Emergency": "error", "Alert": "error", "Critical": "error", "Error": "error",
		"Warning": "warning", "Notice": "info", "Informational": "info", "Debug": "info",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alert types (-want +got):\n%s", diff)
	}
}

func TestSendFailures(t *testing.T) {
	t.Run("wrong key is permanent and not quoted", func(t *testing.T) {
		srv, _ := datadog(t, http.StatusAccepted)
		o, err := build(t, "datadog:\n  apikey: wrong-s3cr3t-key\n  host: "+srv.URL+"\n")
		if err != nil {
			t.Fatal(err)
		}
		err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
		if !errors.Is(err, output.ErrPermanent) {
			t.Fatalf("err = %v, want permanent", err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error leaks the key: %v", err)
		}
	})
	t.Run("server error is retried", func(t *testing.T) {
		srv, _ := datadog(t, http.StatusServiceUnavailable)
		o, err := build(t, "datadog:\n  apikey: "+apiKey+"\n  host: "+srv.URL+"\n")
		if err != nil {
			t.Fatal(err)
		}
		err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
		if err == nil || errors.Is(err, output.ErrPermanent) || strings.Contains(err.Error(), apiKey) {
			t.Fatalf("err = %v, want a retryable error without the key", err)
		}
	})
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	o, err := build(t, "datadog:\n  apikey: k\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := o.(*Output).url; got != "https://api.datadoghq.com/api/v1/events" {
		t.Errorf("url %q", got)
	}
	for _, yaml := range []string{"datadog:\n  host: https://x\n", "datadog:\n  apikey: k\n  host: api.datadoghq.eu\n"} {
		if _, err := build(t, yaml); err == nil {
			t.Errorf("%q accepted", yaml)
		}
	}
}
