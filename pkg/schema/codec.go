package schema

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Errors returned by [Unmarshal], to branch on with errors.Is.
var (
	ErrVersion   = errors.New("unsupported schema version")
	ErrTruncated = errors.New("truncated batch")
	ErrMalformed = errors.New("malformed batch")
)

// DefaultBatchEvents is the events per batch the collector publishes by
// default; a partial batch still goes out after the collector's batch
// timeout (100 ms), so at low rates latency does not change. Most of the
// NATS server's cost is per message (delivery, ack, work-queue delete):
// 2048 cuts it 20-30% per event against 512. Typical events encode to
// ~75 bytes, ~150 KB a batch, 15% of the server's default 1 MB
// max_payload.
const DefaultBatchEvents = 2048

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
