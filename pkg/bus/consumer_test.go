package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func newConsumer(t testing.TB, conn *Conn, stream string, cfg jetstream.ConsumerConfig, stage string, opts ...ConsumerOption) *Consumer {
	t.Helper()
	c, err := NewConsumer(conn, stream, cfg, stage, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runConsumer runs c in the background; stop cancels it and returns Run's
// error.
func runConsumer(t testing.TB, c *Consumer, batchSize int, h Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, batchSize, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// TestConsumerBatchesAndAcks drains a work queue in batches and checks each
// message is handed over once, in batches no larger than asked, and that
// the acks empty the queue.
func TestConsumerBatchesAndAcks(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	const total, batchSize = 1000, 64
	env.publishSync(t, schema.RawSubject("node-a"), total, "m")

	var mu sync.Mutex
	seen := map[string]int{}
	var sizes []int
	all := make(chan struct{})
	c := newConsumer(t, env.conn, schema.StreamRaw, jetstream.ConsumerConfig{}, "enricher")
	stop := runConsumer(t, c, batchSize, func(_ context.Context, batch []*Msg) error {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(batch))
		for _, m := range batch {
			seen[string(m.Data)]++
		}
		if len(seen) == total {
			close(all)
		}
		return nil
	})
	select {
	case <-all:
	case <-testContext(t).Done():
		t.Fatal("not every message arrived")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	env.waitStreamMsgs(t, schema.StreamRaw, 0)

	mu.Lock()
	defer mu.Unlock()
	for k := range total {
		if n := seen[fmt.Sprintf("m-%d", k)]; n != 1 {
			t.Errorf("message m-%d handled %d times, want once", k, n)
		}
	}
	big := 0
	for _, n := range sizes {
		if n > batchSize || n < 1 {
			t.Errorf("batch of %d, want 1..%d", n, batchSize)
		}
		if n > 1 {
			big++
		}
	}
	// The queue was full before Run started, so batches must have formed.
	if big == 0 {
		t.Errorf("all %d batches had one message", len(sizes))
	}
	if s := c.Stats(); s.Acked != total || s.Batches != uint64(len(sizes)) {
		t.Errorf("stats %+v, want %d acked in %d batches", s, total, len(sizes))
	}
	info, err := env.conn.JS.Consumer(testContext(t), schema.StreamRaw, "enricher")
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.CachedInfo().Config
	if want := DefaultWorkers * 3 * batchSize; cfg.MaxAckPending != want || cfg.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("consumer config: max ack pending %d, ack %v; want %d, explicit", cfg.MaxAckPending, cfg.AckPolicy, want)
	}
}

// TestConsumerWorkersShare runs two workers on one durable: together they
// see every message once.
func TestConsumerWorkersShare(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	const total = 500
	env.publishSync(t, schema.EnrichedSubject("node-a"), total, "m")
	var mu sync.Mutex
	seen := map[string]int{}
	all := make(chan struct{})
	h := func(_ context.Context, batch []*Msg) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			seen[string(m.Data)]++
		}
		if len(seen) == total {
			close(all)
		}
		return nil
	}
	for range 2 {
		c := newConsumer(t, env.conn, schema.StreamEnriched, jetstream.ConsumerConfig{}, "evaluator")
		runConsumer(t, c, 16, h)
	}
	select {
	case <-all:
	case <-testContext(t).Done():
		t.Fatal("not every message arrived")
	}
	env.waitStreamMsgs(t, schema.StreamEnriched, 0)
	mu.Lock()
	defer mu.Unlock()
	for k, n := range seen {
		if n != 1 {
			t.Errorf("message %s handled %d times, want once", k, n)
		}
	}
}

// TestConsumerHandlerErrorRedelivers fails a batch once and checks its
// messages come back, marked as redelivered, and are then acked.
func TestConsumerHandlerErrorRedelivers(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	env.publishSync(t, schema.RawSubject("n"), 3, "m")
	type delivery struct {
		Data      string
		Delivered uint64
	}
	var mu sync.Mutex
	var got []delivery
	acked := make(chan struct{})
	failed := false
	c := newConsumer(t, env.conn, schema.StreamRaw, jetstream.ConsumerConfig{}, "enricher",
		WithNakBackoff(10*time.Millisecond, 50*time.Millisecond))
	runConsumer(t, c, 10, func(_ context.Context, batch []*Msg) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			got = append(got, delivery{string(m.Data), m.Delivered()})
		}
		if !failed {
			failed = true
			return errors.New("downstream unavailable")
		}
		if len(got) == 6 {
			close(acked)
		}
		return nil
	})
	select {
	case <-acked:
	case <-testContext(t).Done():
		t.Fatal("the failed messages did not come back")
	}
	env.waitStreamMsgs(t, schema.StreamRaw, 0)
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(got, func(i, j int) bool {
		if got[i].Delivered != got[j].Delivered {
			return got[i].Delivered < got[j].Delivered
		}
		return got[i].Data < got[j].Data
	})
	want := []delivery{{"m-0", 1}, {"m-1", 1}, {"m-2", 1}, {"m-0", 2}, {"m-1", 2}, {"m-2", 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if s := c.Stats(); s.Naked != 3 || s.Acked != 3 {
		t.Errorf("stats %+v, want 3 naked, 3 acked", s)
	}
}

// TestConsumerDeadLetter sends a corrupt batch between two good ones: the
// corrupt one goes to deadletter.<stage> with its data, subject and reason,
// and the good ones are handled.
func TestConsumerDeadLetter(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	ctx := testContext(t)
	subj := schema.RawSubject("node-a")
	good1, _ := schema.Marshal(testBatch("node-a", 1, 2))
	good2, _ := schema.Marshal(testBatch("node-a", 3, 2))
	corrupt := append([]byte(nil), good1[:len(good1)/2]...)
	for k, data := range [][]byte{good1, corrupt, good2} {
		if _, err := env.conn.JS.Publish(ctx, subj, data, jetstream.WithMsgID(fmt.Sprint(k))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var seqs []uint64
	var decodeErr error
	done := make(chan struct{})
	c := newConsumer(t, env.conn, schema.StreamRaw, jetstream.ConsumerConfig{}, "enricher")
	runConsumer(t, c, 1, func(ctx context.Context, batch []*Msg) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			b, err := schema.Unmarshal(m.Data)
			if err != nil {
				decodeErr = err
				if err := m.DeadLetter(ctx, fmt.Errorf("decode batch: %w", err)); err != nil {
					return err
				}
				continue
			}
			seqs = append(seqs, b.Seq)
		}
		if len(seqs) == 2 {
			close(done)
		}
		return nil
	})
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the consumer did not go on after the corrupt message")
	}
	mu.Lock()
	if diff := cmp.Diff([]uint64{1, 3}, seqs); diff != "" {
		t.Errorf("good batches handled (-want +got):\n%s", diff)
	}
	mu.Unlock()
	env.waitStreamMsgs(t, schema.StreamRaw, 0)

	dl := readAll(t, env.conn, schema.StreamDeadLetter)
	if len(dl) != 1 {
		t.Fatalf("DEADLETTER holds %d messages, want 1", len(dl))
	}
	m := dl[0]
	if m.Subject != schema.DeadLetterSubject("enricher") {
		t.Errorf("dead letter subject %q, want %q", m.Subject, schema.DeadLetterSubject("enricher"))
	}
	if !cmp.Equal(corrupt, m.Data) {
		t.Errorf("dead letter data differs from the original")
	}
	if got := m.Header.Get(schema.HeaderOrigSubject); got != subj {
		t.Errorf("%s = %q, want %q", schema.HeaderOrigSubject, got, subj)
	}
	reason := m.Header.Get(schema.HeaderError)
	if !errors.Is(decodeErr, schema.ErrTruncated) || reason != "decode batch: "+decodeErr.Error() {
		t.Errorf("%s = %q, want the decode error %v", schema.HeaderError, reason, decodeErr)
	}
	if s := c.Stats(); s.DeadLettered != 1 || s.Acked != 2 {
		t.Errorf("stats %+v, want 1 dead-lettered, 2 acked", s)
	}
}

// TestConsumerMaxDeliverDeadLetters checks that a message its handler
// always rejects is kept as a dead letter at its last delivery.
func TestConsumerMaxDeliverDeadLetters(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	env.publishSync(t, schema.EnrichedSubject("n"), 1, "poison")
	c := newConsumer(t, env.conn, schema.StreamEnriched, jetstream.ConsumerConfig{MaxDeliver: 3}, "evaluator",
		WithNakBackoff(5*time.Millisecond, 20*time.Millisecond))
	var mu sync.Mutex
	var deliveries []uint64
	runConsumer(t, c, 4, func(_ context.Context, batch []*Msg) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			deliveries = append(deliveries, m.Delivered())
		}
		return errors.New("rule engine exploded")
	})
	for range 400 {
		if env.streamMsgs(t, schema.StreamDeadLetter) == 1 {
			break
		}
		waitABit()
	}
	dl := readAll(t, env.conn, schema.StreamDeadLetter)
	if len(dl) != 1 {
		t.Fatalf("DEADLETTER holds %d messages, want 1", len(dl))
	}
	if got, want := dl[0].Header.Get(schema.HeaderError), "handler failed on delivery 3 of 3: rule engine exploded"; got != want {
		t.Errorf("%s = %q, want %q", schema.HeaderError, got, want)
	}
	env.waitStreamMsgs(t, schema.StreamEnriched, 0)
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]uint64{1, 2, 3}, deliveries); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

// TestConsumerRunStops checks that Run returns nil when its context ends,
// leaves no goroutine behind, and naks what it had fetched but not handed
// over, so that another worker gets it at once.
func TestConsumerRunStops(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	env.publishSync(t, schema.RawSubject("n"), 200, "m")
	before := clientGoroutines()

	c := newConsumer(t, env.conn, schema.StreamRaw, jetstream.ConsumerConfig{}, "enricher")
	handled := make(chan struct{})
	var once sync.Once
	stop := runConsumer(t, c, 10, func(ctx context.Context, batch []*Msg) error {
		once.Do(func() { close(handled) })
		<-ctx.Done() // hold the batch until shutdown
		return ctx.Err()
	})
	<-handled
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var now []string
	for range 300 {
		if now = clientGoroutines(); len(now) <= len(before) {
			break
		}
		waitABit()
	}
	if len(now) > len(before) {
		t.Fatalf("%d client goroutines after Run returned, %d before; now:\n%s", len(now), len(before), strings.Join(now, "\n\n"))
	}
	// Every message is back for immediate redelivery: a new worker gets
	// all 200 without waiting for the ack timeout.
	var mu sync.Mutex
	seen := map[string]bool{}
	all := make(chan struct{})
	c2 := newConsumer(t, env.conn, schema.StreamRaw, jetstream.ConsumerConfig{AckWait: time.Hour}, "enricher")
	runConsumer(t, c2, 50, func(_ context.Context, batch []*Msg) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			seen[string(m.Data)] = true
		}
		if len(seen) == 200 {
			close(all)
		}
		return nil
	})
	select {
	case <-all:
	case <-testContext(t).Done():
		mu.Lock()
		t.Fatalf("a new worker saw %d of 200 messages", len(seen))
	}
}

func TestNewConsumerInvalid(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		cfg    jetstream.ConsumerConfig
		stage  string
		opts   []ConsumerOption
	}{
		{name: "no stream", stage: "x"},
		{name: "no stage", stream: "S"},
		{name: "ack none", stream: "S", stage: "x", cfg: jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy}},
		{name: "bad backoff", stream: "S", stage: "x", opts: []ConsumerOption{WithNakBackoff(time.Second, time.Millisecond)}},
		{name: "negative linger", stream: "S", stage: "x", opts: []ConsumerOption{WithLinger(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewConsumer(&Conn{}, tt.stream, tt.cfg, tt.stage, tt.opts...)
			if !errors.Is(err, ErrInvalidOption) {
				t.Errorf("got %v, want %v", err, ErrInvalidOption)
			}
			if err != nil && !strings.Contains(err.Error(), "consumer") {
				t.Errorf("error %q does not name the consumer", err)
			}
		})
	}
}

// clientGoroutines returns the stacks of the goroutines outside the
// embedded server, which starts and keeps its own per consumer.
func clientGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "nats-server/v2/server.") {
			out = append(out, g)
		}
	}
	return out
}

// errConsumerGone stands for either error of a deleted consumer.
var errConsumerGone = errors.New("consumer deleted or not found")

// TestConsumerRunEndsWhenStopped checks that Run does not hang when
// consuming stops under it: the durable is deleted, or the connection closed.
func TestConsumerRunEndsWhenStopped(t *testing.T) {
	tests := []struct {
		name    string
		stop    func(t *testing.T, env *testEnv)
		wantErr error
	}{
		{
			name: "consumer deleted",
			stop: func(t *testing.T, env *testEnv) {
				if err := env.conn.JS.DeleteConsumer(testContext(t), schema.StreamRaw, "enricher"); err != nil {
					t.Fatal(err)
				}
			},
			// Deleted with a pull request waiting, the server says so;
			// between two, Run finds out when heartbeats stop.
			wantErr: errConsumerGone,
		},
		{
			name:    "connection closed",
			stop:    func(_ *testing.T, env *testEnv) { env.conn.Close() },
			wantErr: nats.ErrConnectionClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			env.ensureStreams(t)
			env.publishSync(t, schema.RawSubject("n"), 1, "m")
			c := newConsumer(t, env.conn, schema.StreamRaw, jetstream.ConsumerConfig{}, "enricher", WithPullExpiry(time.Second))
			handled := make(chan struct{}, 1)
			done := make(chan error, 1)
			go func() {
				done <- c.Run(testContext(t), 1, func(context.Context, []*Msg) error {
					handled <- struct{}{}
					return nil
				})
			}()
			<-handled
			tt.stop(t, env)
			select {
			case err := <-done:
				if !errors.Is(err, tt.wantErr) && !(tt.wantErr == errConsumerGone &&
					(errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound))) {
					t.Errorf("Run: got %v, want %v", err, tt.wantErr)
				}
			case <-testContext(t).Done():
				t.Fatal("Run did not return")
			}
		})
	}
}
