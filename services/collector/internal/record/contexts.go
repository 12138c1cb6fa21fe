package record

import (
	"os"
	"path/filepath"
	"strconv"
)

// Contexts completes records that carry no context block: the probe sends
// a thread's context only when it may have changed, so every other record
// of the thread has the context of the thread's last record that carried
// one. Records must be given in ring order. Not safe for concurrent use.
type Contexts struct {
	byTid map[uint32]*tidContext
	gen   uint64 // sweeps so far
}

type tidContext struct {
	Context
	seen uint64 // sweep generation of the last record
}

// NewContexts returns an empty set.
func NewContexts() *Contexts {
	return &Contexts{byTid: map[uint32]*tidContext{}}
}

// Len is the number of threads whose context is kept.
func (c *Contexts) Len() int { return len(c.byTid) }

// Complete fills r's context from its thread's last sent one when r has
// none, and keeps r's context when it has one. It forgets a thread at its
// exit. It returns false when r is partial and its thread's context is
// unknown (r stays Partial): a record that carried it was lost before it
// got here, which the probe's ring drops cannot cause (the probe resends
// the context after a failed write).
func (c *Contexts) Complete(r *Record) bool {
	h := &r.Header
	tid := h.Tid
	if h.Kind == KindThreadExit {
		delete(c.byTid, tid)
		return true
	}
	tc := c.byTid[tid]
	switch {
	case !h.Partial && tc != nil:
		tc.Context = h.Context
	case !h.Partial:
		tc = &tidContext{Context: h.Context}
		c.byTid[tid] = tc
	case tc != nil:
		h.Context = tc.Context
		h.Partial = false
	default:
		return false
	}
	tc.seen = c.gen
	switch h.Kind {
	case KindExit:
		delete(c.byTid, tid)
	case KindExec:
		// A non-leader thread that execs takes the leader's tid: its
		// old tid (old_pid) is gone.
		if old := uint32(h.Args[0]); old != tid {
			delete(c.byTid, old)
		}
	}
	return true
}

// Sweep forgets threads that sent nothing since the previous sweep and no
// longer exist under procDir ("/proc" when empty): their exit record was
// lost. It returns how many it forgot.
func (c *Contexts) Sweep(procDir string) int {
	if procDir == "" {
		procDir = "/proc"
	}
	n := 0
	for tid, tc := range c.byTid {
		if tc.seen >= c.gen {
			continue
		}
		if _, err := os.Stat(filepath.Join(procDir, strconv.FormatUint(uint64(tid), 10))); os.IsNotExist(err) {
			delete(c.byTid, tid)
			n++
		}
	}
	c.gen++
	return n
}
