package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/natstest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/webhooktest"
)

// binDir holds the notifier binary built for this test run.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildNotifier builds the notifier binary once per test binary run.
var buildNotifier = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "notifier-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "notifier")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/peregrine-rt/peregrine/services/notifier").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startProcess runs the built notifier as a subprocess.
func startProcess(t *testing.T, natsURL, cfg string) (*exec.Cmd, *logBuffer) {
	t.Helper()
	bin, err := buildNotifier()
	if err != nil {
		t.Fatal(err)
	}
	log := &logBuffer{}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--config", cfg)
	cmd.Env = append(os.Environ(), "NATS_URL="+natsURL)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	log.waitReady(t, exited)
	return cmd, log
}

func TestKill9LosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the notifier binary")
	}
	s := natstest.Server(t, "")
	_, js := natstest.Connect(t, s)
	recv := webhooktest.New(t)
	cfg := writeConfig(t, "webhook:\n  address: "+recv.URL+"\n  ackwait: 1s\n  sendtimeout: 900ms\n  backoff: 10ms\n")
	first, log := startProcess(t, s.ClientURL(), cfg)

	const n = 300
	want := make([]string, n)
	published := make(chan error, 1)
	go func() {
		for i := range n {
			want[i] = fmt.Sprintf("kill-%03d", i)
			a := &schema.Alert{Rule: "Terminal shell in container", Priority: schema.PriorityNotice, Source: "syscall",
				Time: time.Unix(1764621116, int64(i)).UTC(), Output: fmt.Sprintf("shell %d", i), OutputFields: map[string]any{}}
			b, _ := json.Marshal(a)
			m := &nats.Msg{Subject: schema.AlertSubject(a.Priority, a.Rule), Data: b, Header: nats.Header{}}
			m.Header.Set(schema.HeaderMsgID, want[i])
			if _, err := js.PublishMsg(context.Background(), m); err != nil {
				published <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
		published <- nil
	}()

	// Kill mid-stream, once a third has arrived.
	recv.WaitFor(n/3, 60*time.Second)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	killedAt := len(recv.Got())
	startProcess(t, s.ClientURL(), cfg)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	got := recv.WaitFor(n, 60*time.Second)
	gotIDs := make([]string, len(got))
	for i, g := range got {
		gotIDs[i] = g.ID
	}
	if diff := cmp.Diff(want, gotIDs); diff != "" {
		t.Fatalf("received after kill -9 at %d (-want +got):\n%s\nfirst log:\n%s", killedAt, diff, log.String())
	}
	requests, _, dups := recv.Stats()
	t.Logf("killed after %d alerts; %d requests, %d duplicates dropped by the receiver's X-Alert-Id check", killedAt, requests, dups)
}
