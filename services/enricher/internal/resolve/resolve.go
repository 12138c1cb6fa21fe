// Package resolve caches container metadata from the container runtimes.
// A miss starts one lookup per container (never one per event) that
// retries for a while, since a process can run before its runtime has
// recorded the container; runtime events prefetch new containers and
// invalidate changed ones.
package resolve

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/peregrine-rt/peregrine/services/enricher/internal/cgroup"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/source"
)

// Runtime is one container runtime client (docker.Client, cri.Client).
type Runtime interface {
	Name() string
	Ping(ctx context.Context) error
	Inspect(ctx context.Context, id string) (source.Info, error)
	Watch(ctx context.Context, fn func(source.Event)) error
}

// Config tunes a [Resolver]. Zero fields take the defaults.
type Config struct {
	// Retry is how long a lookup keeps asking for a container the
	// runtimes do not know yet (default 500ms).
	Retry time.Duration
	// Negative is how long a container no runtime knows is not asked
	// about again (default 2s), unless a runtime event names it.
	Negative time.Duration
	// Grace keeps a deleted container's metadata for events still in
	// flight (default 60s).
	Grace time.Duration
	// MaxEntries bounds the cache (default 65536).
	MaxEntries int
}

func (c *Config) defaults() {
	if c.Retry <= 0 {
		c.Retry = 500 * time.Millisecond
	}
	if c.Negative <= 0 {
		c.Negative = 2 * time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 60 * time.Second
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 65536
	}
}

type entry struct {
	info      source.Info
	found     bool
	loading   bool
	gen       uint64    // bumped by invalidation, so a stale lookup does not win
	retryAt   time.Time // negative entries: when to ask again
	deletedAt time.Time
	hint      string
}

// Resolver is the metadata cache. Safe for concurrent use.
type Resolver struct {
	cfg      Config
	runtimes []Runtime
	m        *metrics.Metrics
	log      *slog.Logger

	mu      sync.Mutex
	entries map[string]*entry
	changed chan struct{} // closed and replaced whenever an entry resolves
	wg      sync.WaitGroup
	// ctx is the lookups' parent, ended when Run ends, so lookups started
	// before Run (or after it) cannot outlive it.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a resolver asking runtimes in order (a cgroup hint moves a
// runtime of that kind first).
func New(runtimes []Runtime, cfg Config, m *metrics.Metrics, log *slog.Logger) *Resolver {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Resolver{
		cancel: cancel,
		cfg:    cfg, runtimes: runtimes, m: m, log: log,
		entries: make(map[string]*entry),
		changed: make(chan struct{}),
		ctx:     ctx,
	}
}

// Changed returns a channel closed at the next resolution of any lookup.
func (r *Resolver) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Lookup returns the metadata of the container ref names and whether it
// is known. When it is not, it starts a lookup unless one is under way or
// the container was recently not found; [Resolver.Changed] signals its end.
func (r *Resolver) Lookup(ref cgroup.Ref) (source.Info, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[ref.ID]
	if e != nil && e.found {
		r.m.CacheHits.Inc()
		return e.info, true
	}
	r.m.CacheMisses.Inc()
	if e == nil {
		if len(r.entries) >= r.cfg.MaxEntries {
			r.shrinkLocked()
		}
		e = &entry{hint: ref.Runtime}
		r.entries[ref.ID] = e
	}
	if !e.loading && time.Now().After(e.retryAt) {
		r.startLocked(ref.ID, e)
	}
	return source.Info{}, false
}

// Pending reports whether a lookup of id is under way.
func (r *Resolver) Pending(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	return e != nil && e.loading
}

func (r *Resolver) startLocked(id string, e *entry) {
	e.loading = true
	gen := e.gen
	r.wg.Add(1)
	go r.load(r.ctx, id, e.hint, gen)
}

// load asks the runtimes until one knows id or cfg.Retry has passed.
func (r *Resolver) load(ctx context.Context, id, hint string, gen uint64) {
	defer r.wg.Done()
	deadline := time.Now().Add(r.cfg.Retry)
	wait := 10 * time.Millisecond
	var info source.Info
	found := false
	for {
		info, found = r.ask(ctx, id, hint)
		if found || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(wait*2, 100*time.Millisecond)
	}
	r.mu.Lock()
	if e := r.entries[id]; e != nil && e.gen == gen {
		e.loading = false
		if found {
			e.info, e.found = info, true
		} else {
			e.retryAt = time.Now().Add(r.cfg.Negative)
		}
	} else if e != nil && e.gen != gen {
		// Invalidated while loading: ask again with the new generation.
		e.loading = false
		r.startLocked(id, e)
	}
	r.m.ContainersSeen.Set(float64(len(r.entries)))
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *Resolver) ask(ctx context.Context, id, hint string) (source.Info, bool) {
	for _, rt := range r.ordered(hint) {
		info, err := rt.Inspect(ctx, id)
		switch {
		case err == nil:
			r.m.Lookups.WithLabelValues(rt.Name(), "found").Inc()
			return info, true
		case errors.Is(err, source.ErrNotFound):
			r.m.Lookups.WithLabelValues(rt.Name(), "not_found").Inc()
		default:
			r.m.Lookups.WithLabelValues(rt.Name(), "error").Inc()
			r.m.RuntimeErrors.WithLabelValues(rt.Name()).Inc()
		}
	}
	return source.Info{}, false
}

// ordered puts the runtimes of the hinted kind first.
func (r *Resolver) ordered(hint string) []Runtime {
	if hint == "" || hint == cgroup.CRI || len(r.runtimes) < 2 {
		return r.runtimes
	}
	out := make([]Runtime, 0, len(r.runtimes))
	var rest []Runtime
	for _, rt := range r.runtimes {
		if kindOf(rt) == hint {
			out = append(out, rt)
		} else {
			rest = append(rest, rt)
		}
	}
	return append(out, rest...)
}

func kindOf(rt Runtime) string {
	n := rt.Name()
	switch {
	case len(n) >= 6 && n[:6] == "docker":
		return cgroup.Docker
	case len(n) >= 6 && n[:6] == "podman":
		return cgroup.Podman
	case containsAny(n, "crio", "cri-o"):
		return cgroup.CRIO
	case containsAny(n, "containerd"):
		return cgroup.Containerd
	}
	return ""
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
	}
	return false
}

// shrinkLocked makes room: first containers nobody found, then deleted
// ones, then any.
func (r *Resolver) shrinkLocked() {
	target := r.cfg.MaxEntries * 7 / 8
	for _, pass := range []func(*entry) bool{
		func(e *entry) bool { return !e.found && !e.loading },
		func(e *entry) bool { return !e.deletedAt.IsZero() },
		func(e *entry) bool { return !e.loading },
	} {
		for id, e := range r.entries {
			if len(r.entries) <= target {
				return
			}
			if pass(e) {
				delete(r.entries, id)
			}
		}
	}
}

// event applies one runtime lifecycle change.
func (r *Resolver) event(ev source.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[ev.ID]
	switch ev.Kind {
	case source.Created, source.Started, source.Changed:
		if e == nil {
			if len(r.entries) >= r.cfg.MaxEntries {
				r.shrinkLocked()
			}
			e = &entry{}
			r.entries[ev.ID] = e
		}
		// Started changes what create reported (start time, IP): ask
		// again, keeping the old answer meanwhile.
		e.gen++
		e.retryAt = time.Time{}
		e.deletedAt = time.Time{}
		if !e.loading {
			r.startLocked(ev.ID, e)
		}
	case source.Deleted:
		if e != nil {
			e.deletedAt = time.Now()
		}
	}
}

// Run watches every runtime until ctx ends, reconnecting to each with
// backoff, and evicts deleted containers after the grace period. It logs
// once when a runtime goes away and once when it is back. It returns
// ctx's error after the lookups it started have finished.
func (r *Resolver) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, rt := range r.runtimes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.watch(ctx, rt)
		}()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.cancel()
			wg.Wait()
			r.wg.Wait()
			return ctx.Err()
		case now := <-t.C:
			r.evict(now)
		}
	}
}

func (r *Resolver) evict(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, e := range r.entries {
		if !e.deletedAt.IsZero() && now.Sub(e.deletedAt) > r.cfg.Grace && !e.loading {
			delete(r.entries, id)
		}
		if !e.found && !e.loading && !e.retryAt.IsZero() && now.Sub(e.retryAt) > r.cfg.Grace {
			delete(r.entries, id)
		}
	}
	r.m.ContainersSeen.Set(float64(len(r.entries)))
}

func (r *Resolver) watch(ctx context.Context, rt Runtime) {
	up := true // assume up, so the first failure is logged
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := rt.Ping(ctx)
		if err == nil {
			if !up {
				r.log.Info("container runtime available again", "runtime", rt.Name())
				r.forgetNegatives()
			}
			up = true
			backoff = 250 * time.Millisecond
			r.m.RuntimeUp.WithLabelValues(rt.Name()).Set(1)
			err = rt.Watch(ctx, r.event)
		}
		if ctx.Err() != nil {
			return
		}
		if up {
			r.log.Warn("container runtime unavailable; enriching with what is known", "runtime", rt.Name(), "err", err)
			r.m.RuntimeErrors.WithLabelValues(rt.Name()).Inc()
		}
		up = false
		r.m.RuntimeUp.WithLabelValues(rt.Name()).Set(0)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(backoff*2, 5*time.Second)
	}
}

// forgetNegatives lets containers not found while a runtime was away be
// asked about again at once.
func (r *Resolver) forgetNegatives() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if !e.found {
			e.retryAt = time.Time{}
		}
	}
}

// Peek returns the cached metadata of id without starting a lookup or
// counting a cache access.
func (r *Resolver) Peek(id string) (source.Info, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[id]; e != nil && e.found {
		return e.info, true
	}
	return source.Info{}, false
}
