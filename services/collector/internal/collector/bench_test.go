package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/probe"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// The load generator runs in a child process (this test binary again):
// the collector ignores its own pid, and the child's CPU time is then
// its own.
const loopEnv = "PEREGRINE_BENCH_LOOP" // "<iterations>,<iterations per second or 0>"

func TestMain(m *testing.M) {
	if spec := os.Getenv(loopEnv); spec != "" {
		os.Exit(openCloseLoop(spec))
	}
	if path := os.Getenv(dialUnixEnv); path != "" {
		os.Exit(dialUnix(path))
	}
	if spec := os.Getenv(ctxChildEnv); spec != "" {
		os.Exit(ctxChild(spec))
	}
	os.Exit(m.Run())
}

func cpuNs(who int) int64 {
	var ru unix.Rusage
	_ = unix.Getrusage(who, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// openCloseLoop opens and closes /dev/null, printing CPU ns per syscall.
// spec is "<iterations>,<rate>[,<threads>[,ebadf]]": with several threads
// each runs iterations/threads on its own OS thread, so the generator is
// not what caps the event rate. With "ebadf" an iteration is one close(-1),
// the cheapest captured syscall (one exit record, fails with EBADF), to
// find the rate user space is delivered when the syscalls cost least.
func openCloseLoop(spec string) int {
	its, rate, threads, kind := 0, 0, 1, ""
	fmt.Sscanf(spec, "%d,%d,%d,%s", &its, &rate, &threads, &kind)
	threads = max(threads, 1)
	perIteration := 2
	if kind == "ebadf" {
		perIteration = 1
	}
	start := time.Now()
	c0 := cpuNs(unix.RUSAGE_SELF)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			n := its / threads
			for i := 0; i < n; i++ {
				if perIteration == 1 {
					_ = unix.Close(-1)
					continue
				}
				fd, err := unix.Openat(unix.AT_FDCWD, "/dev/null", unix.O_RDONLY, 0)
				if err != nil {
					fmt.Println("error", err)
					failed.Store(true)
					return
				}
				unix.Close(fd)
				if rate > 0 && i%1000 == 999 {
					// pace: sleep until the time iteration i is due
					due := start.Add(time.Duration(float64(i+1) / float64(rate) * float64(threads) * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return 1
	}
	c1 := cpuNs(unix.RUSAGE_SELF)
	fmt.Printf("%.1f %d\n", float64(c1-c0)/float64(perIteration*its), time.Since(start).Nanoseconds())
	return 0
}

// runLoop runs the child and returns CPU ns per syscall and wall time.
func runLoop(b *testing.B, its, rate int) (float64, time.Duration) {
	b.Helper()
	return runLoopThreads(b, its, rate, 1)
}

// runLoopThreads is runLoop with the iterations split over threads.
func runLoopThreads(b *testing.B, its, rate, threads int) (float64, time.Duration) {
	b.Helper()
	return runLoopKind(b, its, rate, threads, "")
}

// runLoopKind is runLoopThreads with the loop's kind ("" or "ebadf").
func runLoopKind(b *testing.B, its, rate, threads int, kind string) (float64, time.Duration) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d,%d,%s", loopEnv, its, rate, threads, kind))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("loop: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		b.Fatalf("loop output %q", out)
	}
	ns, _ := strconv.ParseFloat(f[0], 64)
	wall, _ := strconv.ParseInt(f[1], 10, 64)
	return ns, time.Duration(wall)
}

// rawReader drains the ring and decodes every record, as the collector's
// reader does before conversion.
type rawReader struct {
	p      *probe.Probe
	events atomic.Uint64 // decoded, a folded enter counted apart
	cpu0   int64
	wg     sync.WaitGroup
	// stats are the programs' run counts and times, and drops the
	// kernel's drop count, taken at stop (the maps close with the probe).
	stats map[string]*ebpf.ProgramStats
	drops uint64
}

func startRaw(b *testing.B, o probe.Options) *rawReader {
	b.Helper()
	o.IgnorePID = uint32(os.Getpid())
	p, err := probe.Load(o)
	if err != nil {
		b.Fatal(err)
	}
	r := &rawReader{p: p}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		var raw ringbuf.Record
		var rec record.Record
		for {
			err := p.ReadInto(&raw, time.Now().Add(DefaultReadDeadline))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if err != nil {
				return
			}
			forEachRecord(raw.RawSample, &rec, func(rec *record.Record) { r.events.Add(eventsIn(rec)) })
		}
	}()
	return r
}

// forEachRecord decodes each record of a ring sample into rec and calls
// fn with it, skipping what does not decode.
func forEachRecord(sample []byte, rec *record.Record, fn func(*record.Record)) {
	for len(sample) > 0 {
		b, rest, err := record.Next(sample)
		if err != nil {
			return
		}
		sample = rest
		if record.Decode(b, rec) == nil {
			fn(rec)
		}
	}
}

// eventsIn is the number of events a record makes: its own and the
// enter event folded into it.
func eventsIn(r *record.Record) uint64 {
	if r.Enter.Present {
		return 2
	}
	return 1
}

// drain waits until the ring is empty, then stops the reader.
func (r *rawReader) stop(b *testing.B) {
	for r.p.Pending() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * DefaultReadDeadline)
	r.stats, _ = r.p.ProgramStats()
	var err error
	if r.drops, err = r.p.KernelDrops(); err != nil {
		b.Fatal(err)
	}
	r.p.Close()
	r.wg.Wait()
}

// benchIterations is 2M open+close pairs (4M syscalls, as in NOTES);
// PEREGRINE_BENCH_ITERATIONS overrides it when the machine is too busy.
var benchIterations = func() int {
	if n, err := strconv.Atoi(os.Getenv("PEREGRINE_BENCH_ITERATIONS")); err == nil && n > 0 {
		return n
	}
	return 2_000_000
}()

// enableStats turns on the kernel's BPF run-time statistics until the
// returned function is called: per-program ns/run is robust to other
// load on the machine, where the wall-clock slowdown is not. The stats
// cost two clock reads per program run, so the slowdown is measured with
// them off, as a deployment runs.
func enableStats(b *testing.B) (disable func()) {
	b.Helper()
	c, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		b.Logf("bpf stats: %v (ns/run not reported)", err)
		return func() {}
	}
	return func() { c.Close() }
}

// reportProgramCost reports ns per run of the syscall programs, and
// bpf-ns/syscall: both programs' run time per syscall (each syscall on
// the machine runs each program once, the loop's are most of them). The
// kernel cost of an event is the difference of bpf-ns/syscall with the
// filter-rejects case, divided by the events per syscall (1 without
// enter events, 1.5 with: openat enter and exit, close exit).
func reportProgramCost(b *testing.B, st map[string]*ebpf.ProgramStats) {
	b.Helper()
	var total time.Duration
	var runs uint64
	for _, name := range []string{"sys_enter", "sys_exit"} {
		s := st[name]
		if s == nil || s.RunCount == 0 {
			continue
		}
		total += s.Runtime
		runs = max(runs, s.RunCount)
		b.ReportMetric(float64(s.Runtime.Nanoseconds())/float64(s.RunCount), "ns/run-"+name)
	}
	if runs > 0 {
		b.ReportMetric(float64(total.Nanoseconds())/float64(runs), "bpf-ns/syscall")
	}
}

// BenchmarkOpenClose measures an open+close loop without the probe and
// with it, in one run, for several capture sets. The loop without the
// probe runs before and after the one with it, and slowdown divides by
// the mean of the two: on a shared machine the speed drifts within a run.
func BenchmarkOpenClose(b *testing.B) {
	skipUnlessRoot(b)
	def := sysno.MustParse(sysno.Default)
	enter := sysno.MustParse(sysno.EnterDefault)
	cases := []struct {
		name        string
		exit, enter []uint32
	}{
		{"filter-rejects", nil, nil},
		{"default-exit-only", def, nil},
		{"default", def, enter},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				before, _ := runLoop(b, benchIterations, 0)
				r := startRaw(b, probe.Options{Exit: tc.exit, Enter: tc.enter})
				c0 := cpuNs(unix.RUSAGE_SELF)
				with, wall := runLoop(b, benchIterations, 0)
				r.stop(b)
				c1 := cpuNs(unix.RUSAGE_SELF)
				after, _ := runLoop(b, benchIterations, 0)
				base := (before + after) / 2
				drops := r.drops
				n := float64(r.events.Load())
				b.ReportMetric(base, "ns/syscall-base")
				b.ReportMetric(with, "ns/syscall-probe")
				b.ReportMetric(with/base, "slowdown")
				b.ReportMetric(n/wall.Seconds(), "events/s")
				b.ReportMetric(float64(drops), "drops")
				if n > 0 {
					b.ReportMetric(float64(c1-c0)/n, "reader-cpu-ns/event")
				}
				// the program cost: the loop again (half as long), stats on
				disable := enableStats(b)
				r = startRaw(b, probe.Options{Exit: tc.exit, Enter: tc.enter})
				runLoop(b, benchIterations/2, 0)
				r.stop(b)
				disable()
				reportProgramCost(b, r.stats)
			}
		})
	}
}

// BenchmarkDelivery paces the loop to a target event rate (3 events per
// iteration with the default set: openat enter and exit, close exit, in
// two records as the enter is folded into its exit) and
// counts what reaches user space with a 16 MiB ring.
func BenchmarkDelivery(b *testing.B) {
	skipUnlessRoot(b)
	def := sysno.MustParse(sysno.Default)
	enter := sysno.MustParse(sysno.EnterDefault)
	for _, tc := range []struct {
		name          string
		rate, threads int
		kind          string // of the generator loop: open+close, or close(-1)
	}{
		{"events-per-s=500000", 500_000, 1, ""},
		{"events-per-s=max", 0, 1, ""},
		{"events-per-s=max-threads=2", 0, 2, ""},
		{"events-per-s=max-threads=2-close-ebadf", 0, 2, "ebadf"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				r := startRaw(b, probe.Options{RingSize: 16 << 20, Exit: def, Enter: enter})
				c0 := cpuNs(unix.RUSAGE_SELF)
				_, wall := runLoopKind(b, benchIterations, tc.rate/3, tc.threads, tc.kind)
				r.stop(b)
				c1 := cpuNs(unix.RUSAGE_SELF)
				drops := r.drops
				n := float64(r.events.Load())
				b.ReportMetric(n/wall.Seconds(), "events/s")
				b.ReportMetric(float64(drops), "drops")
				b.ReportMetric(float64(c1-c0)/n, "reader-cpu-ns/event")
			}
		})
	}
	// drain: the ring fills while no reader runs, then the reader empties
	// it; events/s is what the reader can consume, whatever the generator
	// manages. The ring is large so that the fill does not overflow it.
	b.Run("drain", func(b *testing.B) {
		for b.Loop() {
			p, err := probe.Load(probe.Options{RingSize: drainRing, Exit: def, Enter: enter, IgnorePID: uint32(os.Getpid())})
			if err != nil {
				b.Fatal(err)
			}
			its := min(benchIterations, drainRing/(3*400)) // ~330 B a record
			runLoop(b, its, 0)
			pending := p.Pending()
			var raw ringbuf.Record
			var rec record.Record
			n := 0
			runtime.LockOSThread()
			t0 := time.Now()
			c0 := cpuNs(unix.RUSAGE_THREAD)
			for {
				err := p.ReadInto(&raw, time.Now().Add(10*time.Millisecond))
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				forEachRecord(raw.RawSample, &rec, func(rec *record.Record) { n += int(eventsIn(rec)) })
			}
			// the final deadline wait is not drain time
			wall := time.Since(t0) - 10*time.Millisecond
			c1 := cpuNs(unix.RUSAGE_THREAD)
			runtime.UnlockOSThread()
			drops, _ := p.KernelDrops()
			p.Close()
			b.ReportMetric(float64(n)/wall.Seconds(), "events/s")
			b.ReportMetric(float64(c1-c0)/float64(n), "reader-cpu-ns/event")
			b.ReportMetric(float64(pending)/float64(n), "bytes/event")
			b.ReportMetric(float64(drops), "drops")
		}
	})
}

// drainRing is the ring of the drain benchmark.
const drainRing = 256 << 20

// BenchmarkPipeline runs the whole collector (decode, tables, conversion,
// batching; no publishing) against the unpaced loop.
func BenchmarkPipeline(b *testing.B) {
	skipUnlessRoot(b)
	for b.Loop() {
		c, err := New(Config{NoPublish: true, OnBatch: func(*schema.Batch) {}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		<-c.Ready()
		s0 := c.Stats()
		c0 := cpuNs(unix.RUSAGE_SELF)
		_, wall := runLoop(b, benchIterations, 0)
		time.Sleep(200 * time.Millisecond)
		c1 := cpuNs(unix.RUSAGE_SELF)
		s1 := c.Stats()
		cancel()
		<-done
		ev := float64(s1.Events - s0.Events)
		b.ReportMetric(ev/wall.Seconds(), "events/s")
		b.ReportMetric(float64(s1.KernelDrops-s0.KernelDrops), "drops")
		b.ReportMetric(float64(c1-c0)/ev, "cpu-ns/event")
	}
}
