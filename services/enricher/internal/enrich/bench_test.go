package enrich

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/docker"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/testenv"
)

// BenchmarkEnrichWarm measures enrichment throughput once the cache holds
// the containers: batches of 256 events from 8 processes in 4 real
// docker containers plus host processes.
func BenchmarkEnrichWarm(b *testing.B) {
	d := startDocker(b)
	r := newRig(b, []resolve.Runtime{docker.New(d.Socket, 2*time.Second)}, nil, Config{})
	var procs []schema.Process
	for i := range 4 {
		id := d.CLI(b, "run", "-d", "--network", "none", "--name", fmt.Sprintf("bench%d", i), "peregrine/busybox:t1", "-c", "sleep 120")
		b.Cleanup(func() { _, _ = d.TryCLI("rm", "-f", id) })
		cg := testenv.Cgroup(b, d.Pid(b, id))
		procs = append(procs, schema.Process{Pid: int64(100 + i), Cgroup: cg}, schema.Process{Pid: int64(200 + i), Cgroup: "0::/user.slice/user-0.slice"})
	}
	mk := func(seq uint64) *schema.Batch {
		bt := &schema.Batch{Node: "bench", BootID: "b", Seq: seq, Procs: append([]schema.Process(nil), procs...)}
		for i := range 256 {
			bt.Events = append(bt.Events, schema.Event{Num: uint64(i), Type: schema.EventOpenat, Proc: int32(i % len(procs))})
		}
		return bt
	}
	r.enrich(b, mk(0)) // warm
	batches := make([]*schema.Batch, b.N)
	for i := range batches {
		batches[i] = mk(uint64(i + 1))
	}
	done := make(chan struct{}, b.N)
	b.ResetTimer()
	start := time.Now()
	for _, bt := range batches {
		if err := r.e.Submit(context.Background(), bt, func(*schema.Batch) { done <- struct{}{} }); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		<-done
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*256)/time.Since(start).Seconds(), "events/s")
	if n := testutil.ToFloat64(r.m.EventsNoMeta); n != 0 {
		b.Fatalf("%v events without metadata with a warm cache", n)
	}
}

// BenchmarkChurn starts and removes short-lived containers in a loop
// against a real dockerd; the first batch of each is submitted while
// `docker start` runs, as a collector would see its first exec, and a
// second one after `docker rm`, as events still in flight. It
// reports the share of events sent without metadata (Falco's <NA>).
func BenchmarkChurn(b *testing.B) {
	d := startDocker(b)
	r := newRig(b, []resolve.Runtime{docker.New(d.Socket, 2*time.Second)}, nil, Config{Hold: 500 * time.Millisecond})
	b.ResetTimer()
	for i := range b.N {
		id := d.CLI(b, "create", "--network", "none", "peregrine/busybox:t1", "-c", "cat /etc/shadow")
		started := make(chan error, 1)
		go func() { _, err := d.TryCLI("start", id); started <- err }()
		p := schema.Process{Pid: int64(1000 + i), Cgroup: "12:memory:/docker/" + id}
		r.enrich(b, batch("churn", uint64(i), p, 16))
		if err := <-started; err != nil {
			b.Fatal(err)
		}
		if _, err := d.TryCLI("rm", "-f", id); err != nil {
			b.Fatal(err)
		}
		// Events of a container still in flight after it is gone.
		r.enrich(b, batch("churn", uint64(i), p, 16))
	}
	b.StopTimer()
	total := testutil.ToFloat64(r.m.Events)
	b.ReportMetric(100*testutil.ToFloat64(r.m.EventsNoMeta)/total, "%no-metadata")
}
