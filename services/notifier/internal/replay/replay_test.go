package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/delivery"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/natstest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/file"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/webhook"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/webhooktest"
)

func run(t *testing.T, js jetstream.JetStream, out output.Output) {
	t.Helper()
	o := delivery.DefaultOptions()
	o.MaxDeliver, o.Backoff, o.MaxBackoff = 2, 5*time.Millisecond, 10*time.Millisecond
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	r := delivery.New(js, out, o, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func newOutput(t *testing.T, key, doc string, newFn func(*output.Config, output.Env) (output.Output, error)) output.Output {
	t.Helper()
	cfg, err := output.ParseConfig(key, "test.yaml", doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := newFn(cfg, output.Env{HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func lines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

func TestReplayGoesToThatOutputOnly(t *testing.T) {
	s := natstest.Server(t, "")
	_, js := natstest.Connect(t, s)
	ctx := context.Background()
	for _, cfg := range []jetstream.StreamConfig{bus.AlertsStream(bus.StreamLimits{}), bus.DeadLetterStream(bus.StreamLimits{})} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	recv := webhooktest.New(t)
	recv.FailNext(-1, http.StatusBadGateway)
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	run(t, js, newOutput(t, "webhook", "webhook:\n  address: "+recv.URL+"\n", webhook.New))
	run(t, js, newOutput(t, "file", "file:\n  outputfile: "+path+"\n", file.New))

	const n = 5
	var want []string
	for i := range n {
		id := fmt.Sprintf("r-%d", i)
		want = append(want, id)
		a := &schema.Alert{Rule: "Write below etc", Priority: schema.PriorityError, Time: time.Unix(1764621116, int64(i)).UTC(), OutputFields: map[string]any{}}
		b, _ := json.Marshal(a)
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: schema.AlertSubject(a.Priority, a.Rule), Data: b,
			Header: nats.Header{schema.HeaderMsgID: []string{id}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the webhook gave up on all of them.
	dl, err := js.Stream(ctx, schema.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		info, err := dl.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters after 30s, want %d", info.State.Msgs, n)
		}
	}
	recv.Recover()
	got, err := Run(ctx, js, "webhook", Options{})
	if err != nil || got != n {
		t.Fatalf("Run = %d, %v; want %d", got, err, n)
	}
	received := recv.WaitFor(n, 30*time.Second)
	ids := make([]string, len(received))
	for i, r := range received {
		ids[i] = r.ID
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("replayed ids at the webhook (-want +got):\n%s", diff)
	}
	info, err := dl.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d dead letters left after replay", info.State.Msgs)
	}
	// The file output had each alert once and ignored the replays. Its
	// consumer has seen the replays once the webhook got them, but give
	// it a moment to write the last line.
	for deadline := time.Now().Add(10 * time.Second); lines(t, path) < n && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	ainfo, err := js.Consumer(ctx, schema.StreamAlerts, delivery.ConsumerName("file"))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ci, err := ainfo.Info(ctx)
		if err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 {
			break
		}
	}
	if got := lines(t, path); got != n {
		t.Errorf("file output has %d lines, want %d (replays must not reach it)", got, n)
	}
	// Nothing left: a second replay does nothing.
	if got, err := Run(ctx, js, "webhook", Options{}); err != nil || got != 0 {
		t.Errorf("second Run = %d, %v; want 0", got, err)
	}
}
