package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1",
		Output:   "12:00:00.000000000: Warning Sensitive file opened (file=/etc/shadow)",
		Priority: schema.PriorityWarning,
		Rule:     "Read sensitive file untrusted",
		Source:   "syscall",
		Tags:     []string{"filesystem", "T1555"},
		Time:     time.Date(2026, 12, 1, 12, 0, 0, 5000, time.UTC),
		OutputFields: map[string]any{
			"proc.name":    "cat",
			"proc.pid":     json.Number("42"),
			"fd.name":      "/etc/shadow",
			"k8s.pod.name": nil,
			"proc.cmdline": "cat /etc/shadow --a-rather-long-argument-list",
		},
	}
}

// webhook is a local stand-in for Slack's incoming webhook: it records each
// request and answers as Slack does, 200 "ok", unless told otherwise.
type webhook struct {
	mu     sync.Mutex
	reqs   []recorded
	status int
	body   string
}

type recorded struct {
	Method, Path, ContentType string
	Body                      map[string]any
}

func newWebhook(t *testing.T) (*webhook, *httptest.Server) {
	t.Helper()
	w := &webhook{status: http.StatusOK, body: "ok"}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("body is not JSON: %v: %s", err, b)
		}
		w.mu.Lock()
		w.reqs = append(w.reqs, recorded{r.Method, r.URL.Path, r.Header.Get("Content-Type"), m})
		status, body := w.status, w.body
		w.mu.Unlock()
		rw.WriteHeader(status)
		_, _ = io.WriteString(rw, body)
	}))
	t.Cleanup(srv.Close)
	return w, srv
}

func (w *webhook) last(t *testing.T) recorded {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.reqs) == 0 {
		t.Fatal("no request received")
	}
	return w.reqs[len(w.reqs)-1]
}

func newOutput(t *testing.T, yaml string, env map[string]string) output.Output {
	t.Helper()
	cfg, err := output.ParseConfig("slack", "config.yaml", yaml, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	o, err := Spec().New(cfg, output.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSendPostsFalcosidekickAttachment(t *testing.T) {
	const token = "/services/T0001/B0001/s3cr3tT0k3n"
	field := func(title, value string, short bool) any {
		return map[string]any{"title": title, "value": value, "short": short}
	}
	allFields := []any{
		field("rule", "Read sensitive file untrusted", true),
		field("priority", "Warning", true),
		field("source", "syscall", true),
		field("hostname", "node-1", true),
		field("tags", "T1555, filesystem", true),
		field("fd.name", "/etc/shadow", true),
		field("k8s.pod.name", "<NA>", true),
		field("proc.cmdline", "cat /etc/shadow --a-rather-long-argument-list", false),
		field("proc.name", "cat", true),
		field("proc.pid", "42", true),
		field("time", "2026-12-01 12:00:00.000005 +0000 UTC", false),
	}
	line := testAlert().Output
	tests := []struct {
		name string
		yaml string
		text string
		want map[string]any
	}{
		{
			name: "defaults",
			yaml: "slack:\n  webhookurl: %URL%\n",
			text: line,
			want: map[string]any{
				"username": "Falcosidekick",
				"icon_url": DefaultIconURL,
				"attachments": []any{map[string]any{
					"fallback": line, "color": "#ffc700", "text": line,
					"fields": allFields, "footer": DefaultFooter,
				}},
			},
		},
		{
			name: "channel footer and template",
			yaml: "slack:\n  webhookurl: %URL%\n  channel: '#falco'\n  footer: peregrine\n  icon: https://example.org/i.png\n  username: bot\n",
			text: "rule Read sensitive file untrusted fired",
			want: map[string]any{
				"text": "rule Read sensitive file untrusted fired", "username": "bot",
				"icon_url": "https://example.org/i.png", "channel": "#falco",
				"attachments": []any{map[string]any{
					"fallback": line, "color": "#ffc700", "text": line,
					"fields": allFields, "footer": "peregrine",
				}},
			},
		},
		{
			name: "text only",
			yaml: "slack:\n  webhookurl: %URL%\n  outputformat: text\n",
			text: line,
			want: map[string]any{
				"username": "Falcosidekick", "icon_url": DefaultIconURL,
				"attachments": []any{map[string]any{
					"fallback": line, "color": "#ffc700", "text": line, "fields": nil,
				}},
			},
		},
		{
			name: "fields only",
			yaml: "slack:\n  webhookurl: %URL%\n  outputformat: fields\n",
			text: line,
			want: map[string]any{
				"username": "Falcosidekick", "icon_url": DefaultIconURL,
				"attachments": []any{map[string]any{
					"fallback": line, "color": "#ffc700", "fields": allFields, "footer": DefaultFooter,
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, srv := newWebhook(t)
			o := newOutput(t, strings.ReplaceAll(tt.yaml, "%URL%", srv.URL+token), nil)
			if err := o.Send(context.Background(), output.Delivery{Alert: testAlert(), ID: "a-1", Text: tt.text}); err != nil {
				t.Fatal(err)
			}
			got := w.last(t)
			if got.Method != http.MethodPost || got.Path != token || got.ContentType != "application/json" {
				t.Errorf("request %s %s (%s), want POST %s (application/json)", got.Method, got.Path, got.ContentType, token)
			}
			if diff := cmp.Diff(tt.want, got.Body); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestColorByPriority(t *testing.T) {
	want := map[schema.Priority]string{
		schema.PriorityEmergency: "#e20b0b", schema.PriorityAlert: "#ff5400", schema.PriorityCritical: "#ff5400",
		schema.PriorityError: "#e20b0b", schema.PriorityWarning: "#ffc700", schema.PriorityNotice: "#5bffb5",
		schema.PriorityInformational: "#68c2ff", schema.PriorityDebug: "#ccfff2",
	}
	got := map[schema.Priority]string{}
	for p := range want {
		got[p] = Color(p)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("colors (-want +got):\n%s", diff)
	}
}

func TestSendClassifiesFailuresWithoutLeakingTheWebhook(t *testing.T) {
	const token = "/services/T0001/B0001/s3cr3tT0k3n"
	tests := []struct {
		name      string
		status    int
		body      string
		permanent bool
	}{
		{"invalid payload", http.StatusBadRequest, "invalid_payload", true},
		{"channel not found", http.StatusNotFound, "channel_not_found", true},
		{"rate limited", http.StatusTooManyRequests, "rate_limited", false},
		{"server error", http.StatusInternalServerError, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, srv := newWebhook(t)
			w.status, w.body = tt.status, tt.body
			o := newOutput(t, "slack:\n  webhookurl: "+srv.URL+token+"\n", nil)
			err := o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: testAlert().Output})
			if err == nil {
				t.Fatal("Send succeeded on a failure status")
			}
			if got := errors.Is(err, output.ErrPermanent); got != tt.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tt.permanent, err)
			}
			if strings.Contains(err.Error(), "s3cr3tT0k3n") {
				t.Errorf("error leaks the webhook token: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		_, srv := newWebhook(t)
		u := srv.URL + token
		srv.Close()
		o := newOutput(t, "slack:\n  webhookurl: "+u+"\n", nil)
		err := o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: testAlert().Output})
		if err == nil || errors.Is(err, output.ErrPermanent) {
			t.Fatalf("err = %v, want a retryable error", err)
		}
		if strings.Contains(err.Error(), "s3cr3tT0k3n") {
			t.Errorf("error leaks the webhook token: %v", err)
		}
	})
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string // substring; "" means success
	}{
		{name: "env override", yaml: "slack: {}\n", env: map[string]string{"SLACK_WEBHOOKURL": "https://hooks.slack.com/services/x"}},
		{name: "missing webhook", yaml: "slack:\n  channel: x\n", wantErr: "field webhookurl: missing"},
		{name: "not a URL", yaml: "slack:\n  webhookurl: hooks.slack.com/s3cr3t\n", wantErr: "field webhookurl"},
		{name: "bad format", yaml: "slack:\n  webhookurl: https://h/x\n  outputformat: json\n", wantErr: "field outputformat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := output.ParseConfig("slack", "config.yaml", tt.yaml, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			_, err = Spec().New(cfg, output.Env{})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: err = %v, want %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "s3cr3t"):
				t.Errorf("error quotes the webhook: %v", err)
			}
		})
	}
}

func BenchmarkNewPayload(b *testing.B) {
	a := testAlert()
	b.ReportAllocs()
	for b.Loop() {
		_ = NewPayload(a, a.Output, Options{Username: "Falcosidekick"})
	}
}

// BenchmarkSend measures one delivery through a local webhook: payload,
// JSON, HTTP round trip on 127.0.0.1 with keep-alive.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	cfg, err := output.ParseConfig("slack", "config.yaml", "slack:\n  webhookurl: "+srv.URL+"/services/x\n", nil)
	if err != nil {
		b.Fatal(err)
	}
	o, err := Spec().New(cfg, output.Env{HTTPClient: srv.Client()})
	if err != nil {
		b.Fatal(err)
	}
	d := output.Delivery{Alert: testAlert(), Text: testAlert().Output}
	b.ReportAllocs()
	for b.Loop() {
		if err := o.Send(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}
