package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/evaluate"
)

// drained waits until stream holds no message: on a work queue every
// batch has then been acked, so everything it caused has been published.
func (e *env) drained(t testing.TB, stream string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for e.streamMsgs(t, stream) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds %d messages", stream, e.streamMsgs(t, stream))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAlertsPublished(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		input   string
		subject string
	}{
		{"enriched", schema.StreamEnriched, schema.SubjectEnrichedAll, schema.EnrichedSubject("node1")},
		{"raw without enricher", schema.StreamRaw, schema.SubjectRawAll, schema.RawSubject("node1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.start(t, tt.stream, tt.input, ruleFor("Cat opened a file", "cat"))
			b := batch("node1", 1, "ls", "cat", "vi", "cat")
			e.publish(t, tt.subject, b)

			got := e.read(t, schema.StreamAlerts, schema.SubjectAlertsAll, 2, 0)
			e.drained(t, tt.stream)
			if n := e.streamMsgs(t, schema.StreamAlerts); n != 2 {
				t.Fatalf("%d alerts stored, want 2", n)
			}
			for k, ev := range []int{1, 3} {
				m := got[k]
				if want := "alerts.warning.cat_opened_a_file"; m.Subject != want {
					t.Errorf("alert %d subject %q, want %q", k, m.Subject, want)
				}
				if want := evaluate.MsgID(schema.BatchMsgID(b), ev, "Cat opened a file"); m.Header.Get(schema.HeaderMsgID) != want {
					t.Errorf("alert %d msg id %q, want %q", k, m.Header.Get(schema.HeaderMsgID), want)
				}
				want := schema.Alert{
					Hostname: "node1",
					Output: fmt.Sprintf("10:00:00.%09d: Warning Cat opened a file (proc=cat file=/etc/file%d num=%d)",
						ev, ev, 1000+ev),
					OutputFields: map[string]any{"proc.name": "cat", "fd.name": fmt.Sprintf("/etc/file%d", ev),
						"evt.num": fmt.Sprint(1000 + ev), "evt.time": fmt.Sprint(time.Date(2026, 12, 1, 10, 0, 0, ev, time.UTC).UnixNano())},
					Priority: schema.PriorityWarning, Rule: "Cat opened a file", Source: "syscall", Tags: []string{"test"},
					Time: time.Date(2026, 12, 1, 10, 0, 0, ev, time.UTC),
				}
				a := decodeAlert(t, m.Data)
				// Numbers decode as json.Number: compare them as text.
				for k, v := range a.OutputFields {
					if v != nil {
						a.OutputFields[k] = fmt.Sprint(v)
					}
				}
				if diff := cmp.Diff(want, a); diff != "" {
					t.Errorf("alert %d (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

func TestUndecodableGoesToDeadLetter(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, schema.StreamEnriched, schema.SubjectEnrichedAll, ruleFor("Cat", "cat"))
	subj := schema.EnrichedSubject("node1")
	garbage := []byte("\x93this is not a batch")
	e.publishRaw(t, subj, garbage, "garbage-1")
	e.publish(t, subj, batch("node1", 2, "cat"))

	dl := e.read(t, schema.StreamDeadLetter, schema.DeadLetterSubject(Stage), 1, 0)
	if dl[0].Subject != "deadletter.evaluator" || string(dl[0].Data) != string(garbage) {
		t.Errorf("dead letter %s %q, want deadletter.evaluator with the original data", dl[0].Subject, dl[0].Data)
	}
	if got := dl[0].Header.Get(schema.HeaderOrigSubject); got != subj {
		t.Errorf("dead letter origin %q, want %q", got, subj)
	}
	if reason := dl[0].Header.Get(schema.HeaderError); !strings.Contains(reason, "decode batch from "+subj) {
		t.Errorf("dead letter reason %q does not name the subject", reason)
	}
	// The loop went on: the good batch after it alerts.
	got := e.read(t, schema.StreamAlerts, schema.SubjectAlertsAll, 1, 0)
	if got[0].Subject != "alerts.warning.cat" {
		t.Errorf("alert on %s", got[0].Subject)
	}
	e.drained(t, schema.StreamEnriched)
	if n := s.count("deadletter"); n != 1 {
		t.Errorf("batches_total{result=deadletter} = %v, want 1", n)
	}
}

// TestBadEncodingGoesToDeadLetter sends payloads whose Peregrine-Encoding
// lies: s2 over bytes that are not s2, s2 of bytes that are not a batch,
// and an encoding nobody writes. Each is dead-lettered as it came, with a
// reason naming the encoding, and the good batch behind them alerts.
func TestBadEncodingGoesToDeadLetter(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, schema.StreamEnriched, schema.SubjectEnrichedAll, ruleFor("Cat", "cat"))
	subj := schema.EnrichedSubject("node1")
	notS2 := []byte("\xff\x00 certainly not s2")
	notBatch := s2.Encode(nil, []byte("\x93 s2 of something that is not a batch"))
	bad := []struct {
		data     []byte
		encoding string
		reason   string
	}{
		{notS2, bus.EncodingS2, "s2 payload of"},
		{notBatch, bus.EncodingS2, "decode batch from " + subj},
		{[]byte("whatever"), "zstd", `"zstd"`},
	}
	for i, m := range bad {
		e.publishEncoded(t, subj, m.data, fmt.Sprintf("bad-%d", i), m.encoding)
	}
	e.publish(t, subj, batch("node1", 2, "cat"))

	// Dead letters are published as they are found, not in stream order.
	dl := e.read(t, schema.StreamDeadLetter, schema.DeadLetterSubject(Stage), len(bad), 0)
	for _, m := range bad {
		i := slices.IndexFunc(dl, func(r received) bool { return bytes.Equal(r.Data, m.data) })
		if i < 0 {
			t.Errorf("no dead letter holds the original %q", m.data)
			continue
		}
		if reason := dl[i].Header.Get(schema.HeaderError); !strings.Contains(reason, m.reason) {
			t.Errorf("dead letter of %q: reason %q, want it to contain %s", m.data, reason, m.reason)
		}
	}
	got := e.read(t, schema.StreamAlerts, schema.SubjectAlertsAll, 1, 0)
	if got[0].Subject != "alerts.warning.cat" {
		t.Errorf("alert on %s", got[0].Subject)
	}
	e.drained(t, schema.StreamEnriched)
	if n := s.count("deadletter"); n != float64(len(bad)) {
		t.Errorf("batches_total{result=deadletter} = %v, want %d", n, len(bad))
	}
}

// TestRedeliveryDoesNotDuplicate makes the first delivery of a batch fail
// after its alerts were published and acked, as when a replica dies before
// acking: the redelivered batch publishes the same message ids and the
// ALERTS stream keeps one copy.
func TestRedeliveryDoesNotDuplicate(t *testing.T) {
	e := newEnv(t)
	// The service is not run: this test drives its worker through a
	// consumer whose handler fails the first delivery.
	base, _ := e.build(t, schema.StreamEnriched, schema.SubjectEnrichedAll, ruleFor("Cat", "cat"))

	cons, err := bus.NewConsumer(e.conn, schema.StreamEnriched, jetstream.ConsumerConfig{
		Durable: "evaluator", FilterSubject: schema.SubjectEnrichedAll, AckPolicy: jetstream.AckExplicitPolicy,
	}, Stage, bus.WithNakBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := bus.NewPublisher(e.conn, bus.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{s: base.Service, pub: pub, ev: base.eval.NewWorker()}
	var calls atomic.Int32
	var deliveries []uint64
	handler := func(ctx context.Context, msgs []*bus.Msg) error {
		if err := w.handle(ctx, msgs); err != nil {
			return err
		}
		deliveries = append(deliveries, msgs[0].Delivered())
		if calls.Add(1) == 1 {
			return errors.New("simulated crash after the alerts were acked")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx, 16, handler) }()

	e.publish(t, schema.EnrichedSubject("node1"), batch("node1", 7, "cat", "cat", "ls"))
	e.drained(t, schema.StreamEnriched)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if diff := cmp.Diff([]uint64{1, 2}, deliveries); diff != "" {
		t.Fatalf("deliveries (-want +got):\n%s", diff)
	}
	if n := e.streamMsgs(t, schema.StreamAlerts); n != 2 {
		t.Errorf("%d alerts stored after a redelivery, want 2", n)
	}
	if st := pub.Stats(); st.Published != 4 || st.Duplicates != 2 {
		t.Errorf("publisher stats %+v, want 4 published of which 2 duplicates", st)
	}
}

// TestReloadThroughService swaps rule files under a running service: a
// broken file is rejected and the old rules keep matching; a good one
// takes over; while it happens no event is skipped or evaluated twice.
func TestReloadThroughService(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, schema.StreamEnriched, schema.SubjectEnrichedAll, ruleFor("Rule A", "cat"))
	subj := schema.EnrichedSubject("node1")

	e.publish(t, subj, batch("node1", 1, "cat"))
	if got := e.read(t, schema.StreamAlerts, "alerts.>", 1, 0); got[0].Subject != "alerts.warning.rule_a" {
		t.Fatalf("first alert on %s", got[0].Subject)
	}

	if err := s.setRules(t, "- rule: Rule A\n  condition: evt.type = openat and proc.nosuch = cat\n  output: x\n  priority: WARNING\n  desc: x\n"); err == nil {
		t.Fatal("broken rules accepted")
	}
	e.publish(t, subj, batch("node1", 2, "cat"))
	got := e.read(t, schema.StreamAlerts, "alerts.>", 2, 0)
	if got[1].Subject != "alerts.warning.rule_a" {
		t.Fatalf("after a rejected reload: alert on %s, want the old Rule A", got[1].Subject)
	}

	// Batches flow while the good file replaces Rule A by Rule B, both
	// matching every event: each event must alert exactly once, from one
	// set or the other, and a batch never mixes the two.
	const batches, perBatch = 60, 4
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range batches {
			e.publish(t, subj, batch("node1", uint64(100+i), "cat", "cat", "cat", "cat"))
		}
	}()
	if err := s.setRules(t, ruleFor("Rule B", "cat")); err != nil {
		t.Fatalf("good rules rejected: %v", err)
	}
	<-published
	e.drained(t, schema.StreamEnriched)
	all := e.read(t, schema.StreamAlerts, "alerts.>", 2+batches*perBatch, 0)
	if n := e.streamMsgs(t, schema.StreamAlerts); n != 2+batches*perBatch {
		t.Fatalf("%d alerts stored, want %d", n, 2+batches*perBatch)
	}
	perSeq := map[string]map[string]int{} // batch id -> rule subject -> alerts
	for _, m := range all[2:] {
		id := m.Header.Get(schema.HeaderMsgID)
		bid := id[:strings.Index(id, ":")]
		if perSeq[bid] == nil {
			perSeq[bid] = map[string]int{}
		}
		perSeq[bid][m.Subject]++
	}
	if len(perSeq) != batches {
		t.Errorf("alerts from %d batches, want %d", len(perSeq), batches)
	}
	for bid, subjects := range perSeq {
		if len(subjects) != 1 {
			t.Errorf("batch %s evaluated by two rule sets: %v", bid, subjects)
		}
		for _, n := range subjects {
			if n != perBatch {
				t.Errorf("batch %s: %d alerts, want %d", bid, n, perBatch)
			}
		}
	}

	// After the reload only Rule B matches.
	e.publish(t, subj, batch("node1", 999, "cat"))
	last := e.read(t, schema.StreamAlerts, "alerts.>", 3+batches*perBatch, 0)
	if s := last[len(last)-1].Subject; s != "alerts.warning.rule_b" {
		t.Errorf("after the reload: alert on %s, want alerts.warning.rule_b", s)
	}
	if n := s.count("ok"); n == 0 {
		t.Error("no batch counted ok")
	}
}

func TestDropEventAlerts(t *testing.T) {
	e := newEnv(t)
	e.start(t, schema.StreamEnriched, schema.SubjectEnrichedAll, ruleFor("Cat", "cat"))
	b := &schema.Batch{Version: schema.Version, Node: "node1", BootID: "b", Seq: 1, Events: []schema.Event{{
		Type: schema.EventDrop, Proc: -1, Ts: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano(),
		Args: []schema.Arg{schema.IntArg(30), schema.IntArg(0), schema.IntArg(1000), schema.IntArg(int64(time.Second))},
	}}}
	e.publish(t, schema.EnrichedSubject("node1"), b)
	got := e.read(t, schema.StreamAlerts, "alerts.>", 1, 0)
	if want := schema.AlertSubject(schema.PriorityDebug, dropalert.Rule); got[0].Subject != want {
		t.Errorf("drop alert on %s, want %s", got[0].Subject, want)
	}
	a := decodeAlert(t, got[0].Data)
	if diff := cmp.Diff(map[string]any{"n_drops": "30", "n_evts": "1000"}, a.OutputFields,
		cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k != "n_drops" && k != "n_evts" })); diff != "" {
		t.Errorf("drop alert fields (-want +got):\n%s", diff)
	}
}

// ownGoroutines returns the stacks of the goroutines that are not the
// embedded server's (which keeps per-consumer goroutines of its own).
func ownGoroutines() []string {
	buf := make([]byte, 1<<22)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "nats-server/v2/server.") {
			out = append(out, g)
		}
	}
	return out
}

// TestStopLeavesNoGoroutines stops a service and its connection and
// checks that the goroutines it started are gone.
func TestStopLeavesNoGoroutines(t *testing.T) {
	e := newEnv(t)
	before := len(ownGoroutines())
	s, _ := e.build(t, schema.StreamEnriched, schema.SubjectEnrichedAll, ruleFor("Cat", "cat"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	e.publish(t, schema.EnrichedSubject("node1"), batch("node1", 1, "cat"))
	e.read(t, schema.StreamAlerts, "alerts.>", 1, 0)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.conn.Close()
	deadline := time.Now().Add(waitLimit)
	for {
		after := ownGoroutines()
		if len(after) <= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after stop, %d before:\n%s", len(after), before, strings.Join(after, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
