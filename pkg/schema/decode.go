package schema

import (
	"errors"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"
)

// Unmarshal decodes a batch. The error wraps [ErrVersion] for another wire
// version, [ErrTruncated] when data ends early and [ErrMalformed] when a
// value has the wrong type. Bytes after the batch are ignored.
//
// The batch does not alias data: its strings share one copy of it, made
// here, so holding one of them holds that copy. The values stages keep as
// long-lived keys have memory of their own: Batch.Node, Batch.BootID,
// Process.Cgroup, Process.ContainerID and Container.ID (and substrings of
// them). Use strings.Clone for any other string held past the batch.
func Unmarshal(data []byte) (*Batch, error) {
	b := new(Batch)
	if err := b.decode(&r{msg: string(data), obj: "batch", idx: -1}); err != nil {
		return nil, err
	}
	return b, nil
}

// DecodeMsgpack implements msgpack.CustomDecoder. It takes the next value
// whole from d and decodes it as [Unmarshal] does.
func (b *Batch) DecodeMsgpack(d *msgpack.Decoder) error {
	raw, err := d.DecodeRaw()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: in batch", ErrTruncated)
		}
		return fmt.Errorf("%w: in batch: %v", ErrMalformed, err)
	}
	return b.decode(&r{msg: string(raw), obj: "batch", idx: -1})
}

// slabs carve the many small slices of a batch (event Args, FDs, string
// lists, ancestors) from a few large allocations. Each refill is sized
// from what the batch used so far times what is left of it, so a batch
// takes a handful of allocations whatever its mix of events. Slices
// handed out have their capacity cut to their length, so an append by a
// consumer copies instead of writing over a neighbour.
type slabs struct {
	args []Arg
	fds  []FD
	strl []string
	ancs []Ancestor

	// done and left count the items (events or processes) decoded so far
	// and still to come in the list being decoded, for sizing refills.
	done, left int
	// used counts what each slab handed out in the current list.
	usedArgs, usedFDs, usedStrs, usedAncs int
	// bytesLeft is the message not yet read when the current item began.
	bytesLeft int
}

// refill is the capacity of a new slab that must hold at least n: the
// average use per item so far (counting this one), for every item left.
// Every element takes at least a byte of the message, so the guess is cut
// to the bytes left: a corrupt batch cannot make a slab bigger than the
// message that asks for it.
func (s *slabs) refill(n, used, bytesLeft int) int {
	per := (used + n + s.done) / (s.done + 1) // rounded up
	return max(n, min(max(per*s.left, 16), bytesLeft))
}

func (s *slabs) argSlice(n int) []Arg {
	if cap(s.args)-len(s.args) < n {
		s.args = make([]Arg, 0, s.refill(n, s.usedArgs, s.bytesLeft))
	}
	s.usedArgs += n
	k := len(s.args)
	s.args = s.args[:k+n]
	return s.args[k : k+n : k+n]
}

func (s *slabs) newFD() *FD {
	if len(s.fds) == cap(s.fds) {
		s.fds = make([]FD, 0, s.refill(1, s.usedFDs, s.bytesLeft))
	}
	s.usedFDs++
	s.fds = s.fds[:len(s.fds)+1]
	return &s.fds[len(s.fds)-1]
}

func (s *slabs) strSlice(n int) []string {
	if cap(s.strl)-len(s.strl) < n {
		s.strl = make([]string, 0, s.refill(n, s.usedStrs, s.bytesLeft))
	}
	s.usedStrs += n
	k := len(s.strl)
	s.strl = s.strl[:k+n]
	return s.strl[k : k+n : k+n]
}

func (s *slabs) ancSlice(n int) []Ancestor {
	if cap(s.ancs)-len(s.ancs) < n {
		s.ancs = make([]Ancestor, 0, s.refill(n, s.usedAncs, s.bytesLeft))
	}
	s.usedAncs += n
	k := len(s.ancs)
	s.ancs = s.ancs[:k+n]
	return s.ancs[k : k+n : k+n]
}

// list starts sizing refills for a list of n items.
func (r *r) list(n int) {
	r.done, r.left = 0, n
	r.usedArgs, r.usedFDs, r.usedStrs, r.usedAncs = 0, 0, 0, 0
	r.bytesLeft = len(r.msg) - r.pos
}

// next moves the sizing on by one item.
func (r *r) next() {
	r.done, r.left = r.done+1, r.left-1
	r.bytesLeft = len(r.msg) - r.pos
}

func (b *Batch) decode(r *r) error {
	n := r.arr()
	if r.err == nil && n < batchFields {
		return fmt.Errorf("%w: batch has %d fields, want %d", ErrMalformed, n, batchFields)
	}
	b.Version = uint16(r.u())
	if r.err == nil && b.Version != Version {
		return fmt.Errorf("%w: batch version %d, this build reads %d", ErrVersion, b.Version, Version)
	}
	b.Node = r.keep(r.s())
	b.Seq = r.u()
	b.BootID = r.keep(r.s())
	r.obj, r.idx = "batch procs", -1
	if np := r.arr(); r.count(np) {
		b.Procs = make([]Process, np)
		r.list(np)
		for k := range b.Procs {
			r.obj, r.idx = "proc", k
			b.Procs[k].decode(r)
			r.next()
		}
	}
	r.obj, r.idx = "batch containers", -1
	if nc := r.arr(); r.count(nc) {
		b.Containers = make([]Container, nc)
		r.list(nc)
		for k := range b.Containers {
			r.obj, r.idx = "container", k
			b.Containers[k].decode(r)
			r.next()
		}
	}
	r.obj, r.idx = "batch events", -1
	if ne := r.arr(); r.count(ne) {
		b.Events = make([]Event, ne)
		r.list(ne)
		for k := range b.Events {
			r.obj, r.idx = "event", k
			b.Events[k].decode(r)
			r.next()
		}
	}
	r.rest(n, batchFields)
	if r.err != nil {
		return r.err
	}
	for k := range b.Events {
		if p := b.Events[k].Proc; p < -1 || int(p) >= len(b.Procs) {
			return fmt.Errorf("%w: event %d names proc %d of %d", ErrMalformed, k, p, len(b.Procs))
		}
	}
	return nil
}

func (ev *Event) decode(r *r) {
	n := r.arr()
	ev.Num = r.u()
	ev.Ts = r.i()
	ev.Type = EventType(r.u())
	ev.Flags = uint8(r.u())
	ev.CPU = uint16(r.u())
	ev.Tid = r.i()
	ev.Proc = int32(r.i())
	ev.Res = r.i()
	if na := r.arr(); r.count(na) && na > 0 {
		ev.Args = r.argSlice(na)
		for k := range ev.Args {
			r.arg(&ev.Args[k])
		}
	}
	if !r.isNil() && r.err == nil {
		ev.FD = r.newFD()
		ev.FD.decode(r)
	}
	if n >= eventFields {
		ev.Vtid = r.i()
	}
	r.rest(n, eventFields)
}

// arg reads one argument: an integer, a string, or [string, resolved].
func (r *r) arg(a *Arg) {
	c, ok := r.peek()
	if !ok {
		return
	}
	switch {
	case c&0xe0 == 0xa0, c >= mpBin8 && c <= mpBin32, c >= mpStr8 && c <= mpStr32:
		a.Str = r.s()
	case c&0xf0 == 0x90, c == mpArray16, c == mpArray32:
		n := r.arr()
		a.Str = r.s()
		a.Resolved = r.s()
		r.rest(n, 2)
	default:
		a.Int = r.i()
	}
}

func (p *Process) decode(r *r) {
	n := r.arr()
	p.Pid = r.i()
	p.Ppid = r.i()
	p.Vpid = r.i()
	p.Pgid = r.i()
	p.Vpgid = r.i()
	p.Sid = r.i()
	p.Uid = uint32(r.u())
	p.Euid = uint32(r.u())
	p.Gid = uint32(r.u())
	p.Egid = uint32(r.u())
	p.LoginUID = uint32(r.u())
	p.User = r.s()
	p.Group = r.s()
	p.LoginName = r.s()
	p.Comm = r.s()
	p.Exe = r.s()
	p.ExePath = r.s()
	p.Args = r.strs()
	p.Env = r.strs()
	p.Cwd = r.s()
	p.TTY = uint32(r.u())
	p.SName = r.s()
	p.CapEffective = r.u()
	p.CapPermitted = r.u()
	p.CapInheritable = r.u()
	p.ExeFlags = uint32(r.u())
	p.ExeIno = r.u()
	p.ExeInoCtime = r.i()
	p.ExeInoMtime = r.i()
	p.StartTs = r.i()
	p.PidNSInitStartTs = r.i()
	p.CgroupID = r.u()
	p.MemCgroupID = r.u()
	p.Cgroup = r.keep(r.s())
	p.ContainerID = r.keep(r.s())
	p.NS.Pid = r.u()
	p.NS.Mnt = r.u()
	p.NS.Net = r.u()
	p.NS.User = r.u()
	p.NS.UTS = r.u()
	p.NS.IPC = r.u()
	p.NS.Cgroup = r.u()
	if na := r.arr(); r.count(na) && na > 0 {
		p.Ancestors = r.ancSlice(na)
		for k := range p.Ancestors {
			a := &p.Ancestors[k]
			an := r.arr()
			a.Pid = r.i()
			a.Comm = r.s()
			a.Exe = r.s()
			a.ExePath = r.s()
			a.Args = r.strs()
			if an >= ancestorFields {
				a.StartTs = r.i()
			}
			r.rest(an, ancestorFields)
		}
	}
	// NSID came after the first release; an older writer ends before it
	// or writes nil.
	if n >= processFields && !r.isNil() && r.err == nil {
		nn := r.arr()
		ids := [...]*uint64{&p.NSID.Pid, &p.NSID.Mnt, &p.NSID.Net, &p.NSID.User, &p.NSID.UTS, &p.NSID.IPC, &p.NSID.Cgroup}
		for k := 0; k < nn && k < len(ids); k++ {
			*ids[k] = r.u()
		}
		r.rest(nn, len(ids))
	}
	r.rest(n, processFields)
}

func (f *FD) decode(r *r) {
	n := r.arr()
	f.Num = r.i()
	f.Type = FDType(r.u())
	f.Name = r.s()
	f.NameRaw = r.s()
	f.Flags = uint32(r.u())
	f.Dev = uint32(r.u())
	f.Ino = r.u()
	f.Family = uint8(r.u())
	f.L4 = uint8(r.u())
	f.Role = uint8(r.u())
	f.Connected = r.b()
	f.ClientIP = r.addr()
	f.ClientPort = uint16(r.u())
	f.ServerIP = r.addr()
	f.ServerPort = uint16(r.u())
	if n >= fdFields {
		f.NameChanged = r.b()
	}
	r.rest(n, fdFields)
}

func (c *Container) decode(r *r) {
	n := r.arr()
	c.ID = r.keep(r.s())
	c.Type = r.s()
	c.Name = r.s()
	c.Image = r.s()
	c.ImageRepo = r.s()
	c.ImageTag = r.s()
	c.ImageDigest = r.s()
	c.ImageID = r.s()
	c.Privileged = r.b()
	if nm := r.arr(); r.count(nm) && nm > 0 {
		c.Mounts = make([]Mount, nm)
		for k := range c.Mounts {
			m := &c.Mounts[k]
			mn := r.arr()
			m.Source = r.s()
			m.Dest = r.s()
			m.Mode = r.s()
			m.RW = r.b()
			m.Propagation = r.s()
			r.rest(mn, mountFields)
		}
	}
	c.StartTs = r.i()
	c.Healthcheck = r.s()
	c.Labels = r.smap()
	c.IP = r.s()
	c.Incomplete = r.b()
	if !r.isNil() && r.err == nil {
		pd := new(Pod)
		pn := r.arr()
		pd.Name = r.s()
		pd.UID = r.s()
		pd.Namespace = r.s()
		pd.IP = r.s()
		pd.Labels = r.smap()
		pd.NSLabels = r.smap()
		pd.ReplicaSet = r.s()
		pd.Deployment = r.s()
		pd.Node = r.s()
		pd.OwnerKind = r.s()
		pd.OwnerName = r.s()
		pd.ServiceAccount = r.s()
		r.rest(pn, podFields)
		c.Pod = pd
	}
	r.rest(n, containerFields)
}
