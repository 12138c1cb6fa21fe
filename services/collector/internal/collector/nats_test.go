package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// raw reads batches for node from the EVENTS_RAW stream through a durable
// consumer (the stream is a work queue, so it needs explicit acks).
type raw struct {
	cons jetstream.Consumer
	seen []schema.Record
}

func newRaw(t *testing.T, url, node string) *raw {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	// The collector creates the stream once connected; wait for it.
	var st jetstream.Stream
	for st == nil {
		st, err = js.Stream(ctx, schema.StreamRaw)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("stream %s: %v", schema.StreamRaw, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "test-" + schema.SubjectToken(node), FilterSubject: schema.RawSubject(node),
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &raw{cons: cons}
}

// wait fetches until a record matches f, failing after waitLimit.
func (r *raw) wait(t *testing.T, what string, f func(*schema.Record) bool) schema.Record {
	t.Helper()
	for i := range r.seen {
		if f(&r.seen[i]) {
			return r.seen[i]
		}
	}
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		batch, err := r.cons.Fetch(64, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			continue // the server may be restarting
		}
		for m := range batch.Messages() {
			m.Ack()
			if m.Subject() == "" {
				continue
			}
			if m.Headers().Get(bus.HeaderEncoding) != bus.EncodingS2 {
				t.Errorf("batch stored with encoding %q, want s2", m.Headers().Get(bus.HeaderEncoding))
			}
			data, err := bus.Payload(m.Data(), m.Headers(), nil)
			if err != nil {
				t.Fatalf("batch payload: %v", err)
			}
			b, err := schema.Unmarshal(data)
			if err != nil {
				t.Fatalf("decode batch: %v", err)
			}
			if m.Headers().Get(schema.HeaderMsgID) != schema.BatchMsgID(b) {
				t.Errorf("msg id %q, want %q", m.Headers().Get(schema.HeaderMsgID), schema.BatchMsgID(b))
			}
			r.seen = append(r.seen, b.Records()...)
		}
		for i := range r.seen {
			if f(&r.seen[i]) {
				return r.seen[i]
			}
		}
	}
	t.Fatalf("no %s on the bus within %v", what, waitLimit)
	return schema.Record{}
}

func openOf(path string) func(*schema.Record) bool {
	return func(r *schema.Record) bool {
		name, _ := argStr(r, "name")
		return r.Event.Type == schema.EventOpenat && isExit(r) && name == path
	}
}

func TestPublishNATS(t *testing.T) {
	skipUnlessRoot(t)
	url, _ := bustest.RunServer(t)
	node := fmt.Sprintf("pub-%d", time.Now().UnixNano())
	startCollector(t, Config{Node: node, NATSURL: url})
	rd := newRaw(t, url, node)
	f := filepath.Join(t.TempDir(), "published")
	os.WriteFile(f, nil, 0o644)
	pid := run(t, "cat", f)
	r := rd.wait(t, "openat", openOf(f))
	if r.Proc == nil || r.Proc.Pid != pid || r.Proc.Comm != "cat" || r.Node != node {
		t.Errorf("record %+v", r)
	}
}

func TestNATSOutage(t *testing.T) {
	skipUnlessRoot(t)
	url, srv := bustest.RunServer(t)
	node := fmt.Sprintf("outage-%d", time.Now().UnixNano())
	c, s := startCollector(t, Config{Node: node, NATSURL: url})
	rd := newRaw(t, url, node)
	dir := t.TempDir()
	before := filepath.Join(dir, "before")
	os.WriteFile(before, nil, 0o644)
	run(t, "cat", before)
	rd.wait(t, "openat before the outage", openOf(before))

	restart := bustest.Stop(t, srv)
	var during []string
	for i := 0; i < 20; i++ {
		f := filepath.Join(dir, fmt.Sprintf("during-%d", i))
		os.WriteFile(f, nil, 0o644)
		run(t, "cat", f)
		during = append(during, f)
	}
	// every event has been batched while the server is away
	for _, f := range during {
		s.wait(t, "openat during the outage", openOf(f))
	}
	srv = restart()
	_ = srv
	for _, f := range during {
		rd.wait(t, "openat published after the outage", openOf(f))
	}
	if st := c.Stats().Publish; st.DroppedEvents != 0 {
		t.Errorf("dropped %d events within the bound", st.DroppedEvents)
	}
}

func TestNATSDownCountsDrops(t *testing.T) {
	skipUnlessRoot(t)
	url, srv := bustest.RunServer(t)
	bustest.Stop(t, srv) // nothing listens there now
	c, s := startCollector(t, Config{NATSURL: url, QueueEvents: 1, BatchSize: 4})
	f := filepath.Join(t.TempDir(), "dropped")
	os.WriteFile(f, nil, 0o644)
	for i := 0; i < 5; i++ {
		run(t, "cat", f)
	}
	s.wait(t, "openat", openOf(f))
	deadline := time.Now().Add(waitLimit)
	for c.Stats().Publish.DroppedEvents == 0 && time.Now().Before(deadline) {
		run(t, "cat", f)
	}
	if c.Stats().Publish.DroppedEvents == 0 {
		t.Fatal("no drops counted with a one-event bound and no server")
	}
	// the loss is reported in-band
	r := s.wait(t, "drop event", func(r *schema.Record) bool {
		ud, _ := argInt(r, "user_drops")
		return r.Event.Type == schema.EventDrop && ud > 0
	})
	if r.Proc != nil {
		t.Errorf("drop event with a process")
	}
}
