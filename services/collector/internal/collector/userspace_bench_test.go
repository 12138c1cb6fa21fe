package collector

import (
	"testing"

	"github.com/peregrine-rt/peregrine/services/collector/internal/batch"
	"github.com/peregrine-rt/peregrine/services/collector/internal/convert"
	"github.com/peregrine-rt/peregrine/services/collector/internal/procfs"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/state"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
	"github.com/peregrine-rt/peregrine/services/collector/internal/users"
)

type benchClock struct{}

func (benchClock) Wall(ns uint64) int64 { return int64(ns) + 1_700_000_000_000_000_000 }

// openCloseRecords are the wire records one open+close iteration makes
// with the default capture set: openat exit with its enter event folded
// in, close exit.
func openCloseRecords() (first []byte, loop [][]byte) {
	hdr := record.Header{Pid: 4242, Tid: 4242, Context: record.Context{Ppid: 1, Uid: 1000, Euid: 1000, Gid: 1000, Egid: 1000,
		CapEff: 0x1ff, NSInum: [record.NSCount]uint32{1, 2, 3, 4, 5, 6, 7}, CgroupID: 1, MemcgID: 9}}
	copy(hdr.Comm[:], "loop")
	const atFDCWD = uint64(1<<64 - 100)
	path := record.Item{Type: record.ItemStr, Data: []byte("/dev/null")}
	file := record.Item{Type: record.ItemFile, Data: record.AppendFile(nil, record.File{Ino: 5, Dev: 6, FMode: 0x1d})}

	open := record.Record{Header: hdr, Items: []record.Item{path, file},
		Enter: record.Enter{Present: true, Args: [4]uint64{atFDCWD, 0x1000}, Items: []record.Item{path}}}
	open.Kind, open.Nr, open.Ret, open.Args = record.KindSysExit, sysno.Openat, 3, [6]uint64{atFDCWD, 0x1000, 0, 0}
	cls := record.Record{Header: hdr}
	cls.Kind, cls.Nr, cls.Args = record.KindSysExit, sysno.Close, [6]uint64{3}
	// as the probe sends them: the context only on the thread's first
	// record (primed outside the loop), then while unchanged nothing
	first = record.Encode(nil, &cls)
	open.Partial, cls.Partial = true, true
	for _, r := range []*record.Record{&open, &cls} {
		loop = append(loop, record.Encode(nil, r))
	}
	return first, loop
}

// BenchmarkPipelineUserspace runs the reader's per-record work (decode,
// tables, conversion, batching) on synthetic open/close records, without
// the kernel: its ns/event and allocs/op are the user-space cost per
// event, free of the noise of the load generator.
func BenchmarkPipelineUserspace(b *testing.B) {
	dir := b.TempDir()
	tab := state.New(state.Config{Proc: procfs.FS(dir), Users: users.New(dir, dir), Clock: benchClock{}})
	conv := convert.New(tab, benchClock{})
	bl := batch.New("bench", "boot")
	first, recs := openCloseRecords()
	var rec, enter record.Record
	ctxs := record.NewContexts()
	if err := record.Decode(first, &rec); err != nil || !ctxs.Complete(&rec) {
		b.Fatal("priming the context", err)
	}
	add := func(r *record.Record) {
		res, ok := conv.Convert(r)
		if !ok {
			b.Fatal("no event")
		}
		bl.Add(res.Event, res.Proc, tab)
		if bl.Len() >= DefaultBatchSize {
			bl.Take()
		}
	}
	b.ReportAllocs()
	k, events := 0, 0
	for b.Loop() {
		raw := recs[k%len(recs)]
		k++
		if err := record.Decode(raw, &rec); err != nil {
			b.Fatal(err)
		}
		rec.Ts = uint64(k)
		if !ctxs.Complete(&rec) {
			b.Fatal("context unknown")
		}
		if rec.EnterRecord(&enter) {
			add(&enter)
			events++
		}
		add(&rec)
		events++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}
