package record

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestContexts(t *testing.T) {
	ctxA := Context{Ppid: 1, Uid: 1000, Euid: 1000, Comm: [16]byte{'s', 'h'}}
	ctxB := Context{Ppid: 1, Uid: 0, Euid: 0, Comm: [16]byte{'s', 'h'}} // after setuid(0)
	full := func(k Kind, tid uint32, c Context) *Record {
		return &Record{Header: Header{Kind: k, Pid: 10, Tid: tid, Context: c}}
	}
	part := func(k Kind, tid uint32) *Record {
		return &Record{Header: Header{Kind: k, Pid: 10, Tid: tid, Partial: true}}
	}
	type step struct {
		rec  *Record
		ok   bool
		want Header // after Complete
	}
	tests := []struct {
		name  string
		steps []step
		left  int // threads kept at the end
	}{
		{"partial takes the last full", []step{
			{full(KindSysExit, 11, ctxA), true, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Context: ctxA}},
			{part(KindSysExit, 11), true, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Context: ctxA}},
			{full(KindSysExit, 11, ctxB), true, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Context: ctxB}},
			{part(KindSysEnter, 11), true, Header{Kind: KindSysEnter, Pid: 10, Tid: 11, Context: ctxB}},
		}, 1},
		{"threads are apart", []step{
			{full(KindSysExit, 11, ctxA), true, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Context: ctxA}},
			{full(KindSysExit, 12, ctxB), true, Header{Kind: KindSysExit, Pid: 10, Tid: 12, Context: ctxB}},
			{part(KindSysExit, 11), true, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Context: ctxA}},
		}, 2},
		{"unknown thread stays partial", []step{
			{part(KindSysExit, 13), false, Header{Kind: KindSysExit, Pid: 10, Tid: 13, Partial: true}},
		}, 0},
		{"thread exit forgets", []step{
			{full(KindSysExit, 11, ctxA), true, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Context: ctxA}},
			{part(KindThreadExit, 11), true, Header{Kind: KindThreadExit, Pid: 10, Tid: 11, Partial: true}},
			{part(KindSysExit, 11), false, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Partial: true}},
		}, 0},
		{"process exit forgets", []step{
			{full(KindSysExit, 11, ctxA), true, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Context: ctxA}},
			{full(KindExit, 11, ctxB), true, Header{Kind: KindExit, Pid: 10, Tid: 11, Context: ctxB}},
		}, 0},
		{"exec by a non-leader forgets its old tid", []step{
			{full(KindSysExit, 11, ctxA), true, Header{Kind: KindSysExit, Pid: 10, Tid: 11, Context: ctxA}},
			{func() *Record { r := full(KindExec, 10, ctxB); r.Args[0] = 11; return r }(), true,
				Header{Kind: KindExec, Pid: 10, Tid: 10, Args: [6]uint64{11}, Context: ctxB}},
			{part(KindSysExit, 10), true, Header{Kind: KindSysExit, Pid: 10, Tid: 10, Context: ctxB}},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewContexts()
			for i, s := range tt.steps {
				if ok := c.Complete(s.rec); ok != s.ok {
					t.Errorf("step %d: ok %v, want %v", i, ok, s.ok)
				}
				if diff := cmp.Diff(s.want, s.rec.Header); diff != "" {
					t.Errorf("step %d: (-want +got)\n%s", i, diff)
				}
			}
			if c.Len() != tt.left {
				t.Errorf("%d threads kept, want %d", c.Len(), tt.left)
			}
		})
	}
}

func TestContextsSweep(t *testing.T) {
	proc := t.TempDir() // tid 7 "exists", 8 does not
	if err := mkdirs(proc, "7"); err != nil {
		t.Fatal(err)
	}
	c := NewContexts()
	for _, tid := range []uint32{7, 8} {
		c.Complete(&Record{Header: Header{Kind: KindSysExit, Tid: tid}})
	}
	// a thread seen since the previous sweep is kept, gone or not: its
	// exit record may still be on its way
	if n := c.Sweep(proc); n != 0 || c.Len() != 2 {
		t.Fatalf("first sweep forgot %d, kept %d", n, c.Len())
	}
	if n := c.Sweep(proc); n != 1 || c.Len() != 1 {
		t.Fatalf("second sweep forgot %d, kept %d", n, c.Len())
	}
	r := &Record{Header: Header{Kind: KindSysExit, Tid: 7, Partial: true}}
	if !c.Complete(r) {
		t.Error("live thread 7 forgotten")
	}
}

func mkdirs(root string, names ...string) error {
	for _, n := range names {
		if err := os.Mkdir(filepath.Join(root, n), 0o755); err != nil {
			return err
		}
	}
	return nil
}
