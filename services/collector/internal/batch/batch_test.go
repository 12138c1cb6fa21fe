package batch

import (
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
