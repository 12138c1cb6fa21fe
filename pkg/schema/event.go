package schema

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// Version is the wire version of [Batch]. A decoder rejects any other.
const Version = 1

// HostContainerID is Falco's container.id for processes outside containers.
const HostContainerID = "host"

// Batch is one bus message: many events sharing process and container
// tables, so that a process seen by 200 events is sent once.
type Batch struct {
	Version uint16
	Node    string // hostname of the collector's node
	Seq     uint64 // producer sequence, unique per (Node, collector start)
	// BootID tells collector restarts apart, so (Node, BootID, Seq) names
	// a batch for Nats-Msg-Id deduplication.
	BootID     string
	Procs      []Process
	Containers []Container // added by the enricher; keyed by Container.ID
	Events     []Event
}

// Event flags.
const (
	FlagEnter uint8 = 1 << 0 // an enter event: Res and most Args are not set
)

// Event is one system call exit (or a synthetic event) with the state of
// its process and fd after the call, as Falco sees it when rules run.
type Event struct {
	Num   uint64    // evt.num, per collector
	Ts    int64     // wall clock, ns since the Unix epoch
	Type  EventType // evt.type
	Flags uint8
	CPU   uint16
	Tid   int64 // thread id (host pid namespace)
	Proc  int32 // index into Batch.Procs, -1 when the thread is unknown
	Res   int64 // result: Params[0] of the type's spec (fd or -errno)
	Args  []Arg // Params[1:] of the type's spec, in order
	FD    *FD   // the fd the event used or created; nil when it has none
	Vtid  int64 // thread id in its own pid namespace, 0 unknown
}

// Arg is one parameter value; its [ParamSpec] says which field is used.
type Arg struct {
	Int int64
	Str string
	// Resolved is the absolute, normalized form of a relative path
	// parameter (joined to cwd or dirfd by the collector); empty otherwise.
	Resolved string
}

// IntArg returns an [Arg] holding n.
func IntArg(n int64) Arg { return Arg{Int: n} }

// StrArg returns an [Arg] holding s.
func StrArg(s string) Arg { return Arg{Str: s} }

// Process is the state of a thread group (Falco's proc.*, user.*, thread.*).
type Process struct {
	Pid       int64 // tgid in the host pid namespace
	Ppid      int64 // parent's tgid after reparenting
	Vpid      int64 // pid in its own pid namespace
	Pgid      int64
	Vpgid     int64
	Sid       int64
	Uid       uint32 // real
	Euid      uint32 // effective; Falco's user.uid
	Gid       uint32
	Egid      uint32
	LoginUID  uint32 // 4294967295 when unset
	User      string // name of Euid; "root" for 0, "<NA>" when unknown
	Group     string // name of Egid
	LoginName string

	Comm    string   // kernel comm (proc.name)
	Exe     string   // argv[0] (proc.exe)
	ExePath string   // resolved path of the executable (proc.exepath)
	Args    []string // argv[1:]
	Env     []string // KEY=VALUE entries
	Cwd     string   // always ends in "/"
	TTY     uint32   // Falco-encoded tty device, 0 for none
	SName   string   // comm of the session leader

	CapEffective   uint64
	CapPermitted   uint64
	CapInheritable uint64

	ExeFlags    uint32 // Exec* bits (writable, upper layer, memfd)
	ExeIno      uint64
	ExeInoCtime int64 // ns epoch, 0 unknown
	ExeInoMtime int64

	StartTs          int64 // clone time, ns epoch (proc.duration), 0 unknown
	PidNSInitStartTs int64 // start of the pid namespace's init (container.start_ts)

	CgroupID    uint64 // v2 cgroup id
	MemCgroupID uint64 // v1 memory controller cgroup id
	Cgroup      string // cgroup path the container id was parsed from
	ContainerID string // full id parsed from Cgroup, or HostContainerID

	NS Namespaces // inode numbers, as /proc/PID/ns shows them
	// NSID holds ns_common.ns_id where the kernel has it (0 otherwise): unlike
	// inode numbers, they are not reused.
	NSID Namespaces

	// Ancestors are the parent (index 0) and its ancestors upward, at
	// least seven levels when the tree is that deep.
	Ancestors []Ancestor
}

// Namespaces holds namespace identifiers (inode numbers).
type Namespaces struct {
	Pid, Mnt, Net, User, UTS, IPC, Cgroup uint64
}

// Ancestor is one process above the event's process.
type Ancestor struct {
	Pid     int64
	Comm    string
	Exe     string
	ExePath string
	Args    []string
	StartTs int64 // clone time, ns epoch, 0 unknown
}

// Socket roles.
const (
	RoleNone   uint8 = 0
	RoleClient uint8 = 1 // the local end initiated (connect)
	RoleServer uint8 = 2 // the local end accepted or listens
)

// FD is what the collector knows of one file descriptor.
type FD struct {
	Num     int64
	Type    FDType // Falco fd.typechar: 'f','d','4','6','u','p','e','s','l','i','t','n','b','r','m','P','o'
	Name    string // Falco fd.name (normalized path, or "cip:cport->sip:sport")
	NameRaw string // path as passed to open*, "" otherwise
	Flags   uint32 // open flags, kernel values plus OpenFlag* bits
	Dev     uint32
	Ino     uint64

	// Sockets.
	Family     uint8 // AF_INET, AF_INET6, AF_UNIX ...
	L4         uint8 // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_RAW, 0 unknown
	Role       uint8
	Connected  bool
	ClientIP   netip.Addr
	ClientPort uint16
	ServerIP   netip.Addr
	ServerPort uint16
	// NameChanged says Name changed while this event was parsed (the
	// first sendto on an unconnected UDP socket): Falco's fd.name_changed.
	NameChanged bool
}

// FDType is Falco's fd.typechar; in JSON it is the one-character string.
type FDType byte

// MarshalJSON writes t as a one-character string ("f").
func (t FDType) MarshalJSON() ([]byte, error) {
	if t == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(string(rune(t)))
}

// UnmarshalJSON reads a one-character string or a number.
func (t *FDType) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n byte
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("fd type: %w", err)
		}
		*t = FDType(n)
		return nil
	}
	if len(s) > 1 {
		return fmt.Errorf("fd type %q: want one character", s)
	}
	*t = 0
	if s != "" {
		*t = FDType(s[0])
	}
	return nil
}

// Container is runtime and Kubernetes metadata, added by the enricher.
type Container struct {
	ID          string // full id (64 hex for docker/CRI)
	Type        string // docker, containerd, cri-o, podman
	Name        string
	Image       string // as the runtime reports it
	ImageRepo   string
	ImageTag    string
	ImageDigest string
	ImageID     string
	Privileged  bool
	Mounts      []Mount
	StartTs     int64 // ns epoch
	Healthcheck string
	Labels      map[string]string
	IP          string
	// Incomplete is true when the runtime was not reached in time and only
	// the id is known.
	Incomplete bool

	Pod *Pod // nil outside Kubernetes
}

// Mount is one container mount.
type Mount struct {
	Source      string
	Dest        string
	Mode        string
	RW          bool
	Propagation string
}

// Pod is Kubernetes metadata of a container's pod.
type Pod struct {
	Name           string
	UID            string
	Namespace      string
	IP             string
	Labels         map[string]string
	NSLabels       map[string]string
	ReplicaSet     string
	Deployment     string
	Node           string
	OwnerKind      string
	OwnerName      string
	ServiceAccount string
}

// Process returns the process of e, or nil when unknown.
func (b *Batch) Process(e *Event) *Process {
	if e.Proc < 0 || int(e.Proc) >= len(b.Procs) {
		return nil
	}
	return &b.Procs[e.Proc]
}

// Container returns the container metadata for id, or nil.
func (b *Batch) Container(id string) *Container {
	for i := range b.Containers {
		if b.Containers[i].ID == id {
			return &b.Containers[i]
		}
	}
	return nil
}

// Arg returns the value of parameter i of e's spec (0 is Res) and whether
// e has it.
func (e *Event) Arg(i int) (Arg, bool) {
	if i == 0 {
		if e.Flags&FlagEnter != 0 {
			return Arg{}, false
		}
		return Arg{Int: e.Res}, true
	}
	if i < 1 || i > len(e.Args) {
		return Arg{}, false
	}
	return e.Args[i-1], true
}
