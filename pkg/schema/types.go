package schema

// EventType identifies a system call or synthetic event. The numbering is
// part of the wire format: append new types, never renumber.
type EventType uint16

// Event types. The names (see [EventType.String]) are Falco's evt.type
// values; enter and exit events of one syscall share a type and differ by
// [FlagEnter].
const (
	EventUnknown EventType = iota
	EventOpen
	EventOpenat
	EventOpenat2
	EventCreat
	EventExecve
	EventExecveat
	EventSocket
	EventConnect
	EventListen
	EventAccept
	EventAccept4
	EventSendto
	EventSendmsg
	EventRecvfrom
	EventRecvmsg
	EventDup
	EventDup2
	EventDup3
	EventSymlink
	EventSymlinkat
	EventLink
	EventLinkat
	EventRename
	EventRenameat
	EventRenameat2
	EventUnlink
	EventUnlinkat
	EventRmdir
	EventMkdir
	EventMkdirat
	EventChmod
	EventFchmod
	EventFchmodat
	EventPtrace
	EventSetuid
	EventSetns
	EventUnshare
	EventUserfaultfd
	EventBpf
	EventInitModule
	EventFinitModule
	EventClone
	EventFork
	EventVfork
	EventClone3
	EventProcExit
	EventClose
	EventChdir
	EventFchdir
	EventBind
	EventPipe
	EventPipe2
	EventMemfdCreate
	EventSetgid
	EventSetresuid
	EventSetresgid
	EventFcntl
	EventMount
	EventUmount2
	EventSetreuid
	EventSetregid
	EventPrctl
	EventCapset
	EventKill
	EventChown
	EventFchown
	EventFchownat
	EventLchown
	EventTruncate
	EventFtruncate
	EventIoUringSetup
	EventEventfd2
	EventSocketpair
	// EventDrop is synthetic: the collector reports lost events with it.
	EventDrop
	// EventContainer is synthetic: a container started (reserved for the enricher).
	EventContainer
	eventTypeCount
)

// ParamType says how a parameter is stored in [Arg] and how Falco renders it.
type ParamType uint8

// Parameter types, after Falco's driver/event_table.c.
const (
	PTInt64     ParamType = iota // signed number in Arg.Int
	PTUint32                     // unsigned number in Arg.Int
	PTUint64                     // unsigned number in Arg.Int
	PTFd                         // fd number in Arg.Int (AT_FDCWD is -100)
	PTErrno                      // return value in Arg.Int: >= 0 success, else -errno
	PTFSPath                     // path in Arg.Str; Arg.Resolved is the absolute form when Str is relative
	PTFSRelPath                  // path relative to the dirfd named by ParamSpec.DirFd
	PTCharBuf                    // text in Arg.Str
	PTByteBuf                    // raw bytes in Arg.Str
	PTFlags                      // bit set in Arg.Int, rendered with ParamSpec.Table
	PTEnum                       // one value in Arg.Int, rendered with ParamSpec.Table
	PTMode                       // chmod-style mode bits in Arg.Int
	PTOctal                      // number printed %#o (open mode)
	PTHex                        // number printed in upper-case hex (mkdir mode)
	PTUID                        // user id in Arg.Int (-1 none)
	PTGID                        // group id in Arg.Int (-1 none)
	PTPID                        // process id in Arg.Int
	PTSockTuple                  // socket tuple in Arg.Str, see [Sockaddr]
	PTSockAddr                   // socket address in Arg.Str, see [Sockaddr]
)

// Flag tables named by ParamSpec.Table. Values in Arg.Int are the kernel's
// own (O_CREAT is 0100), plus the synthetic bits below.
const (
	TableFileFlags      = "file_flags"
	TableSocketFamilies = "socket_families"
	TablePtraceRequests = "ptrace_requests"
	TableBpfCommands    = "bpf_commands"
	TableCloneFlags     = "clone_flags"
	TableUnlinkatFlags  = "unlinkat_flags"
	TableLinkatFlags    = "linkat_flags"
	TableRenameat2Flags = "renameat2_flags"
	TableOpenat2Resolve = "openat2_flags"
	TableExecveFlags    = "execve_flags"
	TableCreatFlags     = "creat_flags"
	TableDup3Flags      = "file_flags"
)

// Synthetic bits set by the collector in open-family flags: they mirror
// Falco's O_F_CREATED, FD_UPPER_LAYER and FD_LOWER_LAYER.
const (
	OpenFlagCreated    = 1 << 31
	OpenFlagUpperLayer = 1 << 30
	OpenFlagLowerLayer = 1 << 29
)

// Execve flags (the execve `flags` parameter, Falco's execve_flags).
const (
	ExecWritable   = 1 << 0
	ExecUpperLayer = 1 << 1
	ExecFromMemfd  = 1 << 2
	ExecLowerLayer = 1 << 3
)

// ParamSpec describes one parameter of an exit event.
type ParamSpec struct {
	Name  string
	Type  ParamType
	Table string // flag/enum table for PTFlags and PTEnum
	DirFd int    // PTFSRelPath: index of the dirfd parameter
}

// EventSpec names an event type and lists its exit parameters. Params[0]
// is the result ("res" or "fd") and is stored in [Event.Res]; Params[i]
// for i >= 1 is [Event.Args][i-1].
type EventSpec struct {
	Name   string
	Params []ParamSpec
	// UsesFD says the event carries fd information in [Event.FD] when the fd is known.
	UsesFD bool
}

func p(name string, t ParamType) ParamSpec { return ParamSpec{Name: name, Type: t} }
func pt(name string, t ParamType, table string) ParamSpec {
	return ParamSpec{Name: name, Type: t, Table: table}
}
func prel(name string, dirfd int) ParamSpec {
	return ParamSpec{Name: name, Type: PTFSRelPath, DirFd: dirfd}
}

var (
	resParam = p("res", PTErrno)
	fdParam  = p("fd", PTFd)
)

var execParams = []ParamSpec{
	resParam, p("exe", PTCharBuf), p("args", PTByteBuf), p("tid", PTPID), p("pid", PTPID),
	p("ptid", PTPID), p("cwd", PTCharBuf), p("fdlimit", PTUint64), p("pgft_maj", PTUint64),
	p("pgft_min", PTUint64), p("vm_size", PTUint32), p("vm_rss", PTUint32), p("vm_swap", PTUint32),
	p("comm", PTCharBuf), p("cgroups", PTByteBuf), p("env", PTByteBuf), p("tty", PTUint32),
	p("vpgid", PTPID), p("loginuid", PTUID), pt("flags", PTFlags, TableExecveFlags),
	p("cap_inheritable", PTUint64), p("cap_permitted", PTUint64), p("cap_effective", PTUint64),
	p("exe_ino", PTUint64), p("exe_ino_ctime", PTUint64), p("exe_ino_mtime", PTUint64),
	p("uid", PTUID), p("trusted_exepath", PTFSPath), p("pgid", PTPID), p("gid", PTGID),
}

var cloneParams = []ParamSpec{
	p("res", PTPID), p("exe", PTCharBuf), p("args", PTByteBuf), p("tid", PTPID), p("pid", PTPID),
	p("ptid", PTPID), p("cwd", PTCharBuf), p("comm", PTCharBuf), pt("flags", PTFlags, TableCloneFlags),
	p("uid", PTUID), p("gid", PTGID), p("vtid", PTPID), p("vpid", PTPID),
}

var specs = [eventTypeCount]EventSpec{
	EventUnknown: {Name: "unknown", Params: []ParamSpec{resParam}},
	EventOpen: {Name: "open", UsesFD: true, Params: []ParamSpec{fdParam, p("name", PTFSPath),
		pt("flags", PTFlags, TableFileFlags), p("mode", PTOctal), p("dev", PTUint32), p("ino", PTUint64)}},
	EventOpenat: {Name: "openat", UsesFD: true, Params: []ParamSpec{fdParam, p("dirfd", PTFd), prel("name", 1),
		pt("flags", PTFlags, TableFileFlags), p("mode", PTOctal), p("dev", PTUint32), p("ino", PTUint64)}},
	EventOpenat2: {Name: "openat2", UsesFD: true, Params: []ParamSpec{fdParam, p("dirfd", PTFd), prel("name", 1),
		pt("flags", PTFlags, TableFileFlags), p("mode", PTOctal), pt("resolve", PTFlags, TableOpenat2Resolve),
		p("dev", PTUint32), p("ino", PTUint64)}},
	EventCreat: {Name: "creat", UsesFD: true, Params: []ParamSpec{fdParam, p("name", PTFSPath), p("mode", PTOctal),
		p("dev", PTUint32), p("ino", PTUint64), pt("creat_flags", PTFlags, TableCreatFlags)}},
	EventExecve:   {Name: "execve", Params: append(append([]ParamSpec{}, execParams...), p("filename", PTFSPath))},
	EventExecveat: {Name: "execveat", Params: execParams},
	EventSocket: {Name: "socket", UsesFD: true, Params: []ParamSpec{fdParam, pt("domain", PTEnum, TableSocketFamilies),
		p("type", PTUint32), p("proto", PTUint32), pt("flags", PTFlags, TableFileFlags)}},
	EventConnect: {Name: "connect", UsesFD: true, Params: []ParamSpec{resParam, p("tuple", PTSockTuple), p("fd", PTFd),
		p("addr", PTSockAddr)}},
	EventListen: {Name: "listen", UsesFD: true, Params: []ParamSpec{resParam, p("fd", PTFd), p("backlog", PTUint32)}},
	EventAccept: {Name: "accept", UsesFD: true, Params: []ParamSpec{fdParam, p("tuple", PTSockTuple),
		p("queuepct", PTUint32), p("queuelen", PTUint32), p("queuemax", PTUint32)}},
	EventAccept4: {Name: "accept4", UsesFD: true, Params: []ParamSpec{fdParam, p("tuple", PTSockTuple),
		p("queuepct", PTUint32), p("queuelen", PTUint32), p("queuemax", PTUint32), pt("flags", PTFlags, TableFileFlags)}},
	EventSendto: {Name: "sendto", UsesFD: true, Params: []ParamSpec{resParam, p("data", PTByteBuf), p("fd", PTFd),
		p("size", PTUint32), p("tuple", PTSockTuple)}},
	EventSendmsg: {Name: "sendmsg", UsesFD: true, Params: []ParamSpec{resParam, p("data", PTByteBuf), p("fd", PTFd),
		p("size", PTUint32), p("tuple", PTSockTuple)}},
	EventRecvfrom: {Name: "recvfrom", UsesFD: true, Params: []ParamSpec{resParam, p("data", PTByteBuf),
		p("tuple", PTSockTuple), p("fd", PTFd), p("size", PTUint32)}},
	EventRecvmsg: {Name: "recvmsg", UsesFD: true, Params: []ParamSpec{resParam, p("size", PTUint32),
		p("data", PTByteBuf), p("tuple", PTSockTuple), p("msgcontrol", PTByteBuf), p("fd", PTFd)}},
	EventDup:  {Name: "dup", UsesFD: true, Params: []ParamSpec{p("res", PTFd), p("oldfd", PTFd)}},
	EventDup2: {Name: "dup2", UsesFD: true, Params: []ParamSpec{p("res", PTFd), p("oldfd", PTFd), p("newfd", PTFd)}},
	EventDup3: {Name: "dup3", UsesFD: true, Params: []ParamSpec{p("res", PTFd), p("oldfd", PTFd), p("newfd", PTFd),
		pt("flags", PTFlags, TableDup3Flags)}},
	EventSymlink: {Name: "symlink", Params: []ParamSpec{resParam, p("target", PTCharBuf), p("linkpath", PTFSPath)}},
	EventSymlinkat: {Name: "symlinkat", UsesFD: true, Params: []ParamSpec{resParam, p("target", PTCharBuf), p("linkdirfd", PTFd),
		prel("linkpath", 2)}},
	EventLink: {Name: "link", Params: []ParamSpec{resParam, p("oldpath", PTFSPath), p("newpath", PTFSPath)}},
	EventLinkat: {Name: "linkat", Params: []ParamSpec{resParam, p("olddir", PTFd), prel("oldpath", 1), p("newdir", PTFd),
		prel("newpath", 3), pt("flags", PTFlags, TableLinkatFlags)}},
	EventRename: {Name: "rename", Params: []ParamSpec{resParam, p("oldpath", PTFSPath), p("newpath", PTFSPath)}},
	EventRenameat: {Name: "renameat", Params: []ParamSpec{resParam, p("olddirfd", PTFd), prel("oldpath", 1),
		p("newdirfd", PTFd), prel("newpath", 3)}},
	EventRenameat2: {Name: "renameat2", Params: []ParamSpec{resParam, p("olddirfd", PTFd), prel("oldpath", 1),
		p("newdirfd", PTFd), prel("newpath", 3), pt("flags", PTFlags, TableRenameat2Flags)}},
	EventUnlink: {Name: "unlink", Params: []ParamSpec{resParam, p("path", PTFSPath)}},
	EventUnlinkat: {Name: "unlinkat", UsesFD: true, Params: []ParamSpec{resParam, p("dirfd", PTFd), prel("name", 1),
		pt("flags", PTFlags, TableUnlinkatFlags)}},
	EventRmdir:   {Name: "rmdir", Params: []ParamSpec{resParam, p("path", PTFSPath)}},
	EventMkdir:   {Name: "mkdir", Params: []ParamSpec{resParam, p("path", PTFSPath), p("mode", PTHex)}},
	EventMkdirat: {Name: "mkdirat", UsesFD: true, Params: []ParamSpec{resParam, p("dirfd", PTFd), prel("path", 1), p("mode", PTHex)}},
	EventChmod:   {Name: "chmod", Params: []ParamSpec{resParam, p("filename", PTFSPath), p("mode", PTMode)}},
	EventFchmod:  {Name: "fchmod", UsesFD: true, Params: []ParamSpec{resParam, p("fd", PTFd), p("mode", PTMode)}},
	EventFchmodat: {Name: "fchmodat", UsesFD: true, Params: []ParamSpec{resParam, p("dirfd", PTFd), prel("filename", 1),
		p("mode", PTMode)}},
	EventPtrace: {Name: "ptrace", Params: []ParamSpec{resParam, p("addr", PTUint64), p("data", PTUint64),
		pt("request", PTEnum, TablePtraceRequests), p("pid", PTPID)}},
	EventSetuid:      {Name: "setuid", Params: []ParamSpec{resParam, p("uid", PTUID)}},
	EventSetns:       {Name: "setns", UsesFD: true, Params: []ParamSpec{resParam, p("fd", PTFd), pt("nstype", PTFlags, TableCloneFlags)}},
	EventUnshare:     {Name: "unshare", Params: []ParamSpec{resParam, pt("flags", PTFlags, TableCloneFlags)}},
	EventUserfaultfd: {Name: "userfaultfd", UsesFD: true, Params: []ParamSpec{resParam, pt("flags", PTFlags, TableFileFlags)}},
	EventBpf:         {Name: "bpf", UsesFD: true, Params: []ParamSpec{fdParam, pt("cmd", PTEnum, TableBpfCommands)}},
	EventInitModule: {Name: "init_module", Params: []ParamSpec{resParam, p("img", PTByteBuf), p("length", PTUint64),
		p("uargs", PTCharBuf)}},
	EventFinitModule: {Name: "finit_module", UsesFD: true, Params: []ParamSpec{resParam, p("fd", PTFd), p("uargs", PTCharBuf),
		p("flags", PTUint32)}},
	EventClone:  {Name: "clone", Params: cloneParams},
	EventFork:   {Name: "fork", Params: cloneParams},
	EventVfork:  {Name: "vfork", Params: cloneParams},
	EventClone3: {Name: "clone3", Params: cloneParams},
	EventProcExit: {Name: "procexit", Params: []ParamSpec{p("status", PTInt64), p("ret", PTInt64), p("sig", PTUint32),
		p("core", PTUint32), p("reaper_tid", PTPID)}},
	EventClose:  {Name: "close", UsesFD: true, Params: []ParamSpec{resParam, p("fd", PTFd)}},
	EventChdir:  {Name: "chdir", Params: []ParamSpec{resParam, p("path", PTCharBuf)}},
	EventFchdir: {Name: "fchdir", UsesFD: true, Params: []ParamSpec{resParam, p("fd", PTFd)}},
	EventBind:   {Name: "bind", UsesFD: true, Params: []ParamSpec{resParam, p("addr", PTSockAddr), p("fd", PTFd)}},
	EventPipe:   {Name: "pipe", Params: []ParamSpec{resParam, p("fd1", PTFd), p("fd2", PTFd), p("ino", PTUint64)}},
	EventPipe2: {Name: "pipe2", Params: []ParamSpec{resParam, p("fd1", PTFd), p("fd2", PTFd), p("ino", PTUint64),
		pt("flags", PTFlags, TableFileFlags)}},
	EventMemfdCreate: {Name: "memfd_create", UsesFD: true, Params: []ParamSpec{fdParam, p("name", PTCharBuf), p("flags", PTUint32)}},
	EventSetgid:      {Name: "setgid", Params: []ParamSpec{resParam, p("gid", PTGID)}},
	EventSetresuid:   {Name: "setresuid", Params: []ParamSpec{resParam, p("ruid", PTUID), p("euid", PTUID), p("suid", PTUID)}},
	EventSetresgid:   {Name: "setresgid", Params: []ParamSpec{resParam, p("rgid", PTGID), p("egid", PTGID), p("sgid", PTGID)}},
	EventFcntl:       {Name: "fcntl", UsesFD: true, Params: []ParamSpec{p("res", PTFd), p("fd", PTFd), p("cmd", PTUint32)}},
	EventMount: {Name: "mount", Params: []ParamSpec{resParam, p("dev", PTCharBuf), p("dir", PTFSPath), p("type", PTCharBuf),
		p("flags", PTUint32)}},
	EventUmount2:  {Name: "umount2", Params: []ParamSpec{resParam, p("name", PTFSPath), p("flags", PTUint32)}},
	EventSetreuid: {Name: "setreuid", Params: []ParamSpec{resParam, p("ruid", PTUID), p("euid", PTUID)}},
	EventSetregid: {Name: "setregid", Params: []ParamSpec{resParam, p("rgid", PTGID), p("egid", PTGID)}},
	EventPrctl: {Name: "prctl", Params: []ParamSpec{resParam, p("option", PTUint32), p("arg2_str", PTCharBuf),
		p("arg2_int", PTInt64)}},
	EventCapset: {Name: "capset", Params: []ParamSpec{resParam, p("cap_inheritable", PTUint64), p("cap_permitted", PTUint64),
		p("cap_effective", PTUint64)}},
	EventKill:      {Name: "kill", Params: []ParamSpec{resParam, p("pid", PTPID), p("sig", PTUint32)}},
	EventChown:     {Name: "chown", Params: []ParamSpec{resParam, p("path", PTFSPath), p("uid", PTUID), p("gid", PTGID)}},
	EventFchown:    {Name: "fchown", UsesFD: true, Params: []ParamSpec{resParam, p("fd", PTFd), p("uid", PTUID), p("gid", PTGID)}},
	EventFchownat:  {Name: "fchownat", UsesFD: true, Params: []ParamSpec{resParam, p("dirfd", PTFd), prel("pathname", 1), p("uid", PTUID), p("gid", PTGID), p("flags", PTUint32)}},
	EventLchown:    {Name: "lchown", Params: []ParamSpec{resParam, p("path", PTFSPath), p("uid", PTUID), p("gid", PTGID)}},
	EventTruncate:  {Name: "truncate", Params: []ParamSpec{resParam, p("path", PTFSPath), p("length", PTUint64)}},
	EventFtruncate: {Name: "ftruncate", UsesFD: true, Params: []ParamSpec{resParam, p("fd", PTFd), p("length", PTUint64)}},
	EventIoUringSetup: {Name: "io_uring_setup", UsesFD: true, Params: []ParamSpec{fdParam, p("entries", PTUint32),
		p("flags", PTUint32)}},
	EventEventfd2: {Name: "eventfd2", UsesFD: true, Params: []ParamSpec{fdParam, p("initval", PTUint64), p("flags", PTUint32)}},
	EventSocketpair: {Name: "socketpair", Params: []ParamSpec{resParam, p("fd1", PTFd), p("fd2", PTFd),
		pt("domain", PTEnum, TableSocketFamilies), p("type", PTUint32), p("proto", PTUint32)}},
	EventDrop: {Name: "drop", Params: []ParamSpec{p("res", PTInt64), p("kernel_drops", PTUint64), p("user_drops", PTUint64),
		p("events", PTUint64), p("period_ns", PTUint64)}},
	EventContainer: {Name: "container", Params: []ParamSpec{p("res", PTInt64), p("id", PTCharBuf), p("type", PTCharBuf),
		p("name", PTCharBuf), p("image", PTCharBuf)}},
}

var byName = func() map[string]EventType {
	m := make(map[string]EventType, len(specs))
	for i := range specs {
		if specs[i].Name != "" {
			m[specs[i].Name] = EventType(i)
		}
	}
	return m
}()

// Spec returns the parameter table of t, or the spec of [EventUnknown] for
// a type this build does not know.
func (t EventType) Spec() *EventSpec {
	if int(t) >= len(specs) || specs[t].Name == "" {
		return &specs[EventUnknown]
	}
	return &specs[t]
}

// String returns Falco's evt.type name of t.
func (t EventType) String() string { return t.Spec().Name }

// Param returns the index of the parameter called name in t's table, or -1.
// Index 0 is the result ([Event.Res]); index i >= 1 is Args[i-1].
func (t EventType) Param(name string) int {
	for i, ps := range t.Spec().Params {
		if ps.Name == name {
			return i
		}
	}
	return -1
}

// EventTypeByName returns the type whose Falco name is name.
func EventTypeByName(name string) (EventType, bool) {
	t, ok := byName[name]
	return t, ok
}

// EventTypes returns every known event type, EventUnknown excluded.
func EventTypes() []EventType {
	out := make([]EventType, 0, len(specs))
	for i := 1; i < len(specs); i++ {
		if specs[i].Name != "" {
			out = append(out, EventType(i))
		}
	}
	return out
}
