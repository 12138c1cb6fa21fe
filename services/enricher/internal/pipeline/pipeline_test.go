package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/docker"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/enrich"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/testenv"
)

// TestPipeline runs the stage between a real embedded JetStream server
// and a real dockerd: a raw batch of a running container's process comes
// out enriched on events.enriched.<node>, in order with the others, and a
// message that does not decode goes to deadletter.enricher.
func TestPipeline(t *testing.T) {
	d := testenv.StartDockerd(t)
	d.CLI(t, "load", "-i", testenv.BusyboxArchive(t, t.TempDir(), "peregrine/busybox:t1"))
	id := d.CLI(t, "run", "-d", "--network", "none", "--name", "pipe1", "peregrine/busybox:t1", "-c", "cat /etc/shadow; sleep 60")
	t.Cleanup(func() { _, _ = d.TryCLI("rm", "-f", id) })
	cgroup := testenv.Cgroup(t, d.Pid(t, id))

	url, _ := bustest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := bus.Connect(ctx, "test", bus.WithURL(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)

	m := metrics.New(nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	res := resolve.New([]resolve.Runtime{docker.New(d.Socket, 2*time.Second)}, resolve.Config{}, m, log)
	enr := enrich.New(res, nil, m, enrich.Config{})
	p, err := New(ctx, conn, enr, m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- res.Run(runCtx) }()
	go func() { done <- p.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		for range 2 {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("run: %v", err)
			}
		}
	})

	const n = 20
	for seq := range uint64(n) {
		b := &schema.Batch{Node: "node-a", BootID: "b1", Seq: seq,
			Procs:  []schema.Process{{Pid: 10, Comm: "cat", Cgroup: cgroup}, {Pid: 11, Comm: "bash", Cgroup: "0::/user.slice"}},
			Events: []schema.Event{{Num: seq, Type: schema.EventOpenat, Proc: 0}, {Num: seq, Type: schema.EventOpenat, Proc: 1}}}
		data, err := schema.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.JS.Publish(ctx, schema.RawSubject(b.Node), data); err != nil {
			t.Fatal(err)
		}
		if seq == 3 {
			if _, err := conn.JS.Publish(ctx, schema.RawSubject("node-a"), []byte("\xc1 not msgpack")); err != nil {
				t.Fatal(err)
			}
		}
	}

	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, schema.StreamEnriched, jetstream.ConsumerConfig{Durable: "check", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for want := range uint64(n) {
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var got *schema.Batch
		for msg := range msgs.Messages() {
			if msg.Subject() != schema.EnrichedSubject("node-a") {
				t.Errorf("subject %q", msg.Subject())
			}
			data, err := bus.Payload(msg.Data(), msg.Headers(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, err = schema.Unmarshal(data); err != nil {
				t.Fatal(err)
			}
			_ = msg.Ack()
		}
		if got == nil {
			t.Fatalf("batch %d not received", want)
		}
		if got.Seq != want {
			t.Fatalf("batch seq %d, want %d: order lost", got.Seq, want)
		}
		c := got.Container(id)
		if c == nil || c.Incomplete || c.Name != "pipe1" || got.Procs[1].ContainerID != schema.HostContainerID {
			t.Fatalf("batch %d: containers %+v, procs %+v", want, got.Containers, got.Procs)
		}
	}

	dl, err := conn.JS.OrderedConsumer(ctx, schema.StreamDeadLetter, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := dl.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	if msg.Subject() != schema.DeadLetterSubject(Stage) || msg.Headers().Get(schema.HeaderError) == "" {
		t.Errorf("dead letter %s headers %v", msg.Subject(), msg.Headers())
	}
	if n := testutil.ToFloat64(m.DeadLetters); n != 1 {
		t.Errorf("dead letters = %v, want 1", n)
	}
}
