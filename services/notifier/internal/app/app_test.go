package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/natstest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/webhooktest"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPInputDeliversFalcoPayload(t *testing.T) {
	s := natstest.Server(t, "")
	recv := webhooktest.New(t)
	cfg := writeConfig(t, "webhook:\n  address: "+recv.URL+"\n  customheaders:\n    Authorization: Bearer t0ken\ncustomfields:\n  cluster: test\n")
	addr, _, log := runMain(t, s.ClientURL(), "--config", cfg)
	base := "http://" + addr

	payload, err := os.ReadFile("testdata/falco_read_sensitive_file_untrusted.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, base+"/", string(payload)); code != http.StatusOK {
		t.Fatalf("POST / = %d %s", code, body)
	}
	got := recv.WaitFor(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("received %d alerts, want 1\n%s", len(got), log.String())
	}
	var want schema.Alert
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatal(err)
	}
	want.OutputFields["cluster"] = "test"
	if diff := cmp.Diff(want, got[0].Alert); diff != "" {
		t.Errorf("delivered alert (-want +got):\n%s", diff)
	}
	if h := got[0].Header.Get("Authorization"); h != "Bearer t0ken" {
		t.Errorf("Authorization = %q", h)
	}
	if got[0].ID == "" {
		t.Errorf("no X-Alert-Id")
	}

	tests := []struct {
		name, body string
		wantCode   int
		wantBody   string
	}{
		{"not json", "{oops", 400, "bad alert"},
		{"empty", "", 400, "empty body"},
		{"no rule", `{"time":"2025-12-01T20:31:56.746609046Z","priority":"Warning"}`, 400, "field rule: missing"},
		{"bad priority", `{"rule":"x","time":"2025-12-01T20:31:56Z","priority":"Loud"}`, 400, "unknown priority"},
		{"bad time", `{"rule":"x","time":"yesterday","priority":"Warning"}`, 400, "field time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, base+"/", tt.body)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("POST / = %d %q, want %d containing %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}

	if code, body := get(t, base+"/ping"); code != 200 || body != "pong\n" {
		t.Errorf("GET /ping = %d %q", code, body)
	}
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("GET /healthz = %d %q", code, body)
	}
	// The test alert reaches the webhook although it is Debug.
	if code, body := post(t, base+"/test", ""); code != http.StatusOK {
		t.Fatalf("POST /test = %d %s", code, body)
	}
	got = recv.WaitFor(2, 30*time.Second)
	if len(got) != 2 || got[1].Alert.Rule != "Test rule" {
		t.Fatalf("after /test received %v", got)
	}
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`peregrine_notifier_alerts_delivered_total{output="webhook",priority="Warning"} 1`,
		`peregrine_notifier_input_alerts_total{priority="Warning"} 1`,
		`peregrine_notifier_input_errors_total{reason="decode"} 4`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(log.String(), "t0ken") {
		t.Errorf("log shows the secret header")
	}
}

func TestStdoutDefault(t *testing.T) {
	s := natstest.Server(t, "")
	addr, stdout, _ := runMain(t, s.ClientURL())
	payload, err := os.ReadFile("testdata/falco_read_sensitive_file_untrusted.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, "http://"+addr+"/", string(payload)); code != 200 {
		t.Fatalf("POST / = %d %s", code, body)
	}
	want := "20:31:56.746609046: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow"
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !strings.Contains(stdout.String(), want); {
		time.Sleep(10 * time.Millisecond)
	}
	if !bytes.HasPrefix([]byte(stdout.String()), []byte(want)) {
		t.Errorf("stdout = %q, want a line starting %q", stdout.String(), want)
	}
}

func TestReplaySubcommand(t *testing.T) {
	s := natstest.Server(t, "")
	// The serving notifier makes the streams.
	runMain(t, s.ClientURL())
	var out, log logBuffer
	err := Main(t.Context(), []string{"replay", "--output", "webhook"}, Env{Stdout: &out, Stderr: &log,
		Getenv: func(k string) string { return map[string]string{"NATS_URL": s.ClientURL()}[k] }})
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, log.String())
	}
	if want := "replayed 0 dead letters of output webhook from deadletter.notifier.webhook\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if err := Main(t.Context(), []string{"replay"}, Env{Stdout: &out, Stderr: &log}); err == nil || !strings.Contains(err.Error(), "--output is required") {
		t.Errorf("replay without --output: %v", err)
	}
}
