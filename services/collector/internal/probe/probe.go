// Package probe loads the collector's eBPF program (bpf/probe.bpf.c), attaches
// it to the BTF raw tracepoints and exposes its ring buffer, interest filter
// and drop counters.
//
// Loading needs root (CAP_BPF and CAP_PERFMON) and a kernel with BTF. The
// compiled object is embedded, so building needs no clang.
package probe

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// Interest bits, as the probe reads them from the interest map.
const (
	InterestExit  = 1
	InterestEnter = 2
)

// DefaultRingSize is the ring buffer size when [Options.RingSize] is zero.
const DefaultRingSize = 16 << 20

// DefaultWakeupBytes is the pending-data threshold above which a producer
// wakes the reader up.
const DefaultWakeupBytes = 256 << 10

// ErrInvalidOption is wrapped by errors about bad [Options].
var ErrInvalidOption = errors.New("invalid option")

// Options configure [Load]. The zero value is valid: default ring size and
// wakeup threshold, no syscalls captured (use [Probe.SetInterest]).
type Options struct {
	// RingSize in bytes: a power of two and a multiple of the page size.
	RingSize int
	// WakeupBytes: producers force a wakeup only when more than this is
	// pending; the reader must poll on a deadline for the rest. A CPU
	// checks each time it flushes its batch of records (about 16 KiB).
	WakeupBytes int
	// Exit and Enter are the syscall numbers that produce exit and enter
	// records.
	Exit, Enter []uint32
	// IgnorePID is a tgid whose events are not recorded (the collector
	// itself, to avoid feedback from its own /proc reads). 0 records all.
	IgnorePID uint32

	// noFDCast makes the probe read fd table slots with a helper, as it
	// does on kernels that refuse the direct read (for tests).
	noFDCast bool
}

// Validate reports whether o can be loaded.
func (o Options) Validate() error {
	if o.RingSize != 0 {
		ps := os.Getpagesize()
		if o.RingSize < ps || o.RingSize&(o.RingSize-1) != 0 {
			return fmt.Errorf("ring size %d: not a power of two >= page size: %w", o.RingSize, ErrInvalidOption)
		}
	}
	if o.WakeupBytes < 0 {
		return fmt.Errorf("wakeup bytes %d: %w", o.WakeupBytes, ErrInvalidOption)
	}
	for _, l := range [][]uint32{o.Exit, o.Enter} {
		for _, nr := range l {
			if nr >= sysno.Max {
				return fmt.Errorf("syscall %d: out of range: %w", nr, ErrInvalidOption)
			}
		}
	}
	return nil
}

// Probe is a loaded and attached probe. Its methods are safe for
// concurrent use, except that only one goroutine may read the ring.
type Probe struct {
	objs     probeObjects
	links    []link.Link
	reader   *ringbuf.Reader
	ringSize int
}

// Load loads and attaches the probe. The caller must Close it.
func Load(o Options) (*Probe, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	spec, err := loadProbe()
	if err != nil {
		return nil, fmt.Errorf("probe spec: %w", err)
	}
	if o.RingSize == 0 {
		o.RingSize = DefaultRingSize
	}
	if o.WakeupBytes == 0 {
		o.WakeupBytes = DefaultWakeupBytes
	}
	spec.Maps["events"].MaxEntries = uint32(o.RingSize)
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("possible CPUs: %w", err)
	}
	spec.Maps["batches"].MaxEntries = uint32(cpus) // one record batch per CPU
	if err := spec.Variables["wakeup_bytes"].Set(uint64(o.WakeupBytes)); err != nil {
		return nil, fmt.Errorf("variable wakeup_bytes: %w", err)
	}
	if err := spec.Variables["self_tgid"].Set(o.IgnorePID); err != nil {
		return nil, fmt.Errorf("variable self_tgid: %w", err)
	}

	p := &Probe{ringSize: o.RingSize}
	if err := p.load(spec, !o.noFDCast); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) && !o.noFDCast {
			// an older verifier: read fd slots with a helper instead
			err = p.load(spec, false)
		}
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load probe: %+v", ve)
		}
		if err != nil {
			return nil, fmt.Errorf("load probe: %w", err)
		}
	}
	if err := p.setInterest(o.Exit, o.Enter); err != nil {
		p.Close()
		return nil, err
	}
	p.reader, err = ringbuf.NewReader(p.objs.Events)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("ring reader: %w", err)
	}
	// Attach sched first so the process table sees forks before syscalls.
	for _, a := range []struct {
		name string
		prog *ebpf.Program
	}{
		{"sched_process_fork", p.objs.SchedFork},
		{"sched_process_exec", p.objs.SchedExec},
		{"sched_process_exit", p.objs.SchedExit},
		{"sched_switch", p.objs.SchedSwitch},
		{"sys_exit", p.objs.SysExit},
		{"sys_enter", p.objs.SysEnter},
	} {
		l, err := link.AttachTracing(link.TracingOptions{Program: a.prog})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("attach tp_btf/%s: %w", a.name, err)
		}
		p.links = append(p.links, l)
	}
	return p, nil
}

func (p *Probe) load(spec *ebpf.CollectionSpec, fdCast bool) error {
	v := uint8(0)
	if fdCast {
		v = 1
	}
	if err := spec.Variables["fd_array_cast"].Set(v); err != nil {
		return fmt.Errorf("variable fd_array_cast: %w", err)
	}
	return spec.LoadAndAssign(&p.objs, nil)
}

// SetInterest replaces the capture set: exit lists the syscalls producing
// exit records, enter those producing enter records.
func (p *Probe) SetInterest(exit, enter []uint32) error {
	return p.setInterest(exit, enter)
}

func (p *Probe) setInterest(exit, enter []uint32) error {
	vals := make([]uint32, sysno.Max)
	for _, nr := range exit {
		if nr >= sysno.Max {
			return fmt.Errorf("syscall %d: out of range: %w", nr, ErrInvalidOption)
		}
		vals[nr] |= InterestExit
	}
	for _, nr := range enter {
		if nr >= sysno.Max {
			return fmt.Errorf("syscall %d: out of range: %w", nr, ErrInvalidOption)
		}
		vals[nr] |= InterestEnter
	}
	keys := make([]uint32, sysno.Max)
	for i := range keys {
		keys[i] = uint32(i)
	}
	if _, err := p.objs.Interest.BatchUpdate(keys, vals, nil); err != nil {
		// Older kernels lack batch ops on arrays.
		for i := range keys {
			if err := p.objs.Interest.Put(keys[i], vals[i]); err != nil {
				return fmt.Errorf("map interest: %w", err)
			}
		}
	}
	return nil
}

// RingSize is the ring buffer size in bytes.
func (p *Probe) RingSize() int { return p.ringSize }

// ReadInto reads the next ring sample into rec, blocking until deadline:
// a batch of one CPU's records, which record.Next splits. It returns
// samples pending at the deadline first, then an error wrapping
// [os.ErrDeadlineExceeded]; after Close it returns an error wrapping
// [os.ErrClosed]. Only one goroutine may call it.
func (p *Probe) ReadInto(rec *ringbuf.Record, deadline time.Time) error {
	p.reader.SetDeadline(deadline)
	return p.reader.ReadInto(rec)
}

// Pending is the number of bytes waiting in the ring.
func (p *Probe) Pending() int { return p.reader.AvailableBytes() }

// KernelDrops is the number of records the kernel could not write because
// the ring was full, summed over CPUs.
func (p *Probe) KernelDrops() (uint64, error) { return p.dropSlot(0) }

// CompatSyscalls is the number of 32-bit (ia32) syscalls seen and not
// recorded: their numbers name other syscalls, so the probe does not
// decode them. Non-zero means 32-bit programs run unobserved.
func (p *Probe) CompatSyscalls() (uint64, error) { return p.dropSlot(1) }

func (p *Probe) dropSlot(slot uint32) (uint64, error) {
	var per []uint64
	if err := p.objs.Drops.Lookup(slot, &per); err != nil {
		return 0, fmt.Errorf("map drops: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// Close detaches and unloads the probe and unblocks a pending ReadInto.
func (p *Probe) Close() error {
	var errs []error
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	p.links = nil
	if p.reader != nil {
		errs = append(errs, p.reader.Close())
	}
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
}

// ProgramStats returns run counts and total run time of each program
// (name -> stats). The kernel counts only while BPF statistics are enabled
// (sysctl kernel.bpf_stats_enabled or [ebpf.EnableStats]).
func (p *Probe) ProgramStats() (map[string]*ebpf.ProgramStats, error) {
	out := map[string]*ebpf.ProgramStats{}
	for name, prog := range map[string]*ebpf.Program{
		"sys_enter": p.objs.SysEnter, "sys_exit": p.objs.SysExit, "sched_exec": p.objs.SchedExec,
		"sched_fork": p.objs.SchedFork, "sched_exit": p.objs.SchedExit, "sched_switch": p.objs.SchedSwitch,
	} {
		st, err := prog.Stats()
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", name, err)
		}
		out[name] = st
	}
	return out, nil
}
