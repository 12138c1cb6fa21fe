package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/evaluate"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/ruleset"
)

// eventsPerBatch is what the collector sends by default per message.
const eventsPerBatch = schema.DefaultBatchEvents

// mixBatch is a realistic batch: a shell session and a few daemons doing
// what hosts mostly do (opens of libraries and config files, closes,
// connects, execs of common tools), with one sensitive read in every
// 200 events so that alerts are published too.
func mixBatch(node string, seq uint64, n int) *schema.Batch {
	anc := []schema.Ancestor{
		{Pid: 900, Comm: "bash", Exe: "-bash", ExePath: "/usr/bin/bash"},
		{Pid: 800, Comm: "sshd", Exe: "sshd", ExePath: "/usr/sbin/sshd", Args: []string{"-D"}},
		{Pid: 1, Comm: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd"},
	}
	procs := []schema.Process{
		{Pid: 1001, Comm: "cat", Exe: "cat", ExePath: "/usr/bin/cat", Args: []string{"/etc/shadow"}},
		{Pid: 1002, Comm: "nginx", Exe: "nginx", ExePath: "/usr/sbin/nginx", Args: []string{"-g", "daemon off;"}},
		{Pid: 1003, Comm: "python3", Exe: "python3", ExePath: "/usr/bin/python3.11", Args: []string{"app.py"}},
		{Pid: 1004, Comm: "ls", Exe: "ls", ExePath: "/usr/bin/ls", Args: []string{"-la", "/var/log"}},
		{Pid: 1005, Comm: "curl", Exe: "curl", ExePath: "/usr/bin/curl", Args: []string{"https://example.com"}},
	}
	b := &schema.Batch{Version: schema.Version, Node: node, BootID: "bench", Seq: seq}
	for i := range procs {
		p := &procs[i]
		p.Ppid, p.Vpid, p.User, p.Group, p.LoginUID, p.Cwd = 900, p.Pid, "root", "root", 1000, "/root/"
		p.ContainerID, p.Ancestors, p.Env = schema.HostContainerID, anc, []string{"PATH=/usr/bin:/bin", "HOME=/root"}
		b.Procs = append(b.Procs, *p)
	}
	files := []string{"/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/hosts", "/etc/nsswitch.conf",
		"/var/log/nginx/access.log", "/usr/share/zoneinfo/UTC", "/proc/self/status", "/etc/passwd"}
	ts := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano() + int64(seq)*int64(time.Millisecond)
	I, S := schema.IntArg, schema.StrArg
	for i := range n {
		e := schema.Event{Num: seq*uint64(n) + uint64(i), Ts: ts + int64(i), CPU: uint16(i % 2), Res: 3}
		p := int32(1 + i%4)
		switch {
		case i%200 == 0: // cat /etc/shadow: Read sensitive file untrusted
			p = 0
			e.Type = schema.EventOpenat
			e.Args = []schema.Arg{I(-100), S("/etc/shadow"), I(0), I(0), I(2049), I(131090)}
			e.FD = &schema.FD{Num: 3, Type: 'f', Name: "/etc/shadow"}
		case i%10 < 5:
			f := files[i%len(files)]
			e.Type = schema.EventOpenat
			e.Args = []schema.Arg{I(-100), S(f), I(0o2000000), I(0), I(2049), I(int64(1000 + i))}
			e.FD = &schema.FD{Num: 3, Type: 'f', Name: f}
		case i%10 < 7:
			e.Type, e.Res = schema.EventClose, 0
			e.Args = []schema.Arg{I(3)}
		case i%10 < 9:
			e.Type, e.Res = schema.EventConnect, 0
			e.Args = []schema.Arg{I(4), S(""), S("")}
			e.FD = &schema.FD{Num: 4, Type: '4', Name: "10.0.0.5:40000->93.184.216.34:443", Family: 2, L4: 6,
				Role: schema.RoleClient, Connected: true}
		default:
			e.Type, e.Res = schema.EventExecve, 0
			p = 4
		}
		e.Proc, e.Tid = p, b.Procs[p].Pid
		b.Events = append(b.Events, e)
	}
	return b
}

// heavyBatch is the heavier evaluation mix: the kinds of events that
// most upstream rules look at closely and then let go. Processes run in a
// container under a shell; 4 in 10 events are execs (the spawned_process
// rules), 3 in 10 write-opens below /var/lib (the write rules), 2 in 10
// reads below /etc by a non-trusted program, 1 in 10 outbound connects,
// and one sensitive read (an alert) in every collector batch of 2048
// events: evaluation, not alert storage, is the work.
func heavyBatch(node string, seq uint64, n int) *schema.Batch {
	return heavyMix(node, seq, n, eventsPerBatch)
}

// alertStormBatch is heavyBatch with an alert in every 200 events, as in
// mixBatch: thousands of alerts a second, each a JetStream store of its
// own on the server.
func alertStormBatch(node string, seq uint64, n int) *schema.Batch {
	return heavyMix(node, seq, n, 200)
}

func heavyMix(node string, seq uint64, n, alertEvery int) *schema.Batch {
	b := mixBatch(node, seq, 0)
	const cid = "3ad7b26ded6d4f0e8c8f7b7e0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d"
	b.Containers = []schema.Container{{ID: cid, Type: "docker", Name: "web", Image: "docker.io/library/python:3.12",
		ImageRepo: "docker.io/library/python", ImageTag: "3.12"}}
	shell := []schema.Ancestor{
		{Pid: 700, Comm: "sh", Exe: "/bin/sh", ExePath: "/usr/bin/dash", Args: []string{"-c", "python3 app.py"}},
		{Pid: 600, Comm: "containerd-shim", Exe: "containerd-shim", ExePath: "/usr/bin/containerd-shim-runc-v2"},
		{Pid: 1, Comm: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd"},
	}
	for i := 1; i < len(b.Procs); i++ {
		p := &b.Procs[i]
		p.ContainerID, p.Ancestors, p.Ppid, p.Cwd = cid, shell, 700, "/app/"
	}
	b.Procs[3].Args = []string{"-la", "/var/lib/app"}
	ts := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano() + int64(seq)*int64(time.Millisecond)
	I, S := schema.IntArg, schema.StrArg
	const oWronly, oCreat = 0o1, 0o100
	for i := range n {
		e := schema.Event{Num: seq*uint64(n) + uint64(i), Ts: ts + int64(i), CPU: uint16(i % 2), Res: 3}
		p := int32(1 + i%4)
		switch {
		case i%alertEvery == 0: // cat /etc/shadow on the host: Read sensitive file untrusted
			p = 0
			e.Type = schema.EventOpenat
			e.Args = []schema.Arg{I(-100), S("/etc/shadow"), I(0), I(0), I(2049), I(131090)}
			e.FD = &schema.FD{Num: 3, Type: 'f', Name: "/etc/shadow"}
		case i%10 < 4:
			e.Type, e.Res = schema.EventExecve, 0
		case i%10 < 7:
			f := fmt.Sprintf("/var/lib/app/cache/%d.json", i%16)
			e.Type = schema.EventOpenat
			e.Args = []schema.Arg{I(-100), S(f), I(oWronly | oCreat), I(0o644), I(2049), I(int64(2000 + i))}
			e.FD = &schema.FD{Num: 3, Type: 'f', Name: f, Flags: oWronly | oCreat}
		case i%10 < 9:
			f := "/etc/ssl/certs/ca-certificates.crt"
			e.Type = schema.EventOpenat
			e.Args = []schema.Arg{I(-100), S(f), I(0), I(0), I(2049), I(int64(3000 + i))}
			e.FD = &schema.FD{Num: 3, Type: 'f', Name: f}
		default:
			e.Type, e.Res = schema.EventConnect, 0
			e.Args = []schema.Arg{I(4), S(""), S("")}
			e.FD = &schema.FD{Num: 4, Type: '4', Name: "172.17.0.2:40000->93.184.216.34:443", Family: 2, L4: 6,
				Role: schema.RoleClient, Connected: true}
		}
		e.Proc, e.Tid = p, b.Procs[p].Pid
		b.Events = append(b.Events, e)
	}
	return b
}

// Rule sets of the benchmarks: the embedded stable rules alone, or with
// the upstream incubating and sandbox files after them (93 rules, 81
// enabled), which makes evaluation the larger part of a batch's cost.
var benchRules = map[string]ruleset.Source{
	"stable": {LocalPath: "/nonexistent/rules.local.yaml"},
	"all": {Paths: []string{"../defaultrules/falco_rules.yaml", "../../testdata/upstream/falco-incubating_rules.yaml",
		"../../testdata/upstream/falco-sandbox_rules.yaml"}},
}

// replica builds one service instance on its own connection, its rules
// compiled, and returns the function that starts it, which returns the
// one that stops it: the set-up stays out of the timed part.
func (e *env) replica(b *testing.B, src ruleset.Source, workers int) (start func() (stop func())) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := bus.Connect(ctx, Stage, bus.WithURL(e.url))
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs, err := ruleset.New(src, log, ruleset.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ev, err := evaluate.New("", dropalert.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(conn, rs, ev, metrics.New(), log, Options{Stream: schema.StreamEnriched, Input: schema.SubjectEnrichedAll,
		Consumer: "evaluator", Batch: 16, Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	return func() func() {
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				b.Error(err)
			}
			conn.Close()
		}
	}
}

// prefill publishes n mix batches on events.enriched.node1.
func (e *env) prefill(b *testing.B, n int) {
	b.Helper()
	var seq uint64
	publishBatches(b, context.Background(), e.conn, mixBatch, &seq, n, eventsPerBatch)
}

// publishBatches publishes n batches of events events from mix on
// events.enriched.node1, numbered from *seq on, and waits for their acks.
func publishBatches(b *testing.B, ctx context.Context, conn *bus.Conn, mix func(node string, seq uint64, n int) *schema.Batch, seq *uint64, n, events int) {
	b.Helper()
	pub, err := bus.NewPublisher(conn, bus.PublisherOptions{Window: 256, Compress: true}) // as the enricher publishes
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		mb := mix("node1", *seq, events)
		*seq++
		data, err := schema.Marshal(mb)
		if err != nil {
			b.Fatal(err)
		}
		if err := pub.Publish(ctx, schema.EnrichedSubject("node1"), data, schema.BatchMsgID(mb), nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkServiceThroughput drains a stream pre-filled with b.N batches
// of eventsPerBatch mixed events with one or two replicas sharing the durable
// consumer (one worker each), each on its own connection as separate
// processes would be. events/s is the figure to compare; 2 replicas vs 1
// is the scaling. The server runs in the same process, on the same two
// cores.
func BenchmarkServiceThroughput(b *testing.B) {
	for _, rules := range []string{"stable", "all"} {
		for _, replicas := range []int{1, 2} {
			b.Run(fmt.Sprintf("rules=%s/replicas=%d", rules, replicas), func(b *testing.B) {
				benchThroughput(b, benchRules[rules], replicas)
			})
		}
	}
}

func benchThroughput(b *testing.B, src ruleset.Source, replicas int) {
	e := newEnv(b)
	e.prefill(b, b.N)
	var starts []func() func()
	var stops []func()
	for range replicas {
		starts = append(starts, e.replica(b, src, 1))
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for _, run := range starts {
		stops = append(stops, run())
	}
	e.drained(b, schema.StreamEnriched)
	elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
	b.StopTimer()
	for _, stop := range stops {
		stop()
	}
	events := float64(b.N * eventsPerBatch)
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
	// On a shared machine wall time measures the CPU share the process
	// got as much as the code; CPU time per event (server, replicas and
	// all) tells whether a second replica adds work, and cores says how
	// much CPU the run had.
	b.ReportMetric(float64(cpu.Nanoseconds())/events, "cpu-ns/event")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
}

// cpuTime is the CPU time, user and system, used by this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEvaluate is the evaluation alone, one goroutine, no bus: the
// ceiling a replica's worker can reach.
func BenchmarkEvaluate(b *testing.B) {
	for _, rules := range []string{"stable", "all"} {
		b.Run("rules="+rules, func(b *testing.B) { benchEvaluate(b, benchRules[rules], mixBatch) })
	}
	b.Run("rules=all/mix=heavy", func(b *testing.B) { benchEvaluate(b, benchRules["all"], heavyBatch) })
	b.Run("rules=all/mix=alert-storm", func(b *testing.B) { benchEvaluate(b, benchRules["all"], alertStormBatch) })
}

func benchEvaluate(b *testing.B, src ruleset.Source, mix func(node string, seq uint64, n int) *schema.Batch) {
	set, err := ruleset.Load(src)
	if err != nil {
		b.Fatal(err)
	}
	ev, err := evaluate.New("", dropalert.Options{})
	if err != nil {
		b.Fatal(err)
	}
	w := ev.NewWorker()
	mb := mix("node1", 1, eventsPerBatch)
	alerts := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for range b.N {
		w.Batch(set.Engine, mb, "bench", func(evaluate.Alert) { alerts++ })
	}
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(b.N*eventsPerBatch)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*eventsPerBatch), "cpu-ns/event")
	b.ReportMetric(float64(alerts)/float64(b.N), "alerts/batch")
}

// BenchmarkLatency publishes b.N batches, each with an alerting first
// event, one at a time, and measures the time from the publish on
// events.enriched to the alert's arrival on alerts.>. events=8 is a
// collector at low load (a partial batch flushed by its timeout); 256
// (the old default) and eventsPerBatch are full batches, whose alerts
// wait for the whole batch to be evaluated.
func BenchmarkLatency(b *testing.B) {
	for _, n := range []int{8, 256, eventsPerBatch} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) { benchLatency(b, n) })
	}
}

func benchLatency(b *testing.B, events int) {
	e := newEnv(b)
	stop := e.replica(b, benchRules["stable"], 2)()
	defer stop()

	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	got := make(chan struct{}, 1)
	sub, err := e.conn.NC.Subscribe(schema.SubjectAlertsAll, func(m *nats.Msg) {
		now := time.Now()
		id := m.Header.Get(schema.HeaderMsgID)
		mu.Lock()
		defer mu.Unlock()
		for bid, t0 := range sent {
			if len(id) > len(bid) && id[:len(bid)] == bid && id[len(bid)] == ':' {
				lat = append(lat, now.Sub(t0))
				delete(sent, bid)
				select {
				case got <- struct{}{}:
				default:
				}
				return
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		mb := mixBatch("node1", uint64(i), events) // event 0 alerts
		data, err := schema.Marshal(mb)
		if err != nil {
			b.Fatal(err)
		}
		id := schema.BatchMsgID(mb)
		m := &nats.Msg{Subject: schema.EnrichedSubject("node1"), Data: data, Header: nats.Header{}}
		m.Header.Set(schema.HeaderMsgID, id)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		if _, err := e.conn.JS.PublishMsg(ctx, m); err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(waitLimit):
			b.Fatalf("no alert for batch %d within %v", i, waitLimit)
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-us")
	b.ReportMetric(q(0.99), "p99-us")
}
