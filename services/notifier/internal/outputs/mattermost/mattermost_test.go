package mattermost

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/slack"
)

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "12:00:00.000000000: Critical Shell in container (proc=bash)",
		Priority: schema.PriorityCritical, Rule: "Terminal shell in container", Source: "syscall",
		Tags: []string{"shell", "container"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{"proc.name": "bash", "container.id": "abc123"},
	}
}

// server stands in for Mattermost's incoming webhook, which answers 200 "ok".
func server(t *testing.T, status int, reply string) (*httptest.Server, <-chan outputtest.Request) {
	return outputtest.JSONServer(t, status, "", reply)
}

func build(t *testing.T, yaml string) output.Output {
	t.Helper()
	return outputtest.MustNew(t, Spec(), yaml)
}

func TestSendPostsAttachment(t *testing.T) {
	const hook = "/hooks/xn3gs8s3cr3t"
	srv, ch := server(t, http.StatusOK, "ok")
	o := build(t, "mattermost:\n  webhookurl: "+srv.URL+hook+"\n  footer: peregrine\n")
	a := testAlert()
	if err := o.Send(context.Background(), output.Delivery{Alert: a, ID: "x", Text: a.Output}); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.Method != http.MethodPost || r.Path != hook || r.ContentType != "application/json" {
		t.Errorf("request %s %s (%s)", r.Method, r.Path, r.ContentType)
	}
	f := func(title, value string, short bool) any {
		return map[string]any{"title": title, "value": value, "short": short}
	}
	want := map[string]any{
		"username": "Falcosidekick", "icon_url": slack.DefaultIconURL,
		"attachments": []any{map[string]any{
			"fallback": a.Output, "text": a.Output, "color": "#ff5400", "footer": "peregrine",
			"fields": []any{
				f("rule", "Terminal shell in container", true), f("hostname", "node-1", true),
				f("priority", "Critical", true), f("source", "syscall", true), f("tags", "container, shell", true),
				f("container.id", "abc123", true), f("proc.name", "bash", true),
				f("time", "2026-12-01 12:00:00 +0000 UTC", false),
			},
		}},
	}
	if diff := cmp.Diff(want, r.Body); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
}

func TestSendFailure(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		permanent bool
	}{
		{"bad request", http.StatusBadRequest, true},
		{"unavailable", http.StatusServiceUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := server(t, tt.status, "Unable to parse incoming data")
			o := build(t, "mattermost:\n  webhookurl: "+srv.URL+"/hooks/xn3gs8s3cr3t\n")
			err := o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: testAlert().Output})
			if err == nil || errors.Is(err, output.ErrPermanent) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the webhook: %v", err)
			}
		})
	}
}

func TestConfigRequiresWebhook(t *testing.T) {
	cfg, err := output.ParseConfig("mattermost", "config.yaml", "mattermost:\n  username: x\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Spec().New(cfg, output.Env{}); err == nil || !strings.Contains(err.Error(), "webhookurl") {
		t.Fatalf("New: err = %v, want one naming webhookurl", err)
	}
}

func TestSendTrustsConfiguredCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "mattermost:\n  webhookurl: " + srv.URL + "/hooks/x\n"
	if err := build(t, base).Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA: err = %v, want a certificate error", err)
	}
	if err := build(t, base+"  cacertfile: "+ca+"\n").Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"}); err != nil {
		t.Errorf("with cacertfile: %v", err)
	}
}
