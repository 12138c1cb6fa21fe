package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// logBuffer collects a notifier's log and finds its HTTP address.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var readyRE = regexp.MustCompile(`msg="notifier ready" .*\baddr=(\S+)`)

// waitReady waits (bounded) for the ready line and returns the address.
func (b *logBuffer) waitReady(t *testing.T, exited <-chan struct{}) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := readyRE.FindStringSubmatch(b.String()); m != nil {
			return m[1]
		}
		select {
		case <-exited:
			t.Fatalf("notifier exited before ready:\n%s", b.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("notifier not ready in 60s:\n%s", b.String())
	return ""
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runMain runs Main in-process until the test ends and returns the HTTP
// address, its stdout and its log.
func runMain(t *testing.T, natsURL string, args ...string) (addr string, stdout, log *logBuffer) {
	t.Helper()
	stdout, log = &logBuffer{}, &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	getenv := func(k string) string {
		if k == "NATS_URL" {
			return natsURL
		}
		return ""
	}
	t.Setenv("NATS_URL", natsURL)
	go func() {
		defer close(exited)
		if err := Main(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), Env{Stdout: stdout, Stderr: log, Getenv: getenv}); err != nil {
			t.Errorf("Main: %v\n%s", err, log.String())
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return log.waitReady(t, exited), stdout, log
}
