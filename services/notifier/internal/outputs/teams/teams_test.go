package teams

import (
	"context"
	"encoding/json"
	"errors"
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

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "12:00:00.000000000: Error Write below etc (file=/etc/passwd)",
		Priority: schema.PriorityError, Rule: "Write below etc", Source: "syscall",
		Tags: []string{"filesystem", "T1098"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{"fd.name": "/etc/passwd", "proc.pid": json.Number("7")},
	}
}

// server stands in for a Teams incoming webhook, which answers 200 "1".
func server(t *testing.T, status int, reply string) (*httptest.Server, <-chan outputtest.Request) {
	return outputtest.JSONServer(t, status, "", reply)
}

func build(t *testing.T, yaml string, env map[string]string) (output.Output, error) {
	t.Helper()
	cfg, err := output.ParseConfig("teams", "config.yaml", yaml, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return Spec().New(cfg, output.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second}})
}

func TestSendPostsMessageCard(t *testing.T) {
	const hook = "/webhookb2/0000@1111/IncomingWebhook/s3cr3t/2222"
	a := testAlert()
	facts := []any{
		map[string]any{"name": "rule", "value": "Write below etc"},
		map[string]any{"name": "priority", "value": "Error"},
		map[string]any{"name": "source", "value": "syscall"},
		map[string]any{"name": "hostname", "value": "node-1"},
		map[string]any{"name": "fd.name", "value": "/etc/passwd"},
		map[string]any{"name": "proc.pid", "value": "7"},
		map[string]any{"name": "tags", "value": "T1098, filesystem"},
	}
	card := func(section map[string]any) map[string]any {
		return map[string]any{
			"@type": "MessageCard", "@context": "https://schema.org/extensions",
			"summary": a.Output, "themeColor": "ffc700", "sections": []any{section},
		}
	}
	tests := []struct {
		name, yaml string
		want       map[string]any
	}{
		{"all", "", card(map[string]any{
			"activityTitle": "Falco Sidekick", "activitySubtitle": "2026-12-01 12:00:00 +0000 UTC",
			"text": a.Output, "facts": facts,
		})},
		{"facts with image", "  outputformat: facts\n  activityimage: https://example.org/falco.png\n", card(map[string]any{
			"activityTitle": "Falco Sidekick", "activitySubtitle": "2026-12-01 12:00:00 +0000 UTC",
			"activityImage": "https://example.org/falco.png", "text": "", "facts": facts,
		})},
		{"text", "  outputformat: text\n", card(map[string]any{
			"activityTitle": "Falco Sidekick", "activitySubtitle": "2026-12-01 12:00:00 +0000 UTC", "text": a.Output,
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := server(t, http.StatusOK, "1")
			o, err := build(t, "teams:\n  webhookurl: "+srv.URL+hook+"\n"+tt.yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Send(context.Background(), output.Delivery{Alert: a, Text: a.Output}); err != nil {
				t.Fatal(err)
			}
			r := <-ch
			if r.Method != http.MethodPost || r.Path != hook || r.ContentType != "application/json" {
				t.Errorf("request %s %s (%s)", r.Method, r.Path, r.ContentType)
			}
			if diff := cmp.Diff(tt.want, r.Body); diff != "" {
				t.Errorf("card (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendFailure(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		permanent bool
	}{
		{"bad card", http.StatusBadRequest, true},
		{"throttled", http.StatusTooManyRequests, false},
		{"gateway", http.StatusBadGateway, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := server(t, tt.status, "Summary or Text is required.")
			o, err := build(t, "teams: {}\n", map[string]string{"TEAMS_WEBHOOKURL": srv.URL + "/webhookb2/s3cr3t"})
			if err != nil {
				t.Fatal(err)
			}
			err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
			if err == nil || errors.Is(err, output.ErrPermanent) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the webhook: %v", err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, yaml := range []string{"teams: {}\n", "teams:\n  webhookurl: https://h/x\n  outputformat: fields\n"} {
		if _, err := build(t, yaml, nil); err == nil {
			t.Errorf("%q accepted", yaml)
		}
	}
}
