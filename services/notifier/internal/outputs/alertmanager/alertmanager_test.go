package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

func alert() *schema.Alert {
	return &schema.Alert{
		Rule: "Read sensitive file untrusted", Priority: schema.PriorityWarning, Source: "syscall", Hostname: "node-1",
		Time:   time.Date(2026, 12, 1, 20, 31, 56, 746609046, time.UTC),
		Output: "Sensitive file opened for reading by non-trusted program (file=/etc/shadow)",
		OutputFields: map[string]any{"fd.name": "/etc/shadow", "proc.aname[2]": "sudo", "user.uid": json.Number("0"),
			"k8s.pod.name": nil},
		Tags: []string{"filesystem", "mitre_credential_access"},
	}
}

func wantLabels() map[string]string {
	return map[string]string{
		"alertname": "Read sensitive file untrusted", "rule": "Read sensitive file untrusted", "priority": "Warning",
		"severity": "warning", "source": "falco", "eventsource": "syscall", "hostname": "node-1",
		"tags": "filesystem,mitre_credential_access", "fd_name": "/etc/shadow", "proc_aname_2_": "sudo", "user_uid": "0",
		"team": "sec",
	}
}

func newAM(t *testing.T, hostport string) output.Output {
	t.Helper()
	doc := "alertmanager:\n  hostport: " + hostport + "\n  expiresafter: 600\n  extralabels:\n    team: sec\n  extraannotations:\n    runbook: https://runbooks/falco\n"
	cfg, err := output.ParseConfig("alertmanager", "test.yaml", doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, output.Env{HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestRequestAsDocumented(t *testing.T) {
	type request struct {
		Method, Path, ContentType string
		Body                      []Alert
	}
	got := make(chan request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []Alert
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		got <- request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), body}
	}))
	defer srv.Close()
	o := newAM(t, srv.URL)
	if err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "a", Text: alert().Output}); err != nil {
		t.Fatal(err)
	}
	want := request{Method: "POST", Path: "/api/v2/alerts", ContentType: "application/json", Body: []Alert{{
		Labels: wantLabels(),
		Annotations: map[string]string{"summary": "Read sensitive file untrusted", "description": alert().Output,
			"info": alert().Output, "runbook": "https://runbooks/falco"},
		StartsAt: "2026-12-01T20:31:56.746609046Z", EndsAt: "2026-12-01T20:41:56.746609046Z",
	}}}
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

// alertmanagerBinary finds a real Alertmanager: on PATH or in
// $(go env GOPATH)/bin, where `make tools` installs v0.28.1.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("alertmanager"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(string(trimNL(gopath)), "bin", "alertmanager")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("alertmanager binary not found on PATH or in $(go env GOPATH)/bin: " +
		"go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.28.1")
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestRealAlertmanager(t *testing.T) {
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--cluster.listen-address=")
	logf, err := os.Create(filepath.Join(dir, "am.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	ready := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		log, _ := os.ReadFile(filepath.Join(dir, "am.log"))
		t.Fatalf("alertmanager not ready in 60s:\n%s", log)
	}

	o := newAM(t, base)
	a := alert()
	// Alertmanager drops alerts that ended in the past: use the present.
	a.Time = time.Now().UTC().Truncate(time.Millisecond)
	for range 2 { // a retry must not make a second alert
		if err := o.Send(context.Background(), output.Delivery{Alert: a, ID: "a", Text: a.Output}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stored []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 {
		t.Fatalf("alertmanager holds %d alerts, want 1: %+v", len(stored), stored)
	}
	if diff := cmp.Diff(wantLabels(), stored[0].Labels); diff != "" {
		t.Errorf("stored labels (-want +got):\n%s", diff)
	}
	if !stored[0].StartsAt.Equal(a.Time) || !stored[0].EndsAt.Equal(a.Time.Add(10*time.Minute)) {
		t.Errorf("startsAt %v endsAt %v, want %v and +10m", stored[0].StartsAt, stored[0].EndsAt, a.Time)
	}
	if stored[0].Annotations["description"] != a.Output {
		t.Errorf("annotations %v", stored[0].Annotations)
	}
}

func TestBadRequestIsPermanent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid label set", http.StatusBadRequest)
	}))
	defer srv.Close()
	err := newAM(t, srv.URL).Send(context.Background(), output.Delivery{Alert: alert(), ID: "a"})
	if !output.IsPermanent(err) {
		t.Fatalf("Send = %v, want permanent", err)
	}
}
