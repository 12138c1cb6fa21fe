package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/evaluate"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/ruleset"
)

// The scaling benchmark runs the NATS server and each evaluator replica
// as processes of their own: this test binary started again with
// roleEnv set. TestMain sends such a process to its role instead of
// the tests.
const (
	roleEnv    = "PEREGRINE_EVALBENCH_ROLE" // "natsserver" or "replica"
	urlEnv     = "PEREGRINE_EVALBENCH_URL"
	storeEnv   = "PEREGRINE_EVALBENCH_STORE"
	batchesEnv = "PEREGRINE_EVALBENCH_BATCHES" // batches per drain; default scalingBatches
	eventsEnv  = "PEREGRINE_EVALBENCH_EVENTS"  // events per batch; default scalingEvents
	// profileEnv names a file prefix: each replica writes the CPU profile
	// of its timed part to PREFIX.PID, and the server that of each drain
	// to PREFIX.server.Rr.N (R replicas, N-th drain).
	profileEnv = "PEREGRINE_EVALBENCH_CPUPROFILE"
)

const (
	// scalingEvents is the events per batch: the collector's default
	// (~150 KB a message), which the enricher forwards 1:1.
	scalingEvents = eventsPerBatch
	// scalingBatches is how many batches one drain pre-fills: 1.5M
	// events, 3-5 s for one replica, long enough that the 64-message
	// prefetches at start and end do not weigh on the figure.
	scalingBatches = 750
	// drainLimit bounds one drain: a deadlock guard, not a timing.
	drainLimit = 5 * time.Minute
	// maxScalingRounds caps the rounds of one run whatever b.N is (a
	// round is two fills and two drains, several seconds): the figures
	// are medians over rounds, and -benchtime=1000x must not mean hours.
	maxScalingRounds = 5
)

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "":
		os.Exit(m.Run())
	case "natsserver":
		os.Exit(report(natsServerMain()))
	case "replica":
		os.Exit(report(replicaMain()))
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want natsserver or replica\n", roleEnv, os.Getenv(roleEnv))
		os.Exit(2)
	}
}

func report(err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// natsServerMain runs a JetStream server on 127.0.0.1 (random port,
// store in $storeEnv), prints "url URL" and serves until stdin closes.
// The lines "profile PATH" and "unprofile" start and stop a CPU profile
// of the server; each is answered with "ok".
func natsServerMain() error {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: os.Getenv(storeEnv), NoLog: true, NoSigs: true})
	if err != nil {
		return fmt.Errorf("nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		return errors.New("nats server: not ready within 10s")
	}
	fmt.Printf("url %s\n", srv.ClientURL())
	in := bufio.NewScanner(os.Stdin)
	var prof *os.File
	for in.Scan() {
		switch cmd, arg, _ := strings.Cut(in.Text(), " "); cmd {
		case "profile":
			f, err := os.Create(arg)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			prof = f
		case "unprofile":
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
				prof = nil
			}
		}
		fmt.Println("ok")
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}

// replicaMain is one evaluator replica on $urlEnv with the 93 upstream
// rules and one worker. It sets itself up, prints "ready", starts
// consuming at the line "go" and stops at the next line (or EOF), then
// prints "cpu NS": its user+system CPU time between the two, so rule
// compilation and connecting stay out of the figure.
func replicaMain() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signal.Ignore(syscall.SIGINT) // the parent ends us through stdin
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs, err := ruleset.New(benchRules["all"], log, ruleset.Options{})
	if err != nil {
		return err
	}
	ev, err := evaluate.New("", dropalert.Options{})
	if err != nil {
		return err
	}
	conn, err := bus.Connect(ctx, Stage, bus.WithURL(os.Getenv(urlEnv)))
	if err != nil {
		return err
	}
	defer conn.Close()
	s, err := New(conn, rs, ev, metrics.New(), log, Options{Stream: schema.StreamEnriched, Input: schema.SubjectEnrichedAll,
		Consumer: "evaluator", Batch: 16, Workers: 1})
	if err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	if !in.Scan() {
		return errors.New("replica: stdin closed before go")
	}
	if prefix := os.Getenv(profileEnv); prefix != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid()))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := selfCPU()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	in.Scan()
	cpu := selfCPU() - cpu0
	cancel()
	if err := <-done; err != nil {
		return err
	}
	fmt.Printf("cpu %d\n", cpu.Nanoseconds())
	return nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// child is a process of this test binary in a role, talking lines on
// stdin and stdout.
type child struct {
	role string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	err  strings.Builder
}

func startChild(b *testing.B, role string, env ...string) *child {
	b.Helper()
	c := &child{role: role, cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	c.cmd.Stderr = &c.err
	var err error
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	c.out = bufio.NewScanner(out)
	if err := c.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", role, err)
	}
	b.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

// expect reads the child's next line, which must start with prefix, and
// returns the rest.
func (c *child) expect(b *testing.B, prefix string) string {
	b.Helper()
	if !c.out.Scan() {
		_ = c.cmd.Wait()
		b.Fatalf("%s: no %q line; stderr:\n%s", c.role, prefix, c.err.String())
	}
	line := c.out.Text()
	if !strings.HasPrefix(line, prefix) {
		b.Fatalf("%s: got %q, want %q...", c.role, line, prefix)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, prefix))
}

func (c *child) send(b *testing.B, line string) {
	b.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		b.Fatal(err)
	}
}

// procCPU is the CPU time the kernel accounts to a running process
// (/proc/PID/stat utime+stime, in clock ticks of 10ms).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// the 14th and 15th of the whole line.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// drain is one timed run: the result of R replicas draining a
// pre-filled stream.
type drain struct {
	events     int
	wall       time.Duration
	replicaCPU []time.Duration
	serverCPU  time.Duration
	// otherCPU is the CPU time the machine spent on anything but the
	// replicas, the server and this process (other users of a shared
	// machine); steal is the time the hypervisor ran other guests.
	otherCPU, steal time.Duration
}

func (d drain) eventsPerSec() float64 { return float64(d.events) / d.wall.Seconds() }
func (d drain) replicaCPUTotal() time.Duration {
	var t time.Duration
	for _, c := range d.replicaCPU {
		t += c
	}
	return t
}

// BenchmarkReplicaScaling measures whether a second evaluator replica
// doubles the throughput when evaluation is the bottleneck. Each round
// pre-fills EVENTS_ENRICHED with batches of the collector's default
// size (2048 events) under the 93 upstream rules twice, and times its
// drain by 1 replica and by 2 (in turns, 1 first in even rounds, 2 first
// in odd ones): from the moment the replicas (separate processes, GOMAXPROCS=1,
// rules compiled and connected) are told to start until the stream is
// empty and every alert is stored in ALERTS. The server is a separate process too, with file storage as
// deployed (PEREGRINE_EVALBENCH_CPUPROFILE profiles it per drain). It
// runs for three mixes: mix=realistic (mixBatch, what hosts mostly do,
// an alert in every 200 events), mix=heavy (heavyBatch, events the rules
// look at closely, an alert per batch: the evaluation-bound case) and
// mix=alert-storm (heavyBatch's events with an alert in every 200, where
// storing the alerts weighs on the shared server).
//
// Metrics (medians over rounds): events/s of each drain and their ratio
// (wall clock: it follows the CPU share the replicas got on a shared
// machine, see 1r-cores and 2r-cores, and other-cores, the CPU other
// processes of the machine took meanwhile); CPU time per event of the
// replicas (summed) and of the server; and cpu-scaling, the speedup the
// replicas' CPU time per event allows when each replica has a core of
// its own, which other load on the machine does not change.
func BenchmarkReplicaScaling(b *testing.B) {
	for _, m := range []struct {
		name string
		mix  func(node string, seq uint64, n int) *schema.Batch
	}{{"realistic", mixBatch}, {"heavy", heavyBatch}, {"alert-storm", alertStormBatch}} {
		b.Run("mix="+m.name, func(b *testing.B) { benchScaling(b, m.mix) })
	}
}

func benchScaling(b *testing.B, mix func(node string, seq uint64, n int) *schema.Batch) {
	batches, events := envInt(b, batchesEnv, scalingBatches), envInt(b, eventsEnv, scalingEvents)
	srv := startChild(b, "natsserver", storeEnv+"="+b.TempDir())
	url := srv.expect(b, "url ")
	ctx := context.Background()
	conn, err := bus.Connect(ctx, "bench", bus.WithURL(url))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(conn.Close)
	// File storage, as deployed: the store's per-message costs (work-queue
	// deletes on ack, loads from its block cache) are part of the figure.
	l := bus.StreamLimits{Duplicates: time.Minute}
	if err := conn.EnsureStreams(ctx, bus.EnrichedStream(l), bus.AlertsStream(l), bus.DeadLetterStream(l)); err != nil {
		b.Fatal(err)
	}
	perBatch := alertsPerBatch(b, mix, events)
	b.Logf("%d batches of %d events, %d alerts each", batches, events, perBatch)
	var one, two []drain
	seq := uint64(0)
	b.ResetTimer()
	for round := range min(b.N, maxScalingRounds) {
		// Odd rounds drain with 2 replicas first, so that what comes of
		// going first or second (a machine speeding up or slowing down
		// over a round) weighs on both figures alike.
		order := []int{1, 2}
		if round%2 == 1 {
			order = []int{2, 1}
		}
		for _, r := range order {
			b.StopTimer()
			fill(b, conn, mix, &seq, batches, events)
			b.StartTimer()
			d := runDrain(b, conn, srv, r, batches*events, batches*perBatch)
			if r == 1 {
				one = append(one, d)
			} else {
				two = append(two, d)
			}
		}
	}
	b.StopTimer()
	srv.in.Close()
	_ = srv.cmd.Wait()
	med := func(ds []drain, f func(drain) float64) float64 {
		v := make([]float64, len(ds))
		for i, d := range ds {
			v[i] = f(d)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	perEvent := func(f func(drain) time.Duration) func(drain) float64 {
		return func(d drain) float64 { return float64(f(d).Nanoseconds()) / float64(d.events) }
	}
	rate := func(d drain) float64 { return d.eventsPerSec() }
	b.ReportMetric(med(one, rate), "1r-events/s")
	b.ReportMetric(med(two, rate), "2r-events/s")
	b.ReportMetric(med(two, rate)/med(one, rate), "ratio")
	b.ReportMetric(med(one, perEvent(drain.replicaCPUTotal)), "1r-cpu-ns/event")
	b.ReportMetric(med(two, perEvent(drain.replicaCPUTotal)), "2r-cpu-ns/event")
	b.ReportMetric(med(one, perEvent(func(d drain) time.Duration { return d.serverCPU })), "1r-server-cpu-ns/event")
	b.ReportMetric(med(two, perEvent(func(d drain) time.Duration { return d.serverCPU })), "2r-server-cpu-ns/event")
	b.ReportMetric(med(one, func(d drain) float64 { return d.otherCPU.Seconds() / d.wall.Seconds() }), "1r-other-cores")
	b.ReportMetric(med(two, func(d drain) float64 { return d.otherCPU.Seconds() / d.wall.Seconds() }), "2r-other-cores")
	b.ReportMetric(med(one, func(d drain) float64 { return d.replicaCPUTotal().Seconds() / d.wall.Seconds() }), "1r-cores")
	b.ReportMetric(med(two, func(d drain) float64 { return d.replicaCPUTotal().Seconds() / d.wall.Seconds() }), "2r-cores")
	// With a core per replica, 2 replicas finish in half their summed CPU
	// time (the work queue hands batches to whoever is free), so the
	// speedup the code allows is 2 x (1-replica CPU per event) / (2-replica
	// CPU per event): 2 when a second replica adds no work per event.
	b.ReportMetric(2*med(one, perEvent(drain.replicaCPUTotal))/med(two, perEvent(drain.replicaCPUTotal)), "cpu-scaling")
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		if v, err := strconv.ParseFloat(strings.Fields(string(la))[0], 64); err == nil {
			b.ReportMetric(v, "loadavg")
		}
	}
}

// envInt is the positive number in environment variable name, or def.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// alertsPerBatch is how many alerts one bench batch raises under the
// benchmark's rules, counted in process.
func alertsPerBatch(b *testing.B, mix func(node string, seq uint64, n int) *schema.Batch, events int) int {
	b.Helper()
	set, err := ruleset.Load(benchRules["all"])
	if err != nil {
		b.Fatal(err)
	}
	ev, err := evaluate.New("", dropalert.Options{})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	ev.NewWorker().Batch(set.Engine, mix("node1", 0, events), "count", func(evaluate.Alert) { n++ })
	if n == 0 {
		b.Fatal("the bench batch raises no alert")
	}
	return n
}

// fill publishes n batches with fresh sequence numbers (so message ids
// never repeat across drains) and empties ALERTS.
func fill(b *testing.B, conn *bus.Conn, mix func(node string, seq uint64, n int) *schema.Batch, seq *uint64, n, events int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), drainLimit)
	defer cancel()
	alerts, err := conn.JS.Stream(ctx, schema.StreamAlerts)
	if err != nil {
		b.Fatal(err)
	}
	if err := alerts.Purge(ctx); err != nil {
		b.Fatal(err)
	}
	publishBatches(b, ctx, conn, mix, seq, n, events)
	if got := msgs(b, conn, schema.StreamEnriched); got != uint64(n) {
		b.Fatalf("%s holds %d batches after the fill, want %d", schema.StreamEnriched, got, n)
	}
}

// drains counts the drains by replica count, naming server profiles.
var drains = map[int]int{}

// runDrain starts r replicas, waits until they are ready, then times
// them from "go" until the stream is empty and ALERTS holds wantAlerts.
func runDrain(b *testing.B, conn *bus.Conn, srv *child, r, events, wantAlerts int) drain {
	b.Helper()
	b.StopTimer()
	reps := make([]*child, r)
	for i := range reps {
		reps[i] = startChild(b, "replica", urlEnv+"="+conn.NC.ConnectedUrl(), "GOMAXPROCS=1")
	}
	for _, c := range reps {
		c.expect(b, "ready")
	}
	prefix := os.Getenv(profileEnv)
	if prefix != "" {
		drains[r]++
		srv.send(b, fmt.Sprintf("profile %s.server.%dr.%d", prefix, r, drains[r]))
		srv.expect(b, "ok")
	}
	b.StartTimer()
	total := msgs(b, conn, schema.StreamEnriched)
	srv0, self0 := procCPU(b, srv.cmd.Process.Pid), selfCPU()
	busy0, steal0 := machineCPU(b)
	start := time.Now()
	for _, c := range reps {
		c.send(b, "go")
	}
	// Each poll is one JetStream API request the server answers: few
	// enough (at most every 20ms, ALERTS only once the batches are gone)
	// that the server's CPU figure is the replicas' traffic. Near the end
	// the wait shrinks to half the time the batches left should take at
	// the rate so far, so the figure does not gain up to 20ms of idle
	// machine after the last ack (that would weigh twice as much on the
	// shorter 2-replica drain). A batch is acked only after its alerts
	// are stored, so ALERTS is complete soon after the stream is empty.
	deadline := start.Add(drainLimit)
	for {
		left := msgs(b, conn, schema.StreamEnriched)
		if left == 0 && msgs(b, conn, schema.StreamAlerts) >= uint64(wantAlerts) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d replica(s): not drained within %v: %d batches left, %d of %d alerts", r, drainLimit,
				left, msgs(b, conn, schema.StreamAlerts), wantAlerts)
		}
		wait := 20 * time.Millisecond
		if done := total - min(left, total); done > 0 {
			wait = min(wait, max(time.Millisecond, time.Since(start)*time.Duration(left)/time.Duration(2*done)))
		}
		time.Sleep(wait)
	}
	d := drain{events: events, wall: time.Since(start), serverCPU: procCPU(b, srv.cmd.Process.Pid) - srv0}
	busy1, steal1 := machineCPU(b)
	self := selfCPU() - self0
	b.StopTimer()
	if prefix != "" {
		srv.send(b, "unprofile")
		srv.expect(b, "ok")
	}
	if got := msgs(b, conn, schema.StreamAlerts); got != uint64(wantAlerts) {
		b.Fatalf("%d replica(s): ALERTS holds %d alerts, want %d", r, got, wantAlerts)
	}
	for _, c := range reps {
		c.send(b, "stop")
	}
	for _, c := range reps {
		ns, err := strconv.ParseInt(c.expect(b, "cpu "), 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		d.replicaCPU = append(d.replicaCPU, time.Duration(ns))
		// The replica's last moments (parse "stop", report) are outside
		// its figure but inside the machine's; they are microseconds.
		c.in.Close()
		if err := c.cmd.Wait(); err != nil {
			b.Fatalf("replica: %v; stderr:\n%s", err, c.err.String())
		}
	}
	d.steal = steal1 - steal0
	d.otherCPU = max(0, busy1-busy0-d.replicaCPUTotal()-d.serverCPU-self)
	b.Logf("%d replica(s): %d events in %v = %.0f events/s; replica CPU %v; server CPU %v; other CPU %v; steal %v",
		r, d.events, d.wall.Round(time.Millisecond), d.eventsPerSec(), d.replicaCPU, d.serverCPU,
		d.otherCPU.Round(time.Millisecond), d.steal.Round(time.Millisecond))
	b.StartTimer()
	return d
}

// machineCPU reads the first line of /proc/stat: the busy time of all
// CPUs (user, nice, system, irq, softirq) and the steal time, in clock
// ticks of 10ms.
func machineCPU(b *testing.B) (busy, steal time.Duration) {
	b.Helper()
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		b.Fatalf("/proc/stat: unexpected first line %q", line)
	}
	tick := func(i int) time.Duration {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			b.Fatalf("/proc/stat field %d: %v", i, err)
		}
		return time.Duration(v) * 10 * time.Millisecond
	}
	return tick(1) + tick(2) + tick(3) + tick(6) + tick(7), tick(8)
}

func msgs(b *testing.B, conn *bus.Conn, stream string) uint64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := conn.JS.Stream(ctx, stream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return info.State.Msgs
}
