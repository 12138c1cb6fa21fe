package collector

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// waitLimit bounds every wait for an event: tests fail, not hang, when an
// event never comes. No assertion depends on how fast it comes.
const waitLimit = 60 * time.Second

func skipUnlessRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load the eBPF probe")
	}
}

// sink keeps every record the collector batches.
type sink struct {
	mu   sync.Mutex
	recs []schema.Record
	cond *sync.Cond
}

func newSink() *sink {
	s := &sink{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *sink) onBatch(b *schema.Batch) {
	recs := b.Records()
	s.mu.Lock()
	s.recs = append(s.recs, recs...)
	s.mu.Unlock()
	s.cond.Broadcast()
}

// wait returns the first record matching f, failing after waitLimit.
func (s *sink) wait(t testing.TB, what string, f func(*schema.Record) bool) schema.Record {
	t.Helper()
	_, r := s.waitIndex(t, what, f)
	return r
}

// waitIndex is wait that also returns the record's place in the stream.
func (s *sink) waitIndex(t testing.TB, what string, f func(*schema.Record) bool) (int, schema.Record) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	timer := time.AfterFunc(waitLimit, s.cond.Broadcast)
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; ; {
		for ; i < len(s.recs); i++ {
			if f(&s.recs[i]) {
				return i, s.recs[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event within %v (%d records seen)", what, waitLimit, len(s.recs))
		}
		s.cond.Wait()
	}
}

// startCollector runs a collector for the test and waits until it is
// attached and seeded.
func startCollector(t testing.TB, cfg Config) (*Collector, *sink) {
	t.Helper()
	skipUnlessRoot(t)
	s := newSink()
	if cfg.OnBatch == nil {
		cfg.OnBatch = s.onBatch
	}
	if cfg.Node == "" {
		cfg.Node = fmt.Sprintf("test-%d", time.Now().UnixNano())
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 20 * time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("collector: %v", err)
		}
	})
	select {
	case <-c.Ready():
	case err := <-errc:
		t.Fatalf("collector: %v", err)
	}
	return c, s
}

func argStr(r *schema.Record, name string) (string, bool) {
	i := r.Event.Type.Param(name)
	a, ok := r.Event.Arg(i)
	if !ok || i < 0 {
		return "", false
	}
	return a.Str, true
}

func argInt(r *schema.Record, name string) (int64, bool) {
	i := r.Event.Type.Param(name)
	a, ok := r.Event.Arg(i)
	if !ok || i < 0 {
		return 0, false
	}
	return a.Int, true
}

func isExit(r *schema.Record) bool { return r.Event.Flags&schema.FlagEnter == 0 }

// checkNoGoroutineLeak fails the test when goroutines started during it
// are still running once its other cleanups (the collector's) have run.
// Call it before startCollector: cleanups run last-registered first.
func checkNoGoroutineLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines after stop, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
	})
}
