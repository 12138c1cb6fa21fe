// Package batch groups converted events into [schema.Batch] values,
// sending each process once per batch.
package batch

import (
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/state"
)

type procKey struct {
	pid int64
	gen uint64
}

// Builder is not safe for concurrent use.
type Builder struct {
	node, bootID string
	seq          uint64
	cur          *schema.Batch
	idx          map[procKey]int32
	// hint is the largest batch seen: the next batch's events are
	// allocated once at that size rather than grown by doubling.
	hint int
}

// New returns a builder for node; bootID tells collector runs apart.
func New(node, bootID string) *Builder {
	b := &Builder{node: node, bootID: bootID}
	b.reset()
	return b
}

func (b *Builder) reset() {
	b.seq++
	b.cur = &schema.Batch{Version: schema.Version, Node: b.node, BootID: b.bootID, Seq: b.seq}
	if b.hint > 0 {
		b.cur.Events = make([]schema.Event, 0, b.hint)
	}
	if b.idx == nil {
		b.idx = map[procKey]int32{}
	}
	clear(b.idx) // the map stays here; batches do not keep it
}

// Add appends ev; p (nil for events without a process) is snapshotted
// from t unless this batch already holds p at the same generation.
func (b *Builder) Add(ev schema.Event, p *state.Proc, t *state.Table) {
	ev.Proc = -1
	if p != nil {
		k := procKey{p.Pid, p.Gen}
		i, ok := b.idx[k]
		if !ok {
			i = int32(len(b.cur.Procs))
			b.cur.Procs = append(b.cur.Procs, t.Snapshot(p))
			b.idx[k] = i
		}
		ev.Proc = i
	}
	b.cur.Events = append(b.cur.Events, ev)
}

// Len is the number of events in the current batch.
func (b *Builder) Len() int { return len(b.cur.Events) }

// Take returns the current batch and starts the next one; nil when empty.
func (b *Builder) Take() *schema.Batch {
	if len(b.cur.Events) == 0 {
		return nil
	}
	out := b.cur
	b.hint = max(b.hint, len(out.Events))
	b.reset()
	return out
}
