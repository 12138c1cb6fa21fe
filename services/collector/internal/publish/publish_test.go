package publish

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// blocked is a sender whose window never frees, as while NATS is away.
type blocked struct{}

func (blocked) Publish(ctx context.Context, _ string, _ []byte, _ string, _ nats.Header) error {
	<-ctx.Done()
	return ctx.Err()
}

type recorder struct {
	mu  sync.Mutex
	ids []string
	got chan struct{}
}

func (r *recorder) Publish(_ context.Context, subject string, data []byte, id string, hdr nats.Header) error {
	if _, err := schema.Unmarshal(data); err != nil {
		return err
	}
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	r.got <- struct{}{}
	return nil
}

func batch(seq uint64, n int) *schema.Batch {
	b := &schema.Batch{Version: schema.Version, Node: "n", BootID: "b", Seq: seq}
	for i := 0; i < n; i++ {
		b.Events = append(b.Events, schema.Event{Type: schema.EventClose, Proc: -1, Args: []schema.Arg{{Int: 3}}})
	}
	return b
}

func TestQueueBoundNeverBlocks(t *testing.T) {
	q, err := New(Options{Subject: "events.raw.n", MaxEvents: 10})
	if err != nil {
		t.Fatal(err)
	}
	q.SetSender(blocked{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- q.Run(ctx) }()
	accepted := 0
	for i := 0; i < 100; i++ {
		if q.Enqueue(batch(uint64(i), 4)) {
			accepted++
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
	st := q.Stats()
	if accepted == 0 || st.DroppedBatches != uint64(100-accepted) || st.DroppedEvents != 4*st.DroppedBatches {
		t.Errorf("accepted %d, stats %+v", accepted, st)
	}
}

func TestQueuePublishesWithBatchID(t *testing.T) {
	q, err := New(Options{Subject: "events.raw.n"})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{got: make(chan struct{}, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	q.Enqueue(batch(1, 2)) // queued before the sender exists
	q.SetSender(r)
	q.Enqueue(batch(2, 2))
	<-r.got
	<-r.got
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) != 2 || r.ids[0] != "n-b-1" || r.ids[1] != "n-b-2" {
		t.Errorf("ids %q", r.ids)
	}
	if _, err := New(Options{}); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("empty subject: %v", err)
	}
}
