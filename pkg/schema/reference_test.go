package schema

// This file keeps the version-1 decoder as it was first released, built on
// vmihailenco/msgpack's Decoder, as the reference the direct reader in
// reader.go and decode.go must match: every input either decodes to the
// same batch under both or fails under both with the same error class.
// It is test code only; it pins the wire format's meaning, so it does not
// change when the decoder does.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// refUnmarshal is Unmarshal as first released.
func refUnmarshal(data []byte) (*Batch, error) {
	b := new(Batch)
	if err := refDecodeBatch(b, msgpack.NewDecoder(bytes.NewReader(data))); err != nil {
		return nil, err
	}
	return b, nil
}

// refR is the version-1 reader as first released, on msgpack.Decoder.
type refR struct {
	d   *msgpack.Decoder
	err error
	obj string // what is being decoded, for errors
	idx int    // index of obj in its list, -1 for none

	// Slabs: events' Args and FDs are carved from a few large allocations
	// instead of two small ones per event.
	args []Arg
	fds  []FD
}

func (r *refR) argSlice(n int) []Arg {
	if cap(r.args)-len(r.args) < n {
		r.args = make([]Arg, 0, max(n, 512))
	}
	s := r.args[len(r.args) : len(r.args)+n : len(r.args)+n]
	r.args = r.args[:len(r.args)+n]
	return s
}

func (r *refR) newFD() *FD {
	if len(r.fds) == cap(r.fds) {
		r.fds = make([]FD, 0, 64)
	}
	r.fds = r.fds[:len(r.fds)+1]
	return &r.fds[len(r.fds)-1]
}

func (r *refR) where() string {
	if r.idx < 0 {
		return r.obj
	}
	return fmt.Sprintf("%s %d", r.obj, r.idx)
}

func (r *refR) fail(err error) {
	if r.err != nil || err == nil {
		return
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		r.err = fmt.Errorf("%w: in %s", ErrTruncated, r.where())
	default:
		r.err = fmt.Errorf("%w: in %s: %v", ErrMalformed, r.where(), err)
	}
}

// arr reads an array header and returns its length.
func (r *refR) arr() int {
	if r.err != nil {
		return 0
	}
	n, err := r.d.DecodeArrayLen()
	r.fail(err)
	if n < 0 {
		return 0
	}
	return n
}
func (r *refR) i() int64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeInt64()
	r.fail(err)
	return v
}
func (r *refR) u() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeUint64()
	r.fail(err)
	return v
}
func (r *refR) s() string {
	if r.err != nil {
		return ""
	}
	v, err := r.d.DecodeString()
	r.fail(err)
	return v
}
func (r *refR) b() bool {
	if r.err != nil {
		return false
	}
	v, err := r.d.DecodeBool()
	r.fail(err)
	return v
}
func (r *refR) strs() []string {
	n := r.arr()
	if n == 0 || !r.count(n) {
		return nil
	}
	out := make([]string, n)
	for k := range out {
		out[k] = r.s()
	}
	return out
}
func (r *refR) addr() netip.Addr {
	if r.err != nil {
		return netip.Addr{}
	}
	// The one change from the release: the length is checked against the
	// bytes left before reading, since DecodeBytes allocates whatever a
	// corrupt bin32 header claims (4 GiB) before finding the data short.
	// The outcome, ErrTruncated, is the same.
	n, err := r.d.DecodeBytesLen()
	if r.fail(err); r.err != nil || n <= 0 {
		return netip.Addr{}
	}
	if !r.count(n) {
		return netip.Addr{}
	}
	v := make([]byte, n)
	_, err = io.ReadFull(r.d.Buffered(), v)
	r.fail(err)
	a, _ := netip.AddrFromSlice(v)
	return a
}
func (r *refR) smap() map[string]string {
	if r.err != nil {
		return nil
	}
	n, err := r.d.DecodeMapLen()
	r.fail(err)
	if n <= 0 || r.err != nil {
		return nil
	}
	m := make(map[string]string, min(n, 64))
	for k := 0; k < n && r.err == nil; k++ {
		key := r.s()
		m[key] = r.s()
	}
	return m
}

// rest skips fields a newer writer added after the known ones.
func (r *refR) rest(n, known int) {
	for k := known; k < n && r.err == nil; k++ {
		r.fail(r.d.Skip())
	}
}

// count guards slice allocation against a corrupt length: every element
// takes at least one byte, so more elements than bytes left is a lie.
func (r *refR) count(n int) bool {
	if r.err != nil {
		return false
	}
	if br, ok := r.d.Buffered().(*bytes.Reader); ok && n > br.Len() {
		r.fail(io.ErrUnexpectedEOF)
		return false
	}
	return true
}

func refDecodeBatch(b *Batch, d *msgpack.Decoder) error {
	r := &refR{d: d, obj: "batch", idx: -1}
	n := r.arr()
	if r.err == nil && n < batchFields {
		return fmt.Errorf("%w: batch has %d fields, want %d", ErrMalformed, n, batchFields)
	}
	b.Version = uint16(r.u())
	if r.err == nil && b.Version != Version {
		return fmt.Errorf("%w: batch version %d, this build reads %d", ErrVersion, b.Version, Version)
	}
	b.Node = r.s()
	b.Seq = r.u()
	b.BootID = r.s()
	r.obj, r.idx = "batch procs", -1
	if np := r.arr(); r.count(np) {
		b.Procs = make([]Process, np)
		for k := range b.Procs {
			r.obj, r.idx = "proc", k
			refDecodeProcess(&b.Procs[k], r)
		}
	}
	r.obj, r.idx = "batch containers", -1
	if nc := r.arr(); r.count(nc) {
		b.Containers = make([]Container, nc)
		for k := range b.Containers {
			r.obj, r.idx = "container", k
			refDecodeContainer(&b.Containers[k], r)
		}
	}
	r.obj, r.idx = "batch events", -1
	if ne := r.arr(); r.count(ne) {
		b.Events = make([]Event, ne)
		for k := range b.Events {
			r.obj, r.idx = "event", k
			refDecodeEvent(&b.Events[k], r)
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

func refDecodeEvent(ev *Event, r *refR) {
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
			ev.Args[k] = r.arg()
		}
	}
	if r.err == nil {
		c, err := r.d.PeekCode()
		r.fail(err)
		if r.err == nil {
			if c == msgpcode.Nil {
				r.fail(r.d.DecodeNil())
			} else {
				ev.FD = r.newFD()
				refDecodeFD(ev.FD, r)
			}
		}
	}
	if n >= eventFields {
		ev.Vtid = r.i()
	}
	r.rest(n, eventFields)
}

func (r *refR) arg() Arg {
	if r.err != nil {
		return Arg{}
	}
	c, err := r.d.PeekCode()
	r.fail(err)
	if r.err != nil {
		return Arg{}
	}
	switch {
	case msgpcode.IsFixedString(c) || c == msgpcode.Str8 || c == msgpcode.Str16 || c == msgpcode.Str32 ||
		c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32:
		return Arg{Str: r.s()}
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n := r.arr()
		a := Arg{Str: r.s(), Resolved: r.s()}
		r.rest(n, 2)
		return a
	default:
		return Arg{Int: r.i()}
	}
}

func refDecodeProcess(p *Process, r *refR) {
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
	p.Cgroup = r.s()
	p.ContainerID = r.s()
	p.NS.Pid = r.u()
	p.NS.Mnt = r.u()
	p.NS.Net = r.u()
	p.NS.User = r.u()
	p.NS.UTS = r.u()
	p.NS.IPC = r.u()
	p.NS.Cgroup = r.u()
	if na := r.arr(); r.count(na) && na > 0 {
		p.Ancestors = make([]Ancestor, na)
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
	if n >= processFields && r.err == nil {
		code, err := r.d.PeekCode()
		r.fail(err)
		if r.err == nil && code == msgpcode.Nil {
			r.fail(r.d.DecodeNil())
		} else if r.err == nil {
			nn := r.arr()
			ids := []*uint64{&p.NSID.Pid, &p.NSID.Mnt, &p.NSID.Net, &p.NSID.User, &p.NSID.UTS, &p.NSID.IPC, &p.NSID.Cgroup}
			for k := 0; k < nn && k < len(ids); k++ {
				*ids[k] = r.u()
			}
			r.rest(nn, len(ids))
		}
	}
	r.rest(n, processFields)
}

func refDecodeFD(f *FD, r *refR) {
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

func refDecodeContainer(c *Container, r *refR) {
	n := r.arr()
	c.ID = r.s()
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
	if r.err == nil {
		code, err := r.d.PeekCode()
		r.fail(err)
		if r.err == nil && code == msgpcode.Nil {
			r.fail(r.d.DecodeNil())
		} else if r.err == nil {
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
	}
	r.rest(n, containerFields)
}
