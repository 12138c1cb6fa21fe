package convert

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/procfs"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/state"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
	"github.com/peregrine-rt/peregrine/services/collector/internal/users"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

type fixedClock struct{}

func (fixedClock) Wall(ns uint64) int64 { return int64(ns) + 1_000_000_000_000 }

// newConv returns a converter over an empty /proc, so every process comes
// from records alone.
func newConv(t *testing.T) *Converter {
	dir := t.TempDir()
	tab := state.New(state.Config{Proc: procfs.FS(dir), Users: users.New(dir, dir), Clock: fixedClock{}})
	return New(tab, fixedClock{})
}

const atFDCWD = uint64(1<<64 - 100)

func sys(nr uint16, ret int64, args ...uint64) *record.Record {
	r := &record.Record{Header: record.Header{Kind: record.KindSysExit, Nr: nr, Ret: ret, Pid: 100, Tid: 100,
		Context: record.Context{Ppid: 1, NSInum: [7]uint32{1, 2, 3, 4, 5, 6, 7}}}}
	copy(r.Comm[:], "app")
	copy(r.Args[:], args)
	return r
}

func withItems(r *record.Record, it ...record.Item) *record.Record {
	r.Items = append(r.Items, it...)
	// round-trip through the wire form, as the ring delivers it
	var out record.Record
	if err := record.Decode(record.Encode(nil, r), &out); err != nil {
		panic(err)
	}
	return &out
}

func strItem(s string) record.Item { return record.Item{Type: record.ItemStr, Data: []byte(s)} }

func convert(t *testing.T, c *Converter, r *record.Record) Result {
	t.Helper()
	res, ok := c.Convert(r)
	if !ok {
		t.Fatalf("record %+v made no event", r.Header)
	}
	return res
}

func TestPathsAndFDs(t *testing.T) {
	c := newConv(t)
	convert(t, c, withItems(sys(sysno.Chdir, 0), strItem("/tmp/x")))
	res := convert(t, c, withItems(sys(sysno.Openat, 3, atFDCWD, 0, 0o2000000, 0),
		strItem("a/../b.txt"), record.Item{Type: record.ItemFile, Data: record.AppendFile(nil, record.File{Ino: 9, Dev: 8})}))
	ev := res.Event
	if ev.Type != schema.EventOpenat || ev.Res != 3 {
		t.Fatalf("event %+v", ev)
	}
	want := []schema.Arg{{Int: -100}, {Str: "a/../b.txt", Resolved: "/tmp/x/b.txt"}, {Int: 0o2000000}, {}, {Int: 8}, {Int: 9}}
	if diff := cmp.Diff(want, ev.Args); diff != "" {
		t.Errorf("args (-want +got)\n%s", diff)
	}
	wantFD := &schema.FD{Num: 3, Type: 'f', Name: "/tmp/x/b.txt", NameRaw: "a/../b.txt", Flags: 0o2000000, Dev: 8, Ino: 9}
	if diff := cmp.Diff(wantFD, ev.FD, addrCmp); diff != "" {
		t.Errorf("fd (-want +got)\n%s", diff)
	}
	if res.Proc.Cwd != "/tmp/x/" {
		t.Errorf("cwd %q", res.Proc.Cwd)
	}

	// dup2 copies the fd without close-on-exec
	res = convert(t, c, sys(sysno.Dup2, 7, 3, 7))
	if res.Event.FD == nil || res.Event.FD.Num != 7 || res.Event.FD.Name != "/tmp/x/b.txt" || res.Event.FD.Flags != 0 {
		t.Errorf("dup2 fd %+v", res.Event.FD)
	}
	// relative to a directory fd
	convert(t, c, withItems(sys(sysno.Openat, 4, atFDCWD, 0, 0o200000, 0), strItem("/etc")))
	res = convert(t, c, withItems(sys(sysno.Unlinkat, 0, 4, 0, 0), strItem("passwd")))
	if a := res.Event.Args[1]; a.Resolved != "/etc/passwd" {
		t.Errorf("unlinkat path %+v", a)
	}
	if res.Event.FD == nil || res.Event.FD.Type != 'd' {
		t.Errorf("unlinkat fd %+v", res.Event.FD)
	}
	// close removes the fd
	res = convert(t, c, sys(sysno.Close, 0, 3))
	if res.Event.FD == nil || res.Event.FD.Num != 3 {
		t.Errorf("close fd %+v", res.Event.FD)
	}
	if _, ok := res.Proc.FDs[3]; ok {
		t.Error("fd 3 still open after close")
	}
	// a failed legacy open: fd -1, typechar 'o'
	res = convert(t, c, withItems(sys(sysno.Open, -2, 0, 0, 0), strItem("nope")))
	if fd := res.Event.FD; fd == nil || fd.Num != -1 || fd.Type != 'o' || fd.Name != "/tmp/x/nope" {
		t.Errorf("failed open fd %+v", fd)
	}
}

func TestConnect(t *testing.T) {
	c := newConv(t)
	convert(t, c, sys(sysno.Socket, 5, 2, 1, 0))
	sa := make([]byte, 16)
	binary.LittleEndian.PutUint16(sa, 2)
	binary.BigEndian.PutUint16(sa[2:], 443)
	copy(sa[4:], []byte{10, 0, 0, 1})
	sock := record.Sock{Family: 2, Type: 1, Proto: 6, LPort: 40000, RPort: 443,
		LAddr: netip.MustParseAddr("10.0.0.2"), RAddr: netip.MustParseAddr("10.0.0.1")}
	res := convert(t, c, withItems(sys(sysno.Connect, 0, 5, 0x1000, 16),
		record.Item{Type: record.ItemSockaddr, Data: sa},
		record.Item{Type: record.ItemSock, Data: record.AppendSock(nil, sock)}))
	tu, err := schema.ParseTuple(res.Event.Args[0].Str)
	if err != nil {
		t.Fatal(err)
	}
	want := schema.Tuple{Family: 2, SrcIP: sock.LAddr, SrcPort: 40000, DstIP: sock.RAddr, DstPort: 443}
	if diff := cmp.Diff(want, tu, addrCmp); diff != "" {
		t.Errorf("tuple (-want +got)\n%s", diff)
	}
	fd := res.Event.FD
	if fd == nil || fd.Name != "10.0.0.2:40000->10.0.0.1:443" || fd.L4 != state.IPProtoTCP || fd.Role != schema.RoleClient || !fd.Connected {
		t.Errorf("fd %+v", fd)
	}
	if got, _ := schema.ParseSockaddr(res.Event.Args[2].Str); got.Port != 443 || got.IP != sock.RAddr {
		t.Errorf("addr %+v", got)
	}
}

func TestForkExit(t *testing.T) {
	c := newConv(t)
	convert(t, c, withItems(sys(sysno.Openat, 3, atFDCWD, 0, 0, 0), strItem("/etc/hosts")))
	fork := &record.Record{Header: record.Header{Kind: record.KindFork, Pid: 100, Tid: 100, Context: record.Context{Ppid: 1}}}
	fork = withItems(fork, record.Item{Type: record.ItemFork, Data: record.AppendFork(nil, record.Fork{ChildPid: 200, ChildTid: 200, ChildVpid: 200})})
	res := convert(t, c, fork)
	if res.Event.Type != schema.EventClone || res.Event.Res != 200 {
		t.Errorf("clone %+v", res.Event)
	}
	child := c.T.Get(200)
	if child == nil || child.Ppid != 100 || child.FDs[3] == nil {
		t.Fatalf("child %+v", child)
	}
	ex := &record.Record{Header: record.Header{Kind: record.KindExit, Pid: 200, Tid: 200, Context: record.Context{Ppid: 100}}}
	ex = withItems(ex, record.Item{Type: record.ItemExit, Data: []byte{0, 2, 0, 0, 0, 0, 0, 0}})
	res = convert(t, c, ex)
	if res.Event.Type != schema.EventProcExit || !res.Remove || res.Event.Args[0].Int != 2 {
		t.Errorf("procexit %+v", res.Event)
	}
}
