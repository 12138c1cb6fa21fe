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
	// bytes estimates the current batch's encoded size (see Bytes).
	bytes int
}

// New returns a builder for node; bootID tells collector runs apart.
func New(node, bootID string) *Builder {
	b := &Builder{node: node, bootID: bootID}
	b.reset()
	return b
}

func (b *Builder) reset() {
	b.seq++
	b.bytes = 64
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
			b.bytes += procBytes(&b.cur.Procs[i])
		}
		ev.Proc = i
	}
	b.cur.Events = append(b.cur.Events, ev)
	b.bytes += eventBytes(&ev)
}

// Len is the number of events in the current batch.
func (b *Builder) Len() int { return len(b.cur.Events) }

// Bytes is an upper estimate of the current batch's msgpack size: the
// collector sends a batch before it outgrows a bus message (a batch of
// exec events carries a process table with argv, env and ancestors,
// which can be kilobytes per event).
func (b *Builder) Bytes() int { return b.bytes }

// The estimates count the strings and a generous size for the fixed
// fields (timestamps and ids take 5-9 bytes, most others 1).
func eventBytes(ev *schema.Event) int {
	n := 48
	for i := range ev.Args {
		n += 12 + len(ev.Args[i].Str) + len(ev.Args[i].Resolved)
	}
	if f := ev.FD; f != nil {
		n += 64 + len(f.Name) + len(f.NameRaw)
	}
	return n
}

func procBytes(p *schema.Process) int {
	n := 256 + len(p.User) + len(p.Group) + len(p.LoginName) + len(p.Comm) + len(p.Exe) +
		len(p.ExePath) + len(p.Cwd) + len(p.SName) + len(p.Cgroup) + len(p.ContainerID) +
		strsBytes(p.Args) + strsBytes(p.Env)
	for i := range p.Ancestors {
		a := &p.Ancestors[i]
		n += 32 + len(a.Comm) + len(a.Exe) + len(a.ExePath) + strsBytes(a.Args)
	}
	return n
}

func strsBytes(ss []string) int {
	n := 5
	for _, s := range ss {
		n += 5 + len(s)
	}
	return n
}

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
