package dropalert

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func dropEvent(ts int64, kernel, user, events uint64) *schema.Event {
	return &schema.Event{Type: schema.EventDrop, Ts: ts, Proc: -1, Args: []schema.Arg{
		schema.IntArg(int64(kernel)), schema.IntArg(int64(user)), schema.IntArg(int64(events)),
		schema.IntArg(int64(time.Second)),
	}}
}

func TestCheck(t *testing.T) {
	sec := int64(time.Second)
	type in struct {
		node   string
		ts     int64
		kernel uint64
		events uint64
	}
	tests := []struct {
		name   string
		opts   Options
		events []in
		want   []bool
	}{
		{
			name:   "burst then one per interval",
			opts:   Options{Interval: 10 * time.Second, Burst: 2},
			events: []in{{"a", 0, 5, 100}, {"a", sec, 5, 100}, {"a", 2 * sec, 5, 100}, {"a", 12 * sec, 5, 100}, {"a", 13 * sec, 5, 100}},
			want:   []bool{true, true, false, true, false},
		},
		{
			name:   "nodes have their own buckets",
			opts:   Options{Interval: time.Minute, Burst: 1},
			events: []in{{"a", 0, 5, 100}, {"b", 0, 5, 100}, {"a", sec, 5, 100}},
			want:   []bool{true, true, false},
		},
		{
			name:   "under the threshold or no drops",
			opts:   Options{Threshold: 1},
			events: []in{{"a", 0, 1, 1000}, {"a", sec, 0, 1000}, {"a", 2 * sec, 20, 1000}},
			want:   []bool{false, false, true},
		},
		{
			name:   "refill is capped at the burst",
			opts:   Options{Interval: time.Second, Burst: 1},
			events: []in{{"a", 0, 5, 100}, {"a", 100 * sec, 5, 100}, {"a", 100 * sec, 5, 100}},
			want:   []bool{true, true, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []bool
			for _, e := range tt.events {
				_, ok := l.Check(e.node, "h", dropEvent(e.ts, e.kernel, 0, e.events))
				got = append(got, ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAlert(t *testing.T) {
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC).UnixNano()
	ev := dropEvent(ts, 7, 3, 1000)
	got, ok := l.Check("node1", "host1", ev)
	if !ok {
		t.Fatal("no alert for 1% drops")
	}
	want := schema.Alert{
		Hostname: "host1",
		Output:   "Peregrine internal: syscall event drop. 10 system calls dropped in last second.",
		OutputFields: map[string]any{
			"n_evts": "1000", "n_drops": "10", "n_drops_buffer_total": "7", "n_drops_user": "3",
			"period_ns": "1000000000",
		},
		Priority: schema.PriorityDebug, Rule: Rule, Source: "syscall", Tags: []string{},
		Time: time.Unix(0, ts).UTC(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
	if _, ok := l.Check("node1", "host1", &schema.Event{Type: schema.EventOpenat}); ok {
		t.Error("an openat event raised a drop alert")
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := New(Options{Burst: -1}); err == nil {
		t.Error("negative burst accepted")
	}
}
