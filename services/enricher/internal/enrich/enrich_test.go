package enrich

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

const unknownID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestHeldBound: when the held-events bound is reached, the held batch
// goes out without waiting out its hold time and the next Submit gets in.
func TestHeldBound(t *testing.T) {
	r := newRig(t, nil, nil, Config{Hold: time.Hour, MaxHeld: 10})
	out := make(chan *schema.Batch, 4)
	emit := func(b *schema.Batch) { out <- b }
	p := schema.Process{Pid: 1, Cgroup: "/docker/" + unknownID}
	ctx := context.Background()
	if err := r.e.Submit(ctx, batch("n", 1, p, 8), emit); err != nil {
		t.Fatal(err)
	}
	submitted := make(chan error, 1)
	go func() { submitted <- r.e.Submit(ctx, batch("n", 2, p, 8), emit) }()
	// With a one-hour hold, batch 1 can only come out because Submit 2
	// was blocked on the bound.
	select {
	case b := <-out:
		if b.Seq != 1 {
			t.Fatalf("batch %d out, want 1", b.Seq)
		}
		if c := b.Container(unknownID); c == nil || !c.Incomplete {
			t.Fatalf("container %+v, want incomplete", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("batch 1 held past the bound")
	}
	select {
	case err := <-submitted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Submit 2 still blocked after batch 1 went out")
	}
	// Batch 2 fits the bound and rightly waits for its metadata.
}

// TestSubmitCanceled: a Submit blocked on the bound returns ctx's error.
func TestSubmitCanceled(t *testing.T) {
	r := newRig(t, nil, nil, Config{Hold: time.Hour, MaxHeld: 10})
	// The first emit blocks, so the node's second batch stays held.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	p := schema.Process{Pid: 1, Cgroup: "/docker/" + unknownID}
	ctx := context.Background()
	if err := r.e.Submit(ctx, batch("n", 1, p, 8), func(*schema.Batch) { <-release }); err != nil {
		t.Fatal(err)
	}
	if err := r.e.Submit(ctx, batch("n", 2, p, 8), func(*schema.Batch) {}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.e.Submit(cctx, batch("n", 3, p, 8), func(*schema.Batch) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit = %v, want context.Canceled", err)
	}
}
