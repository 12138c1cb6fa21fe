package opsgenie

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

const apiKey = "eb243592-faa2-4ba2-a551-s3cr3t"

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "12:00:00.000000000: Alert Detect an attempt to exploit a container escape using release_agent file (file=release_agent cap_effective=CAP_SYS_ADMIN)",
		Priority: schema.PriorityAlert, Rule: "Detect release_agent File Container Escapes", Source: "syscall",
		Tags: []string{"container", "T1611"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{"fd.name": "release_agent", "proc.pid": json.Number("3")},
	}
}

// opsgenie stands in for the alerts API: it checks the GenieKey header and
// answers 202 as Opsgenie does, or 401 for a wrong key.
func opsgenie(t *testing.T, status int) (*httptest.Server, chan map[string]any) {
	t.Helper()
	ch := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/alerts" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "GenieKey "+apiKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"message":"Could not authenticate","took":0.0,"requestId":"x"}`)
			return
		}
		m := outputtest.ReadJSON(t, r)
		select {
		case ch <- m:
		default:
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func build(t *testing.T, yaml string, base string) (output.Output, error) {
	t.Helper()
	cfg, err := output.ParseConfig("opsgenie", "config.yaml", yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Spec().New(cfg, output.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		return nil, err
	}
	if base != "" {
		// The real hosts cannot be reached from tests; point the output at
		// the local stand-in, keeping the path New chose.
		og := o.(*Output)
		og.url = base + strings.TrimPrefix(strings.TrimPrefix(og.url, USURL), EUURL)
	}
	return o, nil
}

func TestSendCreatesAlert(t *testing.T) {
	srv, ch := opsgenie(t, http.StatusAccepted)
	o, err := build(t, "opsgenie:\n  apikey: "+apiKey+"\n", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert()
	if err := o.Send(context.Background(), output.Delivery{Alert: a, ID: "node-1-boot-7-0", Text: a.Output}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"message":     a.Output[:maxMessage-1] + "…",
		"alias":       "node-1-boot-7-0",
		"description": a.Output, "entity": "Falcosidekick", "source": "Falco", "priority": "P1",
		"tags": []any{"container", "T1611"},
		"details": map[string]any{
			"fd_name": "release_agent", "proc_pid": "3", "source": "syscall", "rule": a.Rule,
			"priority": "Alert", "hostname": "node-1", "tags": "container, T1611",
		},
	}
	if diff := cmp.Diff(want, <-ch); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
}

func TestRegionHosts(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"opsgenie:\n  apikey: k\n", "https://api.opsgenie.com/v2/alerts"},
		{"opsgenie:\n  apikey: k\n  region: us\n", "https://api.opsgenie.com/v2/alerts"},
		{"opsgenie:\n  apikey: k\n  region: EU\n", "https://api.eu.opsgenie.com/v2/alerts"},
	}
	for _, tt := range tests {
		o, err := build(t, tt.yaml, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := o.(*Output).url; got != tt.want {
			t.Errorf("%q: url %q, want %q", tt.yaml, got, tt.want)
		}
	}
	for _, yaml := range []string{"opsgenie:\n  region: eu\n", "opsgenie:\n  apikey: k\n  region: asia\n"} {
		if _, err := build(t, yaml, ""); err == nil {
			t.Errorf("%q accepted", yaml)
		}
	}
}

func TestPriority(t *testing.T) {
	got := map[string]string{}
	for p := schema.PriorityEmergency; p <= schema.PriorityDebug; p++ {
		got[p.String()] = Priority(p)
	}
	want := map[string]string{
		"Emergency": "P1", "Alert": "P1", "Critical": "P2", "Error": "P3",
		"Warning": "P4", "Notice": "P5", "Informational": "P5", "Debug": "P5",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("priorities (-want +got):\n%s", diff)
	}
}

func TestSendFailures(t *testing.T) {
	t.Run("wrong key", func(t *testing.T) {
		srv, _ := opsgenie(t, http.StatusAccepted)
		o, err := build(t, "opsgenie:\n  apikey: wrong-s3cr3t\n", srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
		if !errors.Is(err, output.ErrPermanent) || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("err = %v, want permanent without the key", err)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		srv, _ := opsgenie(t, http.StatusTooManyRequests)
		o, err := build(t, "opsgenie:\n  apikey: "+apiKey+"\n", srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
		if err == nil || errors.Is(err, output.ErrPermanent) || strings.Contains(err.Error(), apiKey) {
			t.Fatalf("err = %v, want retryable without the key", err)
		}
	})
}
