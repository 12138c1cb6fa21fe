package rules

import (
	"runtime"
	"syscall"
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// BenchmarkEngine measures events per second with the three upstream
// files loaded on benchBatch's mix; run with -cpu 1 for the per-core
// figure. The machine is shared, so beside wall time it reports the
// benchmark thread's own CPU time per event (cpu-ns/event) and the
// events per second of CPU time that gives (events/cpu-s), which swing
// much less with the load.
func BenchmarkEngine(b *testing.B) {
	benchEngine(b, benchBatch())
}

// BenchmarkEngineEvent runs the engine on one kind of event of the mix
// at a time, to show where the per-event cost goes.
func BenchmarkEngineEvent(b *testing.B) {
	mix := benchBatch()
	kinds := []struct {
		name  string
		index int // into benchBatch's events
	}{{"open_read", 0}, {"open_write", 5}, {"execve", 6}, {"connect", 7}}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			one := *mix
			one.Events = []schema.Event{mix.Events[k.index]}
			benchEngine(b, &one)
		})
	}
}

func benchEngine(b *testing.B, batch *schema.Batch) {
	e, err := Compile(loadUpstream(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	c := &fields.Ctx{}
	emit := func(*Rule) {}
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		c.Reset(batch, n%len(batch.Events), "")
		e.Eval(c, emit)
		n++
	}
	cpu := threadCPU() - start
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(n), "cpu-ns/event")
		b.ReportMetric(float64(n)/(float64(cpu)/1e9), "events/cpu-s")
	}
}

// rusageThread is Linux's RUSAGE_THREAD, which package syscall does not name.
const rusageThread = 1

// threadCPU is the calling thread's user+system CPU time in ns, 0 when
// the system cannot tell.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
