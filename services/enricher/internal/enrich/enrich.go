// Package enrich adds container and pod metadata to event batches. A batch
// whose containers are not all known yet is held, for a bounded time and
// a bounded number of events, while the resolver asks the runtimes; then
// it goes out with what is known, marked Incomplete where metadata is
// missing. Batches of one node leave in the order they came.
package enrich

import (
	"context"
	"sync"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/cgroup"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/source"
)

// Pods answers Kubernetes lookups (kube.Index); nil when Kubernetes is off.
type Pods interface {
	Pod(containerID, podUID string) (*schema.Pod, bool)
}

// Config tunes an [Enricher]. Zero fields take the defaults.
type Config struct {
	// Hold bounds how long a batch waits for unknown containers
	// (default 500ms; negative: never wait).
	Hold time.Duration
	// MaxHeld bounds the events held at once (default 100000). Past it
	// batches go out without waiting and Submit blocks.
	MaxHeld int
}

// Enricher enriches batches. Safe for concurrent use.
type Enricher struct {
	cfg  Config
	res  *resolve.Resolver
	pods Pods
	m    *metrics.Metrics

	mu   sync.Mutex
	cond *sync.Cond // signalled when held drops
	held int
	// blocked counts Submit calls waiting for room; while any waits, held
	// batches go out without waiting for their metadata.
	blocked int
	nodes   map[string]*queue
}

type item struct {
	b       *schema.Batch
	refs    []cgroup.Ref // distinct containers of the batch
	arrived time.Time
	emit    func(*schema.Batch)
}

type queue struct {
	items []*item
}

// New returns an enricher over res; pods may be nil.
func New(res *resolve.Resolver, pods Pods, m *metrics.Metrics, cfg Config) *Enricher {
	if cfg.Hold == 0 {
		cfg.Hold = 500 * time.Millisecond
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 100000
	}
	e := &Enricher{cfg: cfg, res: res, pods: pods, m: m, nodes: map[string]*queue{}}
	e.cond = sync.NewCond(&e.mu)
	return e
}

// Submit queues b. emit is called once, on another goroutine, with b
// enriched in place; calls for batches of one node come in Submit order.
// Submit blocks while the held-events bound is reached, and returns ctx's
// error if ctx ends meanwhile (b is then not queued).
func (e *Enricher) Submit(ctx context.Context, b *schema.Batch, emit func(*schema.Batch)) error {
	it := &item{b: b, arrived: time.Now(), emit: emit, refs: e.prepare(b)}
	// Start every lookup now, so the waits of queued batches overlap.
	for _, r := range it.refs {
		e.res.Lookup(r)
	}
	n := len(b.Events)
	e.mu.Lock()
	if e.held > 0 && e.held+n > e.cfg.MaxHeld {
		stop := context.AfterFunc(ctx, func() {
			e.mu.Lock()
			e.cond.Broadcast()
			e.mu.Unlock()
		})
		e.blocked++
		e.cond.Broadcast()
		for e.held > 0 && e.held+n > e.cfg.MaxHeld && ctx.Err() == nil {
			e.cond.Wait()
		}
		e.blocked--
		stop()
		if err := ctx.Err(); err != nil {
			e.mu.Unlock()
			return err
		}
	}
	e.held += n
	e.m.EventsHeld.Set(float64(e.held))
	q := e.nodes[b.Node]
	start := q == nil
	if start {
		q = &queue{}
		e.nodes[b.Node] = q
	}
	q.items = append(q.items, it)
	e.mu.Unlock()
	if start {
		go e.drain(b.Node, q)
	}
	return nil
}

// prepare sets each process's container id from its cgroup and returns
// the distinct containers of b.
func (e *Enricher) prepare(b *schema.Batch) []cgroup.Ref {
	var refs []cgroup.Ref
	seen := map[string]bool{}
	for i := range b.Procs {
		p := &b.Procs[i]
		r := e.refOf(p)
		if r.ID == "" {
			p.ContainerID = schema.HostContainerID
			continue
		}
		p.ContainerID = r.ID
		if !seen[r.ID] {
			seen[r.ID] = true
			refs = append(refs, r)
		}
	}
	return refs
}

func (e *Enricher) refOf(p *schema.Process) cgroup.Ref {
	r, err := cgroup.Parse(p.Cgroup)
	if err != nil {
		e.m.BadCgroups.Inc()
	}
	if err == nil && r.ID != "" {
		return r
	}
	// The collector's own parse; trust it only when it is a full id.
	if cgroup.IsID(p.ContainerID) {
		return cgroup.Ref{ID: p.ContainerID, PodUID: r.PodUID}
	}
	return cgroup.Ref{}
}

// drain emits q's batches in order until q is empty, then ends.
func (e *Enricher) drain(node string, q *queue) {
	for {
		e.mu.Lock()
		if len(q.items) == 0 {
			delete(e.nodes, node)
			e.mu.Unlock()
			return
		}
		it := q.items[0]
		e.mu.Unlock()

		e.wait(it)
		e.finish(it)

		e.mu.Lock()
		q.items = q.items[1:]
		e.held -= len(it.b.Events)
		e.m.EventsHeld.Set(float64(e.held))
		e.cond.Broadcast()
		e.mu.Unlock()
		it.emit(it.b)
	}
}

// wait returns when every container of it is known, its lookups have
// given up, its hold time is over, or too many events are held.
func (e *Enricher) wait(it *item) {
	if e.cfg.Hold < 0 {
		return
	}
	deadline := time.NewTimer(time.Until(it.arrived.Add(e.cfg.Hold)))
	defer deadline.Stop()
	// Pods show up in the informer without a resolver signal: poll.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		changed := e.res.Changed()
		if e.ready(it) || e.pressure() {
			return
		}
		select {
		case <-deadline.C:
			return
		case <-changed:
		case <-tick.C: // also notices pressure from a blocked Submit
		}
	}
}

func (e *Enricher) pressure() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held > e.cfg.MaxHeld || e.blocked > 0
}

// ready reports whether waiting longer cannot improve it.
func (e *Enricher) ready(it *item) bool {
	for _, r := range it.refs {
		info, ok := e.res.Peek(r.ID)
		if !ok {
			if e.res.Pending(r.ID) {
				return false
			}
			continue // given up: sent incomplete
		}
		if uid := podUID(r, info); e.pods != nil && uid != "" {
			if _, ok := e.pods.Pod(r.ID, uid); !ok {
				return false
			}
		}
	}
	return true
}

func podUID(r cgroup.Ref, info source.Info) string {
	if info.PodUID != "" {
		return info.PodUID
	}
	return r.PodUID
}

// finish fills it.b.Containers from what is known now.
func (e *Enricher) finish(it *item) {
	b := it.b
	b.Containers = b.Containers[:0]
	incomplete := map[string]bool{}
	for _, r := range it.refs {
		info, ok := e.res.Peek(r.ID)
		var c schema.Container
		if ok {
			c = info.Container
			c.ID = r.ID // the key processes use, whatever the runtime echoed
		} else {
			c = schema.Container{ID: r.ID, Type: typeHint(r.Runtime), Incomplete: true}
			incomplete[r.ID] = true
		}
		c.Pod = e.pod(r, info)
		b.Containers = append(b.Containers, c)
	}
	if len(incomplete) > 0 {
		n := 0
		for i := range b.Events {
			if p := b.Process(&b.Events[i]); p != nil && incomplete[p.ContainerID] {
				n++
			}
		}
		e.m.EventsNoMeta.Add(float64(n))
		// Falco's container.start_ts comes from the kernel even before
		// the runtime answers.
		for i := range b.Containers {
			c := &b.Containers[i]
			if !c.Incomplete {
				continue
			}
			for j := range b.Procs {
				if b.Procs[j].ContainerID == c.ID && b.Procs[j].PidNSInitStartTs != 0 {
					c.StartTs = b.Procs[j].PidNSInitStartTs
					break
				}
			}
		}
	}
	e.m.Batches.Inc()
	e.m.Events.Add(float64(len(b.Events)))
}

func (e *Enricher) pod(r cgroup.Ref, info source.Info) *schema.Pod {
	uid := podUID(r, info)
	if e.pods != nil {
		if p, ok := e.pods.Pod(r.ID, uid); ok {
			e.m.PodsFound.Inc()
			return p
		}
	}
	if uid == "" && info.PodName == "" {
		return nil
	}
	e.m.PodsMissing.Inc()
	// The runtime's sandbox or kubelet labels still name the pod.
	return &schema.Pod{UID: uid, Name: info.PodName, Namespace: info.PodNamespace}
}

func typeHint(rt string) string {
	if rt == cgroup.CRI {
		return ""
	}
	return rt
}
