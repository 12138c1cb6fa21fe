// Package convert turns probe records into [schema.Event] values, filling
// each event type's parameter table in order and updating the process and
// fd tables first, as Falco's parser does before rules run.
package convert

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/state"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// Converter is not safe for concurrent use.
type Converter struct {
	T     *state.Table
	Clock state.Clock
	num   uint64
	strs  map[string]string // interned string items
	arena []schema.Arg      // free tail of the current argument block
}

// Bounds of the converter's allocation caches.
const (
	internMax    = 16384 // interned strings kept before the cache is reset
	internMaxLen = 512   // longer strings are not interned
	argChunk     = 2048  // arguments per block
)

// New returns a converter over t.
func New(t *state.Table, c state.Clock) *Converter {
	return &Converter{T: t, Clock: c, strs: make(map[string]string)}
}

// Result is one converted event and the process it belongs to.
type Result struct {
	Event schema.Event
	Proc  *state.Proc
	// Remove is set for a process exit: drop Proc from the table once the
	// event has been snapshotted.
	Remove bool
}

var eventOf = map[uint32]schema.EventType{
	sysno.Open: schema.EventOpen, sysno.Openat: schema.EventOpenat, sysno.Openat2: schema.EventOpenat2,
	sysno.Creat: schema.EventCreat, sysno.Execve: schema.EventExecve, sysno.Execveat: schema.EventExecveat,
	sysno.Socket: schema.EventSocket, sysno.Connect: schema.EventConnect, sysno.Listen: schema.EventListen,
	sysno.Accept: schema.EventAccept, sysno.Accept4: schema.EventAccept4, sysno.Sendto: schema.EventSendto,
	sysno.Sendmsg: schema.EventSendmsg, sysno.Recvfrom: schema.EventRecvfrom, sysno.Recvmsg: schema.EventRecvmsg,
	sysno.Dup: schema.EventDup, sysno.Dup2: schema.EventDup2, sysno.Dup3: schema.EventDup3,
	sysno.Symlink: schema.EventSymlink, sysno.Symlinkat: schema.EventSymlinkat, sysno.Link: schema.EventLink,
	sysno.Linkat: schema.EventLinkat, sysno.Rename: schema.EventRename, sysno.Renameat: schema.EventRenameat,
	sysno.Renameat2: schema.EventRenameat2, sysno.Unlink: schema.EventUnlink, sysno.Unlinkat: schema.EventUnlinkat,
	sysno.Rmdir: schema.EventRmdir, sysno.Mkdir: schema.EventMkdir, sysno.Mkdirat: schema.EventMkdirat,
	sysno.Chmod: schema.EventChmod, sysno.Fchmod: schema.EventFchmod, sysno.Fchmodat: schema.EventFchmodat,
	sysno.Fchmodat2: schema.EventFchmodat, sysno.Ptrace: schema.EventPtrace, sysno.Setuid: schema.EventSetuid,
	sysno.Setns: schema.EventSetns, sysno.Unshare: schema.EventUnshare, sysno.Userfaultfd: schema.EventUserfaultfd,
	sysno.Bpf: schema.EventBpf, sysno.Init_module: schema.EventInitModule, sysno.Finit_module: schema.EventFinitModule,
	sysno.Close: schema.EventClose, sysno.Chdir: schema.EventChdir, sysno.Fchdir: schema.EventFchdir,
	sysno.Bind: schema.EventBind, sysno.Pipe: schema.EventPipe, sysno.Pipe2: schema.EventPipe2,
	sysno.Memfd_create: schema.EventMemfdCreate, sysno.Setgid: schema.EventSetgid, sysno.Setresuid: schema.EventSetresuid,
	sysno.Setresgid: schema.EventSetresgid, sysno.Fcntl: schema.EventFcntl, sysno.Mount: schema.EventMount,
	sysno.Umount2: schema.EventUmount2, sysno.Setreuid: schema.EventSetreuid, sysno.Setregid: schema.EventSetregid,
	sysno.Socketpair: schema.EventSocketpair,
}

// EventType returns the schema type of syscall nr.
func EventType(nr uint32) (schema.EventType, bool) {
	t, ok := eventOf[nr]
	return t, ok
}

// Convert applies rec to the tables and returns the event it makes. ok is
// false for records that make no event (an exec record: the execve exit
// that follows carries it; an unknown syscall).
func (c *Converter) Convert(rec *record.Record) (res Result, ok bool) {
	h := &rec.Header
	if h.Kind == record.KindThreadExit {
		return res, false // only the context cache cares
	}
	p := c.T.Touch(h)
	res.Proc = p
	ev := &res.Event
	ev.Ts = c.Clock.Wall(h.Ts)
	ev.CPU = uint16(h.CPU)
	ev.Tid = int64(h.Tid)
	ev.Proc = -1
	switch h.Kind {
	case record.KindExec:
		c.T.Exec(p, rec)
		return res, false
	case record.KindFork:
		it := find(rec, record.ItemFork, 0)
		if it == nil {
			return res, false
		}
		f, err := record.ParseFork(it.Data)
		if err != nil {
			return res, false
		}
		child := c.T.Fork(p, f)
		ev.Type = schema.EventClone
		ev.Res = int64(f.ChildPid)
		ev.Args = cloneArgs(p, h, f, child)
	case record.KindExit:
		code := int32(0)
		if it := find(rec, record.ItemExit, 0); it != nil {
			code, _ = record.ParseExit(it.Data)
		}
		ev.Type = schema.EventProcExit
		ev.Res = int64(code)
		core := int64(0)
		if code&0x80 != 0 {
			core = 1
		}
		ev.Args = c.args(schema.IntArg(int64(code>>8&0xff)), schema.IntArg(int64(code&0x7f)),
			schema.IntArg(core), schema.IntArg(0))
		res.Remove = true
	case record.KindSysExit, record.KindSysEnter:
		t, known := eventOf[uint32(h.Nr)]
		if !known {
			return res, false
		}
		ev.Type = t
		if h.Kind == record.KindSysEnter {
			ev.Flags |= schema.FlagEnter
			c.enter(rec, p, ev)
		} else {
			ev.Res = h.Ret
			c.exit(rec, p, ev)
		}
	default:
		return res, false
	}
	c.num++
	ev.Num = c.num
	return res, true
}

func cloneArgs(p *state.Proc, h *record.Header, f record.Fork, child *state.Proc) []schema.Arg {
	return []schema.Arg{
		schema.StrArg(p.Exe), schema.StrArg(strings.Join(p.Args, "\x00")), schema.IntArg(int64(h.Tid)),
		schema.IntArg(int64(h.Pid)), schema.IntArg(int64(h.Ppid)), schema.StrArg(p.Cwd), schema.StrArg(h.CommString()),
		schema.IntArg(0), schema.IntArg(int64(h.Euid)), schema.IntArg(int64(h.Egid)), schema.IntArg(int64(h.Vtid)),
		schema.IntArg(int64(h.Vpid)),
	}
}

// find returns the n-th item of type t.
func find(rec *record.Record, t record.ItemType, n int) *record.Item {
	for i := range rec.Items {
		if rec.Items[i].Type == t {
			if n == 0 {
				return &rec.Items[i]
			}
			n--
		}
	}
	return nil
}

// str is the n-th string item, interned: the same paths and names come
// again and again, and a map lookup keyed by string(bytes) does not
// allocate, while a new string per event did.
func (c *Converter) str(rec *record.Record, n int) string {
	it := find(rec, record.ItemStr, n)
	if it == nil || len(it.Data) == 0 {
		return ""
	}
	if len(it.Data) > internMaxLen {
		return string(it.Data)
	}
	if s, ok := c.strs[string(it.Data)]; ok {
		return s
	}
	if len(c.strs) >= internMax {
		clear(c.strs) // bound the memory; hot strings come back at once
	}
	s := string(it.Data)
	c.strs[s] = s
	return s
}

// args returns a copy of a carved from a shared block: one allocation per
// argChunk arguments instead of one per event. The slice's capacity ends
// at its length, so an append reallocates rather than overwrite a
// neighbour. Blocks are never reused: events keep them alive.
func (c *Converter) args(a ...schema.Arg) []schema.Arg {
	if len(a) > argChunk {
		return append([]schema.Arg(nil), a...)
	}
	if len(a) > cap(c.arena)-len(c.arena) {
		c.arena = make([]schema.Arg, 0, argChunk)
	}
	n := len(c.arena)
	c.arena = append(c.arena, a...)
	return c.arena[n : n+len(a) : n+len(a)]
}

func sockOf(rec *record.Record) (record.Sock, bool) {
	it := find(rec, record.ItemSock, 0)
	if it == nil {
		return record.Sock{}, false
	}
	s, err := record.ParseSock(it.Data)
	return s, err == nil
}

// dirOf is the directory a *at syscall resolves against.
func dirOf(p *state.Proc, dirfd int64) string {
	if int32(dirfd) == state.ATFDCWD {
		return strings.TrimSuffix(p.Cwd, "/")
	}
	if fd := p.FDs[int64(int32(dirfd))]; fd != nil {
		return fd.Name
	}
	return ""
}

// pathArg is a path parameter: Resolved holds the absolute form when the
// path is relative.
func pathArg(p *state.Proc, dirfd int64, s string) schema.Arg {
	a := schema.StrArg(s)
	if s != "" && !strings.HasPrefix(s, "/") {
		if d := dirOf(p, dirfd); d != "" {
			a.Resolved = state.Join(d, s)
		}
	}
	return a
}

func absPath(p *state.Proc, dirfd int64, s string) string {
	if strings.HasPrefix(s, "/") {
		return state.Join("/", s)
	}
	d := dirOf(p, dirfd)
	if d == "" {
		return s
	}
	return state.Join(d, s)
}

func fdNum(a uint64) int64 { return int64(int32(a)) }

func i(v uint64) schema.Arg { return schema.IntArg(int64(v)) }

// openMode is recorded only with O_CREAT or O_TMPFILE, like Falco.
func openMode(flags, mode uint64) uint64 {
	if flags&state.OCreat != 0 || flags&state.OTmpfile == state.OTmpfile {
		return mode
	}
	return 0
}

func (c *Converter) enter(rec *record.Record, p *state.Proc, ev *schema.Event) {
	a := rec.Args
	switch uint32(rec.Nr) {
	case sysno.Open, sysno.Creat:
		name := c.str(rec, 0)
		if rec.Nr == sysno.Open {
			ev.Args = c.args(pathArg(p, state.ATFDCWD, name), i(a[1]), i(openMode(a[1], a[2])), i(0), i(0))
			ev.FD = &schema.FD{Num: -1, Type: 'o', Name: absPath(p, state.ATFDCWD, name)}
		} else {
			ev.Args = c.args(pathArg(p, state.ATFDCWD, name), i(a[1]), i(0), i(0), i(0))
			ev.FD = &schema.FD{Num: -1, Type: 'f', Name: absPath(p, state.ATFDCWD, name)}
		}
	case sysno.Openat, sysno.Openat2:
		name := c.str(rec, 0)
		flags, mode := a[2], a[3]
		if rec.Nr == sysno.Openat2 {
			flags, mode = openHow(rec)
		}
		dirfd, pa, fl, md := i(uint64(fdNum(a[0]))), pathArg(p, fdNum(a[0]), name), i(flags), i(openMode(flags, mode))
		if rec.Nr == sysno.Openat2 {
			ev.Args = c.args(dirfd, pa, fl, md, i(0), i(0), i(0))
		} else {
			ev.Args = c.args(dirfd, pa, fl, md, i(0), i(0))
		}
		ev.FD = &schema.FD{Num: -1, Type: 'f', Name: absPath(p, fdNum(a[0]), name)}
	case sysno.Connect:
		fd := fdNum(a[0])
		ev.Args = c.args(schema.StrArg(""), schema.IntArg(fd), schema.StrArg(sockaddrArg(rec)))
		ev.FD = p.FDs[fd]
	}
}

func openHow(rec *record.Record) (flags, mode uint64) {
	if it := find(rec, record.ItemBytes, 0); it != nil && len(it.Data) >= 16 {
		return binary.LittleEndian.Uint64(it.Data), binary.LittleEndian.Uint64(it.Data[8:])
	}
	return 0, 0
}

func openResolve(rec *record.Record) uint64 {
	if it := find(rec, record.ItemBytes, 0); it != nil && len(it.Data) >= 24 {
		return binary.LittleEndian.Uint64(it.Data[16:])
	}
	return 0
}

// sockaddrArg converts the raw sockaddr item to the schema's encoding.
func sockaddrArg(rec *record.Record) string {
	it := find(rec, record.ItemSockaddr, 0)
	if it == nil {
		return ""
	}
	return ParseSockaddr(it.Data).Bytes()
}

// ParseSockaddr decodes a raw struct sockaddr_{in,in6,un}.
func ParseSockaddr(b []byte) schema.Sockaddr {
	if len(b) < 2 {
		return schema.Sockaddr{}
	}
	fam := binary.LittleEndian.Uint16(b)
	switch fam {
	case schema.AFInet:
		if len(b) < 8 {
			return schema.Sockaddr{}
		}
		return schema.Sockaddr{Family: schema.AFInet, Port: binary.BigEndian.Uint16(b[2:]), IP: netip.AddrFrom4([4]byte(b[4:8]))}
	case schema.AFInet6:
		if len(b) < 24 {
			return schema.Sockaddr{}
		}
		return schema.Sockaddr{Family: schema.AFInet6, Port: binary.BigEndian.Uint16(b[2:]), IP: netip.AddrFrom16([16]byte(b[8:24]))}
	case schema.AFUnix:
		path := b[2:]
		if n := indexNul(path); n >= 0 && (n > 0 || len(path) == 0) {
			path = path[:n]
		}
		return schema.Sockaddr{Family: schema.AFUnix, Path: string(path)}
	}
	return schema.Sockaddr{}
}

func indexNul(b []byte) int {
	for k, c := range b {
		if c == 0 {
			return k
		}
	}
	return -1
}
