package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// e2eLimit bounds the whole end-to-end run once both binaries are up.
const e2eLimit = 30 * time.Second

// TestEndToEnd runs the real collector (eBPF, root only) and this
// evaluator as processes against an embedded NATS server, watches the
// alerts with the real `nats sub 'alerts.>'`, and makes four upstream
// stable rules fire from processes it starts. The probe sees the whole
// machine, so alerts are matched to this test's processes by a unique
// path in their command lines.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("end-to-end test needs root to load the collector's eBPF probe")
	}
	natsCLI := findNATSCLI(t)
	url, _ := bustest.RunServer(t)
	bin := t.TempDir()
	evaluator := evaluatorBinary(t)
	collector := build(t, "../collector", filepath.Join(bin, "collector"))

	ctx, cancel := context.WithTimeout(context.Background(), e2eLimit+time.Minute)
	defer cancel()
	// On a plain host with no enricher the evaluator reads events.raw.>.
	evalAddr := start(t, ctx, "evaluator", evaluator, "run", "--nats-url", url, "--input", "events.raw.>",
		"-r", stableRules, "--metrics-addr", "127.0.0.1:0", "--hostname", "e2e")
	waitReady(t, evalAddr)
	node := fmt.Sprintf("e2e-%d", os.Getpid())
	collAddr := start(t, ctx, "collector", collector, "--nats-url", url, "--node", node, "--metrics-addr", "127.0.0.1:0")
	waitReady(t, collAddr)
	readyAt := time.Now()

	alerts := subscribe(t, ctx, natsCLI, url)

	work := t.TempDir() // unique per run: every command line below names it
	shm := filepath.Join("/dev/shm", "peregrine-e2e-"+filepath.Base(work))
	copyFile(t, "/usr/bin/true", shm)
	t.Cleanup(func() { os.Remove(shm) })
	link := filepath.Join(work, "shadow-link")
	missing := filepath.Join(work, "missing")

	type trigger struct {
		rule string
		cmd  []string
		// mine tells this test's alert from the rest of the machine's.
		mine func(a schema.Alert) bool
	}
	field := func(a schema.Alert, k string) string { s, _ := a.OutputFields[k].(string); return s }
	triggers := []trigger{
		{"Read sensitive file untrusted", []string{"sh", "-c", "cat /etc/shadow " + missing + " > /dev/null 2>&1; true"},
			func(a schema.Alert) bool { return strings.Contains(field(a, "proc.cmdline"), missing) }},
		{"Search Private Keys or Passwords", []string{"find", work, "-maxdepth", "1", "-name", "id_rsa"},
			func(a schema.Alert) bool { return strings.Contains(field(a, "proc.cmdline"), work) }},
		{"Create Symlink Over Sensitive Files", []string{"ln", "-sf", "/etc/shadow", link},
			func(a schema.Alert) bool { return field(a, "evt.arg.linkpath") == link }},
		{"Execution from /dev/shm", []string{shm},
			func(a schema.Alert) bool { return field(a, "proc.exepath") == shm }},
	}

	seen := map[string]schema.Alert{}
	others := map[string]int{} // rules of alerts that were not this test's
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("other alerts seen, by rule: %v", others)
			t.Logf("evaluator metrics:\n%s", metricsText(evalAddr, "peregrine_evaluator_"))
		}
	})
	deadline := time.After(e2eLimit)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	fire := func() {
		for _, tr := range triggers {
			if _, ok := seen[tr.rule]; !ok {
				// Errors are expected (cat of a missing file): the syscalls happen anyway.
				_ = exec.CommandContext(ctx, tr.cmd[0], tr.cmd[1:]...).Run()
			}
		}
	}
	// The probe may attach a moment after /readyz: the triggers repeat,
	// boundedly, until each alert is seen.
	fire()
	for len(seen) < len(triggers) {
		select {
		case a, ok := <-alerts:
			if !ok {
				t.Fatalf("nats sub ended; seen %d of %d alerts", len(seen), len(triggers))
			}
			mine := false
			for _, tr := range triggers {
				if a.alert.Rule == tr.rule && tr.mine(a.alert) {
					mine = true
					if want := schema.AlertSubject(a.alert.Priority, tr.rule); a.subject != want {
						t.Errorf("%s: subject %s, want %s", tr.rule, a.subject, want)
					}
					seen[tr.rule] = a.alert
				}
			}
			if !mine {
				others[a.alert.Rule]++
			}
		case <-tick.C:
			fire()
		case <-deadline:
			var missingRules []string
			for _, tr := range triggers {
				if _, ok := seen[tr.rule]; !ok {
					missingRules = append(missingRules, tr.rule)
				}
			}
			t.Fatalf("no alert within %v for %q", e2eLimit, missingRules)
		}
	}
	t.Logf("all %d alerts seen %v after the collector was ready", len(triggers), time.Since(readyAt).Round(time.Millisecond))
	for rule, a := range seen {
		if a.Hostname != "e2e" || a.Source != "syscall" || a.Output == "" || a.Time.IsZero() {
			t.Errorf("%s: alert %+v lacks hostname, source, output or time", rule, a)
		}
	}
}

// findNATSCLI returns the nats CLI from PATH or GOPATH/bin, or skips.
func findNATSCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "nats")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("nats CLI not found on PATH or in $(go env GOPATH)/bin: go install github.com/nats-io/natscli/nats@v0.5.0")
	return ""
}

var evalBin struct {
	once sync.Once
	path string
	err  error
}

// evaluatorBinary builds this command once per test run.
func evaluatorBinary(t *testing.T) string {
	t.Helper()
	evalBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "evaluator-test-")
		if err != nil {
			evalBin.err = err
			return
		}
		evalBin.path = filepath.Join(dir, "evaluator")
		cmd := exec.Command("go", "build", "-o", evalBin.path, ".")
		if b, err := cmd.CombinedOutput(); err != nil {
			evalBin.err = fmt.Errorf("go build: %v\n%s", err, b)
		}
	})
	if evalBin.err != nil {
		t.Fatal(evalBin.err)
	}
	return evalBin.path
}

func build(t *testing.T, dir, out string) string {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, b)
	}
	return out
}

var listenLine = regexp.MustCompile(`listening.*?"?addr"?[=:]"?([0-9.]+:[0-9]+)`)

// start runs a service binary until the test ends and returns the
// telemetry address it logs. Its log is kept and shown on failure.
func start(t *testing.T, ctx context.Context, name, path string, args ...string) string {
	t.Helper()
	_, addr := startProc(t, ctx, name, path, args...)
	return addr
}

// startProc is start that also returns the process, to signal it.
func startProc(t *testing.T, ctx context.Context, name, path string, args ...string) (*os.Process, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	addr := make(chan string, 1)
	var mu sync.Mutex
	var logs strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			if logs.Len() < 1<<20 {
				logs.WriteString(line + "\n")
			}
			mu.Unlock()
			if m := listenLine.FindStringSubmatch(line); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		<-logDone
		if t.Failed() {
			mu.Lock()
			t.Logf("%s log:\n%s", name, logs.String())
			mu.Unlock()
		}
	})
	select {
	case a := <-addr:
		return cmd.Process, a
	case <-logDone:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s exited before listening:\n%s", name, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not log its telemetry address within 30s", name)
	}
	return nil, ""
}

// waitReady polls /readyz until it answers 200, for at most 60s.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = strings.TrimSpace(string(body))
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s/readyz not ready within 60s: %s", addr, last)
}

// metricsText returns the lines of addr's /metrics that start with prefix.
func metricsText(addr, prefix string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, prefix) && !strings.Contains(l, "_bucket") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// subAlert is one alert printed by nats sub, with its subject.
type subAlert struct {
	subject string
	alert   schema.Alert
}

var receivedOn = regexp.MustCompile(`Received on "([^"]+)"`)

// subscribe runs `nats sub 'alerts.>'` and sends each alert it prints
// with its subject. The CLI prints a "[#n] Received on "SUBJECT"" line,
// the headers, then the payload, which is the alert's one JSON line.
func subscribe(t *testing.T, ctx context.Context, cli, url string) <-chan subAlert {
	t.Helper()
	cmd := exec.CommandContext(ctx, cli, "--server", url, "sub", "alerts.>")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("nats sub: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ch := make(chan subAlert, 1024)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		subject := ""
		for sc.Scan() {
			line := sc.Bytes()
			if m := receivedOn.FindSubmatch(line); m != nil {
				subject = string(m[1])
				continue
			}
			var a schema.Alert
			if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &a) != nil {
				continue // headers, blank lines
			}
			select {
			case ch <- subAlert{subject: subject, alert: a}:
			default: // the machine is noisy; the test only needs its own
			}
			subject = ""
		}
	}()
	return ch
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatalf("copy %s to %s: %v", from, to, err)
	}
}
