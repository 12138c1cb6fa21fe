package evaluate

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/rules"
	"github.com/peregrine-rt/peregrine/pkg/schema"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
)

const twoRules = `
- rule: Cat open
  desc: x
  condition: evt.type = openat and proc.name = cat
  output: "cat %fd.name"
  priority: WARNING
- rule: Any open
  desc: x
  condition: evt.type = openat
  output: "open %fd.name"
  priority: INFO
`

func engine(t *testing.T, m rules.Matching) *rules.Engine {
	t.Helper()
	eng, err := rules.Compile([]rules.File{{Name: "test.yaml", Data: []byte(twoRules)}}, rules.Options{Matching: m})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func testBatch() *schema.Batch {
	open := func(proc int32, name string) schema.Event {
		return schema.Event{Type: schema.EventOpenat, Proc: proc, Res: 3, Ts: 1,
			Args: []schema.Arg{{Int: -100}, {Str: name}, {}, {}, {}, {}}, FD: &schema.FD{Num: 3, Type: 'f', Name: name}}
	}
	return &schema.Batch{Node: "n1", BootID: "b", Seq: 9,
		Procs: []schema.Process{{Pid: 1, Comm: "cat"}, {Pid: 2, Comm: "ls"}},
		Events: []schema.Event{
			open(0, "/a"),
			{Type: schema.EventDrop, Proc: -1, Ts: 2, Args: []schema.Arg{{Int: 10}, {Int: 0}, {Int: 100}, {Int: int64(time.Second)}}},
			open(1, "/b"),
		}}
}

type got struct {
	Subject, MsgID, Host string
	Event                int
}

func TestBatch(t *testing.T) {
	tests := []struct {
		name     string
		matching rules.Matching
		hostname string
		want     []got
	}{
		{"first match, node as hostname", rules.MatchFirst, "", []got{
			{"alerts.warning.cat_open", "B:0:cat_open", "n1", 0},
			{"alerts.debug.peregrine_internal_syscall_event_drop", "B:1:peregrine_internal_syscall_event_drop", "n1", 1},
			{"alerts.informational.any_open", "B:2:any_open", "n1", 2},
		}},
		{"all matches, fixed hostname", rules.MatchAll, "h", []got{
			{"alerts.warning.cat_open", "B:0:cat_open", "h", 0},
			{"alerts.informational.any_open", "B:0:any_open", "h", 0},
			{"alerts.debug.peregrine_internal_syscall_event_drop", "B:1:peregrine_internal_syscall_event_drop", "h", 1},
			{"alerts.informational.any_open", "B:2:any_open", "h", 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := New(tt.hostname, dropalert.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var out []got
			n := ev.NewWorker().Batch(engine(t, tt.matching), testBatch(), "B", func(a Alert) {
				out = append(out, got{a.Subject, a.MsgID, a.Alert.Hostname, a.Event})
			})
			if n != 3 {
				t.Errorf("evaluated %d events, want 3", n)
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}

// The same batch evaluated twice, as on a redelivery, gives the same
// message ids; another batch gives others.
func TestMsgIDsAreDeterministic(t *testing.T) {
	ev, err := New("", dropalert.Options{Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine(t, rules.MatchAll)
	ids := func(batchID string) []string {
		var out []string
		ev.NewWorker().Batch(eng, testBatch(), batchID, func(a Alert) { out = append(out, a.MsgID) })
		return out
	}
	first, again, other := ids("n1-b-9"), ids("n1-b-9"), ids("n1-b-10")
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("redelivery changed the ids (-first +again):\n%s", diff)
	}
	for i := range first {
		if first[i] == other[i] {
			t.Errorf("batches n1-b-9 and n1-b-10 share alert id %q", first[i])
		}
	}
}
