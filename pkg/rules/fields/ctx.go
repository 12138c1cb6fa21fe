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

	// Derived strings, built on first use. Process-derived ones are kept
	// per entry of Batch.Procs for the whole batch (one process, many
	// events is the common case); event-derived ones until the next Reset.
	procIdx    int32 // index of Proc in Batch.Procs, -1 when unknown
	pcache     []procEntry
	cacheBatch *schema.Batch
	cacheSeq   uint64
	cacheNode  string
	cacheBoot  string
	single     procEntry // for a Proc filled in by hand
	singleProc *schema.Process

	eventCache *schema.Event
	eventDone  uint64 // bit i: argStrs[i] valid
	argStrs    [maxCachedArgs]string
	argsJoined string
	argsDone   bool

	// Rendered flag and enum texts by table and value: few distinct
	// values occur, so after warm-up evt.arg.flags allocates nothing.
	flagCache map[uint64]string
	// flagRecent is a direct-mapped front for flagCache: the few values
	// of a node's hot paths hit it without hashing a map key.
	flagRecent [16]flagEntry
}

type flagEntry struct {
	key uint64
	s   string
	set bool
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

// Reset points c at event i of b. Cached process strings survive while
// b is the same batch (same pointer, Node, BootID and Seq: a decoder that
// refills one Batch for each message gets a fresh cache). It does not
// allocate once c has seen a batch of that many processes.
func (c *Ctx) Reset(b *schema.Batch, i int, hostname string) {
	if hostname == "" {
		hostname = b.Node
	}
	e := &b.Events[i]
	p := b.Process(e)
	c.Batch, c.Event, c.Proc, c.Hostname, c.Flat = b, e, p, hostname, nil
	c.procIdx = -1
	if p != nil {
		c.procIdx = e.Proc
	}
	if b != c.cacheBatch || b.Seq != c.cacheSeq || b.Node != c.cacheNode || b.BootID != c.cacheBoot ||
		len(c.pcache) != len(b.Procs) {
		c.cacheBatch, c.cacheSeq, c.cacheNode, c.cacheBoot = b, b.Seq, b.Node, b.BootID
		if cap(c.pcache) < len(b.Procs) {
			c.pcache = make([]procEntry, len(b.Procs))
		} else {
			c.pcache = c.pcache[:len(b.Procs)]
			clear(c.pcache)
		}
	}
	c.Container = nil
	if p != nil && p.ContainerID != "" && p.ContainerID != schema.HostContainerID {
		// The container table is scanned once per process and batch.
		pe := &c.pcache[e.Proc]
		if !pe.ctDone {
			pe.ct, pe.ctDone = b.Container(p.ContainerID), true
		}
		c.Container = pe.ct
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

// procEntry caches the derived strings of one process.
type procEntry struct {
	done   uint32
	strs   [numProcCached]string
	ct     *schema.Container
	ctDone bool
}

// procStr returns the cached derived string k of c.Proc, building it with
// build on first use.
func (c *Ctx) procStr(k int, build func(p *schema.Process) string) string {
	var pe *procEntry
	if i := c.procIdx; i >= 0 && c.Batch != nil && int(i) < len(c.pcache) && int(i) < len(c.Batch.Procs) &&
		&c.Batch.Procs[i] == c.Proc {
		pe = &c.pcache[i]
	} else {
		// The caller filled the exported fields by hand.
		if c.singleProc != c.Proc {
			c.single, c.singleProc = procEntry{}, c.Proc
		}
		pe = &c.single
	}
	if pe.done&(1<<k) == 0 {
		pe.strs[k] = build(c.Proc)
		pe.done |= 1 << k
	}
	return pe.strs[k]
}

// flagText renders v with table t, caching the text per Ctx.
func (c *Ctx) flagText(t *flagTable, v uint64) string {
	if v > 0xffffffff {
		return t.render(v)
	}
	key := uint64(t.id)<<32 | v
	fe := &c.flagRecent[(key*0x9e3779b97f4a7c15)>>60]
	if fe.set && fe.key == key {
		return fe.s
	}
	if s, ok := c.flagCache[key]; ok {
		*fe = flagEntry{key: key, s: s, set: true}
		return s
	}
	if c.flagCache == nil || len(c.flagCache) >= maxFlagCache {
		c.flagCache = make(map[uint64]string, 64)
	}
	s := t.render(v)
	c.flagCache[key] = s
	*fe = flagEntry{key: key, s: s, set: true}
	return s
}

// maxFlagCache bounds the flag cache against a stream of distinct values.
const maxFlagCache = 4096

// host reports whether the event's process runs outside any container.
func (c *Ctx) host() bool {
	return c.Proc != nil && (c.Proc.ContainerID == "" || c.Proc.ContainerID == schema.HostContainerID)
}
