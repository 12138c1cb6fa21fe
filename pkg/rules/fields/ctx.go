package fields

import "github.com/peregrine-rt/peregrine/pkg/schema"

// Ctx is what extraction reads for one event. Fill it with [NewCtx] or,
// on the hot path, reuse one with [Ctx.Reset]. A Ctx is not safe for
// concurrent use; Fields are.
type Ctx struct {
	Batch     *schema.Batch
	Event     *schema.Event
	Proc      *schema.Process   // nil when unknown
	Container *schema.Container // nil when unknown or host
	Hostname  string
	// Flat, when non-nil, is a hand-written test event: Falco field spelling ("proc.name",
	// "proc.aname[2]", "evt.arg.flags") -> value; extraction then reads only Flat.
	// Values may be string, bool, any Go integer, netip.Addr, nil (no value),
	// or for Multi fields []string / []any.
	Flat map[string]any

	// Derived strings, built on first use. Process-derived ones survive a
	// Reset to another event of the same process, which is the common case
	// in a batch (one process, many events).
	procCache  *schema.Process
	procBatch  *schema.Batch
	procSeq    uint64
	procNode   string
	procBoot   string
	procDone   uint32
	eventCache *schema.Event
	procStrs   [numProcCached]string
	eventDone  uint64 // bit i: argStrs[i] valid (params 0..63)
	argStrs    [maxCachedArgs]string
	argsJoined string
	argsDone   bool
}

// Cached per-process strings.
const (
	pcCmdline = iota
	pcArgs
	pcEnv
	pcCapEff
	pcCapPerm
	pcCapInh
	pcPcmdline
	pcAname
	pcAexe
	pcAexepath
	pcApid
	pcExeline
	pcCwd
	numProcCached
)

const maxCachedArgs = 32

// NewCtx returns the context of event i of b. hostname is evt.hostname;
// when empty, b.Node is used.
func NewCtx(b *schema.Batch, i int, hostname string) *Ctx {
	c := &Ctx{}
	c.Reset(b, i, hostname)
	return c
}

// Reset points c at event i of b, keeping cached process strings when the
// event belongs to the same process as before. It does not allocate.
func (c *Ctx) Reset(b *schema.Batch, i int, hostname string) {
	if hostname == "" {
		hostname = b.Node
	}
	e := &b.Events[i]
	p := b.Process(e)
	var ct *schema.Container
	if p != nil && p.ContainerID != "" && p.ContainerID != schema.HostContainerID {
		ct = b.Container(p.ContainerID)
	}
	c.Batch, c.Event, c.Proc, c.Container, c.Hostname, c.Flat = b, e, p, ct, hostname, nil
	// A decoder may reuse one Batch (and its Procs array) for the next
	// message, so the cache is keyed on the batch's identity too.
	if p != c.procCache || b != c.procBatch || b.Seq != c.procSeq || b.Node != c.procNode || b.BootID != c.procBoot {
		c.procCache, c.procBatch, c.procSeq, c.procNode, c.procBoot = p, b, b.Seq, b.Node, b.BootID
		c.procDone = 0
	}
	c.eventCache = e
	c.eventDone = 0
	c.argsDone = false
}

// checkEvent drops per-event caches when the caller changed c.Event by hand.
func (c *Ctx) checkEvent() {
	if c.eventCache != c.Event {
		c.eventCache = c.Event
		c.eventDone = 0
		c.argsDone = false
	}
}

// procStr returns the cached derived string k of c.Proc, building it with
// build on first use.
func (c *Ctx) procStr(k int, build func(p *schema.Process) string) string {
	if c.procCache != c.Proc {
		// The caller filled the exported fields by hand.
		c.procCache = c.Proc
		c.procDone = 0
	}
	if c.procDone&(1<<k) == 0 {
		c.procStrs[k] = build(c.Proc)
		c.procDone |= 1 << k
	}
	return c.procStrs[k]
}

// host reports whether the event's process runs outside any container.
func (c *Ctx) host() bool {
	return c.Proc != nil && (c.Proc.ContainerID == "" || c.Proc.ContainerID == schema.HostContainerID)
}
