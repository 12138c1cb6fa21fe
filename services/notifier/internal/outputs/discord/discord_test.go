package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		Hostname: "node-1", Output: "12:00:00.000000000: Warning Netcat remote code execution (cmd=nc -e)",
		Priority: schema.PriorityWarning, Rule: "Netcat Remote Code Execution in Container", Source: "syscall",
		Tags: []string{"network"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 250_000_000, time.UTC),
		OutputFields: map[string]any{"proc.cmdline": "nc -e /bin/sh", "proc.pid": json.Number("99")},
	}
}

// server stands in for a Discord webhook: 204 No Content on success.
func server(t *testing.T, status int, reply string) (*httptest.Server, <-chan outputtest.Request) {
	return outputtest.JSONServer(t, status, "application/json", reply)
}

func build(t *testing.T, yaml string) output.Output {
	t.Helper()
	return outputtest.MustNew(t, Spec(), yaml)
}

func TestSendPostsEmbed(t *testing.T) {
	const hook = "/api/webhooks/123456/s3cr3tT0k3n"
	srv, ch := server(t, http.StatusNoContent, "")
	o := build(t, "discord:\n  webhookurl: "+srv.URL+hook+"\n  icon: https://example.org/a.png\n")
	a := testAlert()
	if err := o.Send(context.Background(), output.Delivery{Alert: a, Text: a.Output}); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.Method != http.MethodPost || r.Path != hook || r.ContentType != "application/json" {
		t.Errorf("request %s %s (%s)", r.Method, r.Path, r.ContentType)
	}
	f := func(n, v string) any { return map[string]any{"name": n, "value": v, "inline": true} }
	want := map[string]any{
		"content": "", "avatar_url": "https://example.org/a.png",
		"embeds": []any{map[string]any{
			"description": a.Output, "color": float64(12745742), "timestamp": "2026-12-01T12:00:00.250Z",
			"fields": []any{
				f("rule", a.Rule), f("priority", "Warning"), f("source", "syscall"), f("hostname", "node-1"),
				f("proc.cmdline", "```nc -e /bin/sh```"), f("proc.pid", "```99```"), f("tags", "network"),
				f("time", "2026-12-01 12:00:00.25 +0000 UTC"),
			},
		}},
	}
	if diff := cmp.Diff(want, r.Body); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
}

func TestPayloadFitsDiscordLimits(t *testing.T) {
	a := testAlert()
	a.OutputFields = map[string]any{}
	for i := 0; i < 40; i++ {
		a.OutputFields[fmt.Sprintf("field.%02d", i)] = strings.Repeat("x", 2000)
	}
	p := NewPayload(a, strings.Repeat("y", 5000), "")
	e := p.Embeds[0]
	if len(e.Fields) != maxFields {
		t.Errorf("%d fields, want %d", len(e.Fields), maxFields)
	}
	if last := e.Fields[len(e.Fields)-1]; last.Name != "time" {
		t.Errorf("last field %q, want time", last.Name)
	}
	for _, f := range e.Fields {
		if n := len([]rune(f.Value)); n > maxFieldValue {
			t.Errorf("field %s has %d characters", f.Name, n)
		}
	}
	if n := len([]rune(e.Description)); n > maxDescription {
		t.Errorf("description has %d characters", n)
	}
}

func TestSendFailure(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		permanent bool
	}{
		{"invalid form body", http.StatusBadRequest, true},
		{"unknown webhook", http.StatusNotFound, true},
		{"rate limited", http.StatusTooManyRequests, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := server(t, tt.status, `{"message": "Invalid Webhook Token", "code": 50027}`)
			o := build(t, "discord:\n  webhookurl: "+srv.URL+"/api/webhooks/123456/s3cr3tT0k3n\n")
			err := o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
			if err == nil || errors.Is(err, output.ErrPermanent) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			if strings.Contains(err.Error(), "s3cr3tT0k3n") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}
