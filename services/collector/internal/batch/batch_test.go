package batch

import (
	"fmt"
	"strings"
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/procfs"
	"github.com/peregrine-rt/peregrine/services/collector/internal/state"
)

func TestProcsOncePerGeneration(t *testing.T) {
	tab := state.New(state.Config{Proc: procfs.FS(t.TempDir())})
	p := &state.Proc{Process: schema.Process{Pid: 7, Comm: "a"}, Gen: 1}
	b := New("node", "boot")
	b.Add(schema.Event{Type: schema.EventClose}, p, tab)
	b.Add(schema.Event{Type: schema.EventClose}, p, tab)
	p.Gen++
	p.Comm = "b"
	b.Add(schema.Event{Type: schema.EventClose}, p, tab)
	b.Add(schema.Event{Type: schema.EventDrop}, nil, tab)
	got := b.Take()
	if len(got.Procs) != 2 || got.Procs[1].Comm != "b" || got.Events[1].Proc != 0 || got.Events[2].Proc != 1 || got.Events[3].Proc != -1 {
		t.Errorf("batch %+v", got)
	}
	if got.Seq != 1 || got.Node != "node" || got.Version != schema.Version {
		t.Errorf("header %+v", got)
	}
	if b.Take() != nil {
		t.Error("empty batch taken")
	}
	b.Add(schema.Event{}, nil, tab)
	if next := b.Take(); next.Seq != 2 {
		t.Errorf("seq %d", next.Seq)
	}
}

// TestBytesBound: Bytes is an upper estimate of the encoded batch, not
// far above it, for small events and for processes with long argv/env.
func TestBytesBound(t *testing.T) {
	tab := state.New(state.Config{Proc: procfs.FS(t.TempDir())})
	env := make([]string, 40)
	for i := range env {
		env[i] = fmt.Sprintf("VAR_%d=%s", i, strings.Repeat("v", 60))
	}
	for _, tc := range []struct {
		name  string
		procs int
	}{{"one process", 1}, {"a process per event", 300}} {
		b := New("node", "boot")
		for i := 0; i < 300; i++ {
			p := &state.Proc{Process: schema.Process{Pid: int64(i % tc.procs), Comm: "sh", Exe: "/bin/sh",
				Args: []string{"-c", strings.Repeat("x", 200)}, Env: env, Cwd: "/root/", User: "root"}, Gen: 1}
			b.Add(schema.Event{Type: schema.EventOpenat, Ts: 1 << 60, Res: 3,
				Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/etc/" + strings.Repeat("p", 40)), schema.IntArg(0x80000), schema.IntArg(0)},
				FD:   &schema.FD{Num: 3, Type: 'f', Name: "/etc/" + strings.Repeat("p", 40)}}, p, tab)
		}
		est := b.Bytes()
		data, err := schema.Marshal(b.Take())
		if err != nil {
			t.Fatal(err)
		}
		if est < len(data) || est > 3*len(data) {
			t.Errorf("%s: estimate %d bytes, encoded %d", tc.name, est, len(data))
		}
		if b.Bytes() >= est/10 {
			t.Errorf("%s: estimate %d after Take", tc.name, b.Bytes())
		}
	}
}
