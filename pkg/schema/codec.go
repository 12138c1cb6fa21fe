package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Errors returned by [Unmarshal], to branch on with errors.Is.
var (
	ErrVersion   = errors.New("unsupported schema version")
	ErrTruncated = errors.New("truncated batch")
	ErrMalformed = errors.New("malformed batch")
)

// Every struct is a msgpack array of its fields in declaration order.
// Decoders read the fields they know and skip extra trailing ones, so a
// newer minor writer can add fields at the end without a version bump.

var encPool = sync.Pool{New: func() any {
	buf := new(bytes.Buffer)
	enc := msgpack.NewEncoder(buf)
	return &pooledEncoder{buf: buf, enc: enc}
}}

type pooledEncoder struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

// Marshal encodes b. It sets b.Version to [Version] when it is zero.
// Safe for concurrent use.
func Marshal(b *Batch) ([]byte, error) {
	pe := encPool.Get().(*pooledEncoder)
	defer encPool.Put(pe)
	pe.buf.Reset()
	if err := b.EncodeMsgpack(pe.enc); err != nil {
		return nil, err
	}
	return bytes.Clone(pe.buf.Bytes()), nil
}

// Unmarshal decodes a batch. The error wraps [ErrVersion] for another wire
// version, [ErrTruncated] when data ends early and [ErrMalformed] when a
// value has the wrong type.
func Unmarshal(data []byte) (*Batch, error) {
	b := new(Batch)
	d := msgpack.NewDecoder(bytes.NewReader(data))
	if err := b.DecodeMsgpack(d); err != nil {
		return nil, err
	}
	return b, nil
}

// w writes msgpack values and keeps the first error.
type w struct {
	e   *msgpack.Encoder
	err error
}

func (w *w) arr(n int) {
	if w.err == nil {
		w.err = w.e.EncodeArrayLen(n)
	}
}
func (w *w) i(v int64) {
	if w.err == nil {
		w.err = w.e.EncodeInt(v)
	}
}
func (w *w) u(v uint64) {
	if w.err == nil {
		w.err = w.e.EncodeUint(v)
	}
}
func (w *w) s(v string) {
	if w.err == nil {
		w.err = w.e.EncodeString(v)
	}
}
func (w *w) b(v bool) {
	if w.err == nil {
		w.err = w.e.EncodeBool(v)
	}
}
func (w *w) nil() {
	if w.err == nil {
		w.err = w.e.EncodeNil()
	}
}
func (w *w) strs(v []string) {
	w.arr(len(v))
	for _, s := range v {
		w.s(s)
	}
}
func (w *w) addr(a netip.Addr) {
	if w.err != nil {
		return
	}
	if !a.IsValid() {
		w.err = w.e.EncodeBytes(nil)
		return
	}
	w.err = w.e.EncodeBytes(a.AsSlice())
}
func (w *w) smap(m map[string]string) {
	if w.err != nil {
		return
	}
	if w.err = w.e.EncodeMapLen(len(m)); w.err != nil {
		return
	}
	for k, v := range m {
		w.s(k)
		w.s(v)
	}
}

// r reads msgpack values and keeps the first error.
type r struct {
	d   *msgpack.Decoder
	err error
	obj string // what is being decoded, for errors
	idx int    // index of obj in its list, -1 for none

	// Slabs: events' Args and FDs are carved from a few large allocations
	// instead of two small ones per event.
	args []Arg
	fds  []FD
}

func (r *r) argSlice(n int) []Arg {
	if cap(r.args)-len(r.args) < n {
		r.args = make([]Arg, 0, max(n, 512))
	}
	s := r.args[len(r.args) : len(r.args)+n : len(r.args)+n]
	r.args = r.args[:len(r.args)+n]
	return s
}

func (r *r) newFD() *FD {
	if len(r.fds) == cap(r.fds) {
		r.fds = make([]FD, 0, 64)
	}
	r.fds = r.fds[:len(r.fds)+1]
	return &r.fds[len(r.fds)-1]
}

func (r *r) where() string {
	if r.idx < 0 {
		return r.obj
	}
	return fmt.Sprintf("%s %d", r.obj, r.idx)
}

func (r *r) fail(err error) {
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
func (r *r) arr() int {
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
func (r *r) i() int64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeInt64()
	r.fail(err)
	return v
}
func (r *r) u() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeUint64()
	r.fail(err)
	return v
}
func (r *r) s() string {
	if r.err != nil {
		return ""
	}
	v, err := r.d.DecodeString()
	r.fail(err)
	return v
}
func (r *r) b() bool {
	if r.err != nil {
		return false
	}
	v, err := r.d.DecodeBool()
	r.fail(err)
	return v
}
func (r *r) strs() []string {
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
func (r *r) addr() netip.Addr {
	if r.err != nil {
		return netip.Addr{}
	}
	v, err := r.d.DecodeBytes()
	r.fail(err)
	a, _ := netip.AddrFromSlice(v)
	return a
}
func (r *r) smap() map[string]string {
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
func (r *r) rest(n, known int) {
	for k := known; k < n && r.err == nil; k++ {
		r.fail(r.d.Skip())
	}
}

// count guards slice allocation against a corrupt length: every element
// takes at least one byte, so more elements than bytes left is a lie.
func (r *r) count(n int) bool {
	if r.err != nil {
		return false
	}
	if br, ok := r.d.Buffered().(*bytes.Reader); ok && n > br.Len() {
		r.fail(io.ErrUnexpectedEOF)
		return false
	}
	return true
}

const (
	batchFields     = 7
	eventFields     = 11
	processFields   = 44
	ancestorFields  = 6
	fdFields        = 16
	containerFields = 16
	mountFields     = 5
	podFields       = 12
)

// EncodeMsgpack implements msgpack.CustomEncoder.
func (b *Batch) EncodeMsgpack(e *msgpack.Encoder) error {
	w := &w{e: e}
	if b.Version == 0 {
		b.Version = Version
	}
	w.arr(batchFields)
	w.u(uint64(b.Version))
	w.s(b.Node)
	w.u(b.Seq)
	w.s(b.BootID)
	w.arr(len(b.Procs))
	for k := range b.Procs {
		b.Procs[k].encode(w)
	}
	w.arr(len(b.Containers))
	for k := range b.Containers {
		b.Containers[k].encode(w)
	}
	w.arr(len(b.Events))
	for k := range b.Events {
		b.Events[k].encode(w)
	}
	return w.err
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (b *Batch) DecodeMsgpack(d *msgpack.Decoder) error {
	r := &r{d: d, obj: "batch", idx: -1}
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
			b.Procs[k].decode(r)
		}
	}
	r.obj, r.idx = "batch containers", -1
	if nc := r.arr(); r.count(nc) {
		b.Containers = make([]Container, nc)
		for k := range b.Containers {
			r.obj, r.idx = "container", k
			b.Containers[k].decode(r)
		}
	}
	r.obj, r.idx = "batch events", -1
	if ne := r.arr(); r.count(ne) {
		b.Events = make([]Event, ne)
		for k := range b.Events {
			r.obj, r.idx = "event", k
			b.Events[k].decode(r)
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

func (ev *Event) encode(w *w) {
	w.arr(eventFields)
	w.u(ev.Num)
	w.i(ev.Ts)
	w.u(uint64(ev.Type))
	w.u(uint64(ev.Flags))
	w.u(uint64(ev.CPU))
	w.i(ev.Tid)
	w.i(int64(ev.Proc))
	w.i(ev.Res)
	w.arr(len(ev.Args))
	for k := range ev.Args {
		a := &ev.Args[k]
		switch {
		case a.Resolved != "":
			w.arr(2)
			w.s(a.Str)
			w.s(a.Resolved)
		case a.Str != "":
			w.s(a.Str)
		default:
			w.i(a.Int)
		}
	}
	if ev.FD == nil {
		w.nil()
	} else {
		ev.FD.encode(w)
	}
	w.i(ev.Vtid)
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
				ev.FD.decode(r)
			}
		}
	}
	if n >= eventFields {
		ev.Vtid = r.i()
	}
	r.rest(n, eventFields)
}

func (r *r) arg() Arg {
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

func (p *Process) encode(w *w) {
	w.arr(processFields)
	w.i(p.Pid)
	w.i(p.Ppid)
	w.i(p.Vpid)
	w.i(p.Pgid)
	w.i(p.Vpgid)
	w.i(p.Sid)
	w.u(uint64(p.Uid))
	w.u(uint64(p.Euid))
	w.u(uint64(p.Gid))
	w.u(uint64(p.Egid))
	w.u(uint64(p.LoginUID))
	w.s(p.User)
	w.s(p.Group)
	w.s(p.LoginName)
	w.s(p.Comm)
	w.s(p.Exe)
	w.s(p.ExePath)
	w.strs(p.Args)
	w.strs(p.Env)
	w.s(p.Cwd)
	w.u(uint64(p.TTY))
	w.s(p.SName)
	w.u(p.CapEffective)
	w.u(p.CapPermitted)
	w.u(p.CapInheritable)
	w.u(uint64(p.ExeFlags))
	w.u(p.ExeIno)
	w.i(p.ExeInoCtime)
	w.i(p.ExeInoMtime)
	w.i(p.StartTs)
	w.i(p.PidNSInitStartTs)
	w.u(p.CgroupID)
	w.u(p.MemCgroupID)
	w.s(p.Cgroup)
	w.s(p.ContainerID)
	w.u(p.NS.Pid)
	w.u(p.NS.Mnt)
	w.u(p.NS.Net)
	w.u(p.NS.User)
	w.u(p.NS.UTS)
	w.u(p.NS.IPC)
	w.u(p.NS.Cgroup)
	w.arr(len(p.Ancestors))
	for k := range p.Ancestors {
		a := &p.Ancestors[k]
		w.arr(ancestorFields)
		w.i(a.Pid)
		w.s(a.Comm)
		w.s(a.Exe)
		w.s(a.ExePath)
		w.strs(a.Args)
		w.i(a.StartTs)
	}
	w.arr(7)
	w.u(p.NSID.Pid)
	w.u(p.NSID.Mnt)
	w.u(p.NSID.Net)
	w.u(p.NSID.User)
	w.u(p.NSID.UTS)
	w.u(p.NSID.IPC)
	w.u(p.NSID.Cgroup)
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

func (f *FD) encode(w *w) {
	w.arr(fdFields)
	w.i(f.Num)
	w.u(uint64(f.Type))
	w.s(f.Name)
	w.s(f.NameRaw)
	w.u(uint64(f.Flags))
	w.u(uint64(f.Dev))
	w.u(f.Ino)
	w.u(uint64(f.Family))
	w.u(uint64(f.L4))
	w.u(uint64(f.Role))
	w.b(f.Connected)
	w.addr(f.ClientIP)
	w.u(uint64(f.ClientPort))
	w.addr(f.ServerIP)
	w.u(uint64(f.ServerPort))
	w.b(f.NameChanged)
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

func (c *Container) encode(w *w) {
	w.arr(containerFields)
	w.s(c.ID)
	w.s(c.Type)
	w.s(c.Name)
	w.s(c.Image)
	w.s(c.ImageRepo)
	w.s(c.ImageTag)
	w.s(c.ImageDigest)
	w.s(c.ImageID)
	w.b(c.Privileged)
	w.arr(len(c.Mounts))
	for k := range c.Mounts {
		m := &c.Mounts[k]
		w.arr(mountFields)
		w.s(m.Source)
		w.s(m.Dest)
		w.s(m.Mode)
		w.b(m.RW)
		w.s(m.Propagation)
	}
	w.i(c.StartTs)
	w.s(c.Healthcheck)
	w.smap(c.Labels)
	w.s(c.IP)
	w.b(c.Incomplete)
	if c.Pod == nil {
		w.nil()
		return
	}
	pd := c.Pod
	w.arr(podFields)
	w.s(pd.Name)
	w.s(pd.UID)
	w.s(pd.Namespace)
	w.s(pd.IP)
	w.smap(pd.Labels)
	w.smap(pd.NSLabels)
	w.s(pd.ReplicaSet)
	w.s(pd.Deployment)
	w.s(pd.Node)
	w.s(pd.OwnerKind)
	w.s(pd.OwnerName)
	w.s(pd.ServiceAccount)
}

func (c *Container) decode(r *r) {
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
