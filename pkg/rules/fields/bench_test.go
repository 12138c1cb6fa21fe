package fields

import (
	"runtime"
	"syscall"
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// benchBatch is 64 events of four processes, the mix a node produces:
// opens, connects, execs and unlinks, host and container.
func benchBatch() *schema.Batch {
	b := &schema.Batch{Version: schema.Version, Node: "node-1", Seq: 1}
	host, script := shellProc(), scriptProc()
	ctp := scriptProc()
	ctp.ContainerID = testCID
	b.Procs = []schema.Process{*host, *script, *ctp}
	b.Containers = []schema.Container{*podContainer()}
	for i := 0; i < 64; i++ {
		var ev schema.Event
		switch i % 4 {
		case 0:
			ev = schema.Event{Type: schema.EventOpenat, Res: 3, FD: &schema.FD{Num: 3, Type: 'f', Name: "/etc/ld.so.cache"},
				Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/etc/ld.so.cache"), schema.IntArg(02000000),
					schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}}
		case 1:
			ev = schema.Event{Type: schema.EventConnect, FD: tcp4("10.0.0.5", 40000, "1.2.3.4", 443, schema.RoleClient),
				Args: []schema.Arg{schema.StrArg(""), schema.IntArg(4), schema.StrArg("")}}
		case 2:
			ev = schema.Event{Type: schema.EventExecve, Args: execveArgs(0)}
		case 3:
			ev = schema.Event{Type: schema.EventUnlinkat, Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/tmp/x"), schema.IntArg(0)}}
		}
		ev.Proc = int32(i / 4 % 3)
		ev.Ts = testTs + int64(i)
		b.Events = append(b.Events, ev)
	}
	return b
}

func benchFields(b *testing.B, spellings ...string) {
	batch := benchBatch()
	fs := make([]*Field, len(spellings))
	for i, s := range spellings {
		name, arg, hasArg := Split(s)
		f, err := Lookup(name, arg, hasArg)
		if err != nil {
			b.Fatal(err)
		}
		fs[i] = f
	}
	var c Ctx
	n := 0
	// The machine is shared: wall time per op swings with the load, the
	// thread's own CPU time much less; cpuBench reports both.
	cpuBench(b, func(i int) {
		c.Reset(batch, i%len(batch.Events), "")
		for _, f := range fs {
			if _, ok := f.Extract(&c); ok {
				n++
			}
		}
	})
}

// rusageThread is Linux's RUSAGE_THREAD, which package syscall does not name.
const rusageThread = 1

// threadCPU is the calling thread's user+system CPU time in ns.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// Per-field benchmarks: one Reset plus one extraction per op.
func BenchmarkExtract(b *testing.B) {
	for _, s := range []string{
		"evt.type", "proc.name", "fd.name", "fd.directory", "proc.aname[2]", "proc.pname", "proc.cmdline",
		"user.name", "container.id", "container.image.repository", "fd.sip", "fd.sport", "evt.arg.flags",
		"evt.rawres", "evt.is_open_read", "fd.typechar", "thread.cap_effective", "proc.env[HOME]",
		"container.mount.dest[/proc*]", "k8s.ns.name",
	} {
		b.Run(s, func(b *testing.B) { benchFields(b, s) })
	}
}

// BenchmarkEventMix is one event checked against a typical set of
// condition fields: Reset plus 12 extractions per op.
func BenchmarkEventMix(b *testing.B) {
	benchFields(b, "evt.type", "evt.rawres", "fd.typechar", "fd.name", "fd.directory", "proc.name", "proc.pname",
		"proc.aname[2]", "container.id", "user.name", "proc.cmdline", "evt.arg.flags")
}

// BenchmarkMultiAname walks every ancestor through ExtractAll with a
// closure built per call: the allocation shows what Match avoids.
func BenchmarkMultiAname(b *testing.B) {
	batch := benchBatch()
	f := MustLookup("proc.aname")
	var c Ctx
	n := 0
	cpuBench(b, func(i int) {
		c.Reset(batch, i%len(batch.Events), "")
		f.ExtractAll(&c, func(v Value) bool { n += len(v.Str); return true })
	})
}

// BenchmarkMatchAname is "proc.aname = systemd" through Match with a
// predicate built once, as a compiled rule does.
func BenchmarkMatchAname(b *testing.B) {
	batch := benchBatch()
	f := MustLookup("proc.aname")
	pred := func(v Value) bool { return v.Str == "systemd" }
	var c Ctx
	n := 0
	cpuBench(b, func(i int) {
		c.Reset(batch, i%len(batch.Events), "")
		if m, _ := f.Match(&c, pred); m {
			n++
		}
	})
}

// BenchmarkReset is the per-event cost of pointing a Ctx at an event.
func BenchmarkReset(b *testing.B) {
	batch := benchBatch()
	var c Ctx
	cpuBench(b, func(i int) { c.Reset(batch, i%len(batch.Events), "") })
}

// cpuBench runs op b.N times and reports the thread's CPU time per op
// beside the wall time.
func cpuBench(b *testing.B, op func(i int)) {
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op(i)
	}
	b.StopTimer()
	b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
}

// TestHotPathNoAllocs guards the per-event cost: once a Ctx has seen a
// batch, pointing it at events and extracting the hot fields allocates
// nothing.
func TestHotPathNoAllocs(t *testing.T) {
	batch := benchBatch()
	var fs []*Field
	for _, s := range []string{"evt.type", "evt.rawres", "evt.res", "fd.typechar", "fd.name", "fd.directory", "fd.filename",
		"fd.sip", "fd.sport", "fd.l4proto", "proc.name", "proc.pname", "proc.aname[2]", "proc.cmdline", "proc.pcmdline",
		"proc.args", "proc.exepath", "user.name", "user.uid", "container.id", "container.image.repository",
		"k8s.ns.name", "evt.arg.flags", "evt.arg.name", "evt.is_open_read", "thread.cap_effective", "proc.env[HOME]",
		"container.mount.dest[/proc*]", "proc.tty"} {
		fs = append(fs, MustLookup(s))
	}
	aname := MustLookup("proc.aname")
	pred := func(v Value) bool { return v.Str == "systemd" }
	var c Ctx
	run := func() {
		for i := range batch.Events {
			c.Reset(batch, i, "")
			for _, f := range fs {
				f.Extract(&c)
			}
			aname.Match(&c, pred)
		}
	}
	run() // warm the per-batch caches
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("%v allocations per pass over %d events, want 0", n, len(batch.Events))
	}
}
