package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/certtest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

type request struct {
	Method, Path, ContentType, AlertID, Idempotency, Custom string
	Body                                                    map[string]any
}

func capture(got chan<- request) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get(HeaderAlertID),
			r.Header.Get(HeaderIdempotency), r.Header.Get("X-Team"), body}
		w.WriteHeader(http.StatusAccepted)
	}
}

func alert() *schema.Alert {
	return &schema.Alert{Rule: "Read sensitive file untrusted", Priority: schema.PriorityWarning, Source: "syscall", Hostname: "node-1",
		Time: time.Date(2026, 12, 1, 20, 31, 56, 746609046, time.UTC), Output: "Sensitive file opened",
		OutputFields: map[string]any{"fd.name": "/etc/shadow", "container.id": nil}, Tags: []string{"filesystem"}}
}

// falcoJSON is the body Falco's json_output prints for alert().
var falcoJSON = map[string]any{
	"hostname": "node-1", "output": "Sensitive file opened", "priority": "Warning", "rule": "Read sensitive file untrusted",
	"source": "syscall", "tags": []any{"filesystem"}, "time": "2026-12-01T20:31:56.746609046Z",
	"output_fields": map[string]any{"fd.name": "/etc/shadow", "container.id": nil},
}

func newWebhook(t *testing.T, doc string) output.Output {
	t.Helper()
	cfg, err := output.ParseConfig("webhook", "test.yaml", doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, output.Env{HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestRequest(t *testing.T) {
	got := make(chan request, 1)
	srv := httptest.NewServer(capture(got))
	defer srv.Close()
	o := newWebhook(t, "webhook:\n  address: "+srv.URL+"/falco\n  method: put\n  customheaders:\n    X-Team: sec\n")
	if err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "alert-1"}); err != nil {
		t.Fatal(err)
	}
	want := request{"PUT", "/falco", "application/json", "alert-1", "alert-1", "sec", falcoJSON}
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestMutualTLS(t *testing.T) {
	certs := certtest.Make(t)
	got := make(chan request, 1)
	srv := httptest.NewUnstartedServer(capture(got))
	srv.TLS = certs.MutualServerConfig(t)
	srv.StartTLS()
	defer srv.Close()

	// Falcosidekick's form: mutualtls: true with the global mutualtlsclient files.
	doc := "mutualtlsclient:\n  certfile: " + certs.ClientCert + "\n  keyfile: " + certs.ClientKey + "\n  cacertfile: " + certs.CA +
		"\nwebhook:\n  address: " + srv.URL + "/hook\n  mutualtls: true\n"
	if err := newWebhook(t, doc).Send(context.Background(), output.Delivery{Alert: alert(), ID: "m-1"}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.AlertID != "m-1" || r.Path != "/hook" {
		t.Errorf("request %+v", r)
	}
	// Without a client certificate the server refuses the handshake.
	doc = "webhook:\n  address: " + srv.URL + "/hook\n  cacertfile: " + certs.CA + "\n"
	err := newWebhook(t, doc).Send(context.Background(), output.Delivery{Alert: alert(), ID: "m-2"})
	if err == nil || output.IsPermanent(err) {
		t.Errorf("Send without client certificate = %v, want a retryable error", err)
	}
}

func TestErrorsHideURLToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusForbidden)
	}))
	defer srv.Close()
	o := newWebhook(t, "webhook:\n  address: "+srv.URL+"/hooks/T0KEN123?sig=S1G\n")
	err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "a"})
	if !output.IsPermanent(err) {
		t.Fatalf("403: %v, want permanent", err)
	}
	if strings.Contains(err.Error(), "T0KEN123") || strings.Contains(err.Error(), "S1G") {
		t.Errorf("error shows the URL token: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"webhook:\n  method: POST\n", "field address: missing"},
		{"webhook:\n  address: ftp://x\n", "field address"},
		{"webhook:\n  address: http://x\n  method: DELETE\n", "field method"},
		{"webhook:\n  address: http://x\n  certfile: /nonexistent.crt\n  keyfile: /nonexistent.key\n", "certfile"},
	} {
		cfg, _ := output.ParseConfig("webhook", "t.yaml", tt.doc, nil)
		if _, err := New(cfg, output.Env{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) = %v, want %q", tt.doc, err, tt.want)
		}
	}
}
