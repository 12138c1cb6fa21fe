package rocketchat

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
		Hostname: "node-1", Output: "12:00:00.000000000: Notice Package management process launched (proc=apt)",
		Priority: schema.PriorityNotice, Rule: "Launch Package Management Process in Container", Source: "syscall",
		Time:         time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{"proc.name": "apt"},
	}
}

// server stands in for Rocket.Chat's integration webhook, which answers
// 200 {"success":true}.
func server(t *testing.T, status int) (*httptest.Server, <-chan outputtest.Request) {
	return outputtest.JSONServer(t, status, "application/json", `{"success":`+map[bool]string{true: "true", false: "false"}[status == 200]+`}`)
}

func build(t *testing.T, yaml string) output.Output {
	t.Helper()
	return outputtest.MustNew(t, Spec(), yaml)
}

func TestSendPostsAttachment(t *testing.T) {
	const hook = "/hooks/6a5b4c/s3cr3tT0k3n"
	a := testAlert()
	f := func(title, value string, short bool) any {
		return map[string]any{"title": title, "value": value, "short": short}
	}
	tests := []struct {
		name, yaml, text string
		want             map[string]any
	}{
		{
			name: "all", yaml: "", text: a.Output,
			want: map[string]any{
				"username": "Falcosidekick", "icon_url": slack.DefaultIconURL,
				"attachments": []any{map[string]any{
					"fallback": a.Output, "text": a.Output, "color": "#5bffb5",
					"fields": []any{
						f("rule", a.Rule, true), f("priority", "Notice", true), f("source", "syscall", true),
						f("proc.name", "apt", true), f("time", "2026-12-01 12:00:00 +0000 UTC", false),
						f("hostname", "node-1", true),
					},
				}},
			},
		},
		{
			name: "text only", yaml: "  outputformat: text\n  username: falco\n", text: a.Output,
			want: map[string]any{"username": "falco", "icon_url": slack.DefaultIconURL, "text": a.Output},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := server(t, http.StatusOK)
			o := build(t, "rocketchat:\n  webhookurl: "+srv.URL+hook+"\n"+tt.yaml)
			if err := o.Send(context.Background(), output.Delivery{Alert: a, Text: tt.text}); err != nil {
				t.Fatal(err)
			}
			r := <-ch
			if r.Method != http.MethodPost || r.Path != hook || r.ContentType != "application/json" {
				t.Errorf("request %s %s (%s)", r.Method, r.Path, r.ContentType)
			}
			if diff := cmp.Diff(tt.want, r.Body); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendFailureHidesToken(t *testing.T) {
	srv, _ := server(t, http.StatusBadRequest)
	o := build(t, "rocketchat:\n  webhookurl: "+srv.URL+"/hooks/6a5b4c/s3cr3tT0k3n\n")
	err := o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: testAlert().Output})
	if !errors.Is(err, output.ErrPermanent) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if strings.Contains(err.Error(), "s3cr3tT0k3n") {
		t.Errorf("error leaks the token: %v", err)
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
	base := "rocketchat:\n  webhookurl: " + srv.URL + "/hooks/x\n"
	if err := build(t, base).Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA: err = %v, want a certificate error", err)
	}
	if err := build(t, base+"  cacertfile: "+ca+"\n").Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"}); err != nil {
		t.Errorf("with cacertfile: %v", err)
	}
}
