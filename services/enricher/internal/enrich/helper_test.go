package enrich

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
)

// rig is an enricher over real runtimes with its resolver running.
type rig struct {
	e   *Enricher
	res *resolve.Resolver
	m   *metrics.Metrics
}

func newRig(t testing.TB, runtimes []resolve.Runtime, pods Pods, cfg Config) *rig {
	t.Helper()
	m := metrics.New(nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	res := resolve.New(runtimes, resolve.Config{Retry: cfg.Hold}, m, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = res.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &rig{e: New(res, pods, m, cfg), res: res, m: m}
}

// enrich submits b and waits for it to come out.
func (r *rig) enrich(t testing.TB, b *schema.Batch) *schema.Batch {
	t.Helper()
	out := make(chan *schema.Batch, 1)
	if err := r.e.Submit(context.Background(), b, func(b *schema.Batch) { out <- b }); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-out:
		return b
	case <-time.After(30 * time.Second):
		t.Fatal("batch not emitted within 30s")
		return nil
	}
}

// batch is a batch of n openat events of one process.
func batch(node string, seq uint64, p schema.Process, n int) *schema.Batch {
	b := &schema.Batch{Node: node, BootID: "boot", Seq: seq, Procs: []schema.Process{p}}
	for i := range n {
		b.Events = append(b.Events, schema.Event{Num: uint64(i), Ts: time.Now().UnixNano(), Type: schema.EventOpenat, Proc: 0, Tid: p.Pid,
			Res: 3, Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/etc/shadow"), schema.IntArg(0), schema.IntArg(0)}})
	}
	return b
}
