package schema

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// benchBatch is a batch as the collector sends it: 64 events of 4 processes.
func benchBatch() *Batch {
	b := sampleBatch()
	b.Containers = nil
	proto := b.Procs[0]
	b.Procs = nil
	for k := 0; k < 4; k++ {
		p := proto
		p.Pid = int64(1000 + k)
		b.Procs = append(b.Procs, p)
	}
	tmpl := b.Events[:2]
	b.Events = nil
	for k := 0; k < 64; k++ {
		ev := tmpl[k%2]
		ev.Num = uint64(k)
		ev.Proc = int32(k % 4)
		b.Events = append(b.Events, ev)
	}
	return b
}

func BenchmarkCodec(b *testing.B) {
	batch := benchBatch()
	n := len(batch.Events)
	b.Run("handwritten/encode", func(b *testing.B) {
		var size int
		for b.Loop() {
			data, err := Marshal(batch)
			if err != nil {
				b.Fatal(err)
			}
			size = len(data)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		b.ReportMetric(float64(size)/float64(n), "B/event")
	})
	b.Run("handwritten/decode", func(b *testing.B) {
		data, _ := Marshal(batch)
		for b.Loop() {
			if _, err := Unmarshal(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	})
	tagged := toTagged(batch)
	b.Run("structtags/encode", func(b *testing.B) {
		var size int
		for b.Loop() {
			data, err := msgpack.Marshal(tagged)
			if err != nil {
				b.Fatal(err)
			}
			size = len(data)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		b.ReportMetric(float64(size)/float64(n), "B/event")
	})
	b.Run("structtags/decode", func(b *testing.B) {
		data, _ := msgpack.Marshal(tagged)
		for b.Loop() {
			var out taggedBatch
			if err := msgpack.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	})
}

// The tagged mirror is what plain msgpack struct tags give (array form, the
// faster of the tag forms): the baseline the hand-written codec is measured
// against.
type taggedBatch struct {
	_msgpack   struct{} `msgpack:",as_array"`
	Version    uint16
	Node       string
	Seq        uint64
	BootID     string
	Procs      []taggedProcess
	Containers []Container
	Events     []taggedEvent
}

type taggedProcess struct {
	_msgpack                                            struct{} `msgpack:",as_array"`
	Pid, Ppid, Vpid, Pgid, Vpgid, Sid                   int64
	Uid, Euid, Gid, Egid, LoginUID                      uint32
	User, Group, LoginName, Comm, Exe, ExePath          string
	Args, Env                                           []string
	Cwd                                                 string
	TTY                                                 uint32
	SName                                               string
	CapEffective, CapPermitted, CapInheritable          uint64
	ExeFlags                                            uint32
	ExeIno                                              uint64
	ExeInoCtime, ExeInoMtime, StartTs, PidNSInitStartTs int64
	CgroupID, MemCgroupID                               uint64
	Cgroup, ContainerID                                 string
	NSPid, NSMnt, NSNet, NSUser, NSUTS, NSIPC, NSCgroup uint64
	Ancestors                                           []taggedAncestor
}

type taggedAncestor struct {
	_msgpack           struct{} `msgpack:",as_array"`
	Pid                int64
	Comm, Exe, ExePath string
	Args               []string
}

type taggedEvent struct {
	_msgpack struct{} `msgpack:",as_array"`
	Num      uint64
	Ts       int64
	Type     uint16
	Flags    uint8
	CPU      uint16
	Tid      int64
	Proc     int32
	Res      int64
	Args     []taggedArg
	FD       *taggedFD
}

type taggedArg struct {
	_msgpack      struct{} `msgpack:",as_array"`
	Int           int64
	Str, Resolved string
}

type taggedFD struct {
	_msgpack         struct{} `msgpack:",as_array"`
	Num              int64
	Type             byte
	Name, NameRaw    string
	Flags, Dev       uint32
	Ino              uint64
	Family, L4, Role uint8
	Connected        bool
	ClientIP         []byte
	ClientPort       uint16
	ServerIP         []byte
	ServerPort       uint16
}

func ipBytes(a netip.Addr) []byte {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

func toTagged(b *Batch) *taggedBatch {
	out := &taggedBatch{Version: b.Version, Node: b.Node, Seq: b.Seq, BootID: b.BootID}
	for _, p := range b.Procs {
		tp := taggedProcess{Pid: p.Pid, Ppid: p.Ppid, Vpid: p.Vpid, Pgid: p.Pgid, Vpgid: p.Vpgid, Sid: p.Sid,
			Uid: p.Uid, Euid: p.Euid, Gid: p.Gid, Egid: p.Egid, LoginUID: p.LoginUID, User: p.User, Group: p.Group,
			LoginName: p.LoginName, Comm: p.Comm, Exe: p.Exe, ExePath: p.ExePath, Args: p.Args, Env: p.Env, Cwd: p.Cwd,
			TTY: p.TTY, SName: p.SName, CapEffective: p.CapEffective, CapPermitted: p.CapPermitted,
			CapInheritable: p.CapInheritable, ExeFlags: p.ExeFlags, ExeIno: p.ExeIno, ExeInoCtime: p.ExeInoCtime,
			ExeInoMtime: p.ExeInoMtime, StartTs: p.StartTs, PidNSInitStartTs: p.PidNSInitStartTs, CgroupID: p.CgroupID,
			MemCgroupID: p.MemCgroupID, Cgroup: p.Cgroup, ContainerID: p.ContainerID, NSPid: p.NS.Pid, NSMnt: p.NS.Mnt,
			NSNet: p.NS.Net, NSUser: p.NS.User, NSUTS: p.NS.UTS, NSIPC: p.NS.IPC, NSCgroup: p.NS.Cgroup}
		for _, a := range p.Ancestors {
			tp.Ancestors = append(tp.Ancestors, taggedAncestor{Pid: a.Pid, Comm: a.Comm, Exe: a.Exe, ExePath: a.ExePath, Args: a.Args})
		}
		out.Procs = append(out.Procs, tp)
	}
	for _, ev := range b.Events {
		te := taggedEvent{Num: ev.Num, Ts: ev.Ts, Type: uint16(ev.Type), Flags: ev.Flags, CPU: ev.CPU, Tid: ev.Tid,
			Proc: ev.Proc, Res: ev.Res}
		for _, a := range ev.Args {
			te.Args = append(te.Args, taggedArg{Int: a.Int, Str: a.Str, Resolved: a.Resolved})
		}
		if f := ev.FD; f != nil {
			te.FD = &taggedFD{Num: f.Num, Type: byte(f.Type), Name: f.Name, NameRaw: f.NameRaw, Flags: f.Flags, Dev: f.Dev,
				Ino: f.Ino, Family: f.Family, L4: f.L4, Role: f.Role, Connected: f.Connected,
				ClientIP: ipBytes(f.ClientIP), ClientPort: f.ClientPort, ServerIP: ipBytes(f.ServerIP), ServerPort: f.ServerPort}
		}
		out.Events = append(out.Events, te)
	}
	return out
}

func ExampleMarshal() {
	b := &Batch{Node: "node-1", Seq: 1, BootID: "x", Events: []Event{{
		Num: 1, Type: EventOpenat, Proc: -1, Res: 3,
		Args: []Arg{IntArg(-100), StrArg("/etc/shadow"), IntArg(0), IntArg(0), IntArg(0), IntArg(0)},
	}}}
	data, _ := Marshal(b)
	back, err := Unmarshal(data)
	if err != nil {
		panic(err)
	}
	ev := back.Events[0]
	name := ev.Type.Param("name")
	arg, _ := ev.Arg(name)
	fmt.Println(ev.Type, arg.Str, RawSubject(back.Node), BatchMsgID(back))
	// Output: openat /etc/shadow events.raw.node-1 node-1-x-1
}
