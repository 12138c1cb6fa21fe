// Package collector is the collector stage: it loads the probe, keeps the
// process and fd tables, converts records to events, groups them into
// batches and publishes them on events.raw.<node>.
//
// One goroutine reads the ring, converts and batches; publishing runs in
// another behind a bounded queue, so a slow or absent NATS server never
// stalls the ring reader (batches beyond the bound are dropped and
// counted). Kernel drops (ring full) and user-space drops are exported as
// metrics and reported in-band as drop events.
package collector

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/batch"
	"github.com/peregrine-rt/peregrine/services/collector/internal/clock"
	"github.com/peregrine-rt/peregrine/services/collector/internal/convert"
	"github.com/peregrine-rt/peregrine/services/collector/internal/probe"
	"github.com/peregrine-rt/peregrine/services/collector/internal/publish"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/state"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// Log keys.
const (
	logKeyNode     = "node"
	logKeyURL      = "nats_url"
	logKeyErr      = "err"
	logKeySyscalls = "syscalls"
	logKeyCount    = "count"
)

// Defaults of [Config].
const (
	DefaultBatchSize    = schema.DefaultBatchEvents // see there for the size and payload margin
	DefaultBatchTimeout = 100 * time.Millisecond
	// DefaultBatchBytes bounds a batch's estimated encoded size, half of
	// nats-server's default 1 MiB max_payload: the enricher adds container
	// metadata on the way.
	DefaultBatchBytes   = 512 << 10
	DefaultReadDeadline = 50 * time.Millisecond
	DefaultDropInterval = time.Second
	DefaultQueueEvents  = 1_000_000
	sweepInterval       = 30 * time.Second
)

// ErrInvalidConfig is wrapped by [Config.Validate] errors.
var ErrInvalidConfig = errors.New("invalid collector config")

// Config configures a [Collector]. Zero fields take the defaults.
type Config struct {
	Node         string // default: hostname
	NATSURL      string // default: bus.Connect's (NATS_URL, then nats://127.0.0.1:4222)
	Print        io.Writer
	NoPublish    bool
	RingSize     int
	WakeupBytes  int
	BatchSize    int
	BatchBytes   int // estimated encoded size that sends a batch early
	BatchTimeout time.Duration
	ReadDeadline time.Duration
	DropInterval time.Duration
	QueueEvents  int      // bound of the publish queue, in events
	Syscalls     []uint32 // exit records; default sysno.Default
	Enter        []uint32 // enter records; default sysno.EnterDefault
	NoEnter      bool     // no enter records at all
	Registry     prometheus.Registerer
	Logger       *slog.Logger
	// OnBatch, when set, sees every batch before it is queued (tests).
	OnBatch func(*schema.Batch)
}

// Validate checks c.
func (c *Config) Validate() error {
	if c.BatchSize < 0 || c.BatchBytes < 0 || c.BatchTimeout < 0 || c.QueueEvents < 0 || c.ReadDeadline < 0 {
		return fmt.Errorf("negative size or duration: %w", ErrInvalidConfig)
	}
	return nil
}

func (c *Config) defaults() {
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.ReadDeadline == 0 {
		c.ReadDeadline = DefaultReadDeadline
	}
	if c.DropInterval == 0 {
		c.DropInterval = DefaultDropInterval
	}
	if c.QueueEvents == 0 {
		c.QueueEvents = DefaultQueueEvents
	}
	if c.Syscalls == nil {
		c.Syscalls = sysno.MustParse(sysno.Default)
	}
	if c.Enter == nil && !c.NoEnter {
		c.Enter = sysno.MustParse(sysno.EnterDefault)
	}
	if c.NoEnter {
		c.Enter = nil
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Stats are the collector's counters.
type Stats struct {
	Records      uint64 // read from the ring
	Events       uint64 // converted
	DecodeErrors uint64
	// MissingContexts counts records whose process context was neither
	// in the record nor known from an earlier one of the thread: their
	// events carry the process table's context as it was.
	MissingContexts uint64
	KernelDrops     uint64
	Publish         publish.Stats
}

// Collector is one collector run.
type Collector struct {
	cfg   Config
	queue *publish.Queue

	records, events, decodeErrs atomic.Uint64
	missingCtx                  atomic.Uint64
	kernelDrops, compat         atomic.Uint64

	mu    sync.Mutex
	probe *probe.Probe
	ready chan struct{}
}

// New validates cfg and returns a collector; nothing is loaded until Run.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	q, err := publish.New(publish.Options{Subject: schema.RawSubject(cfg.Node), MaxEvents: cfg.QueueEvents})
	if err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, queue: q, ready: make(chan struct{})}
	if cfg.Registry != nil {
		if err := c.register(cfg.Registry); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Ready is closed once the probe is attached and the tables are seeded.
func (c *Collector) Ready() <-chan struct{} { return c.ready }

// Stats returns the counters; safe for concurrent use.
func (c *Collector) Stats() Stats {
	return Stats{Records: c.records.Load(), Events: c.events.Load(), DecodeErrors: c.decodeErrs.Load(),
		MissingContexts: c.missingCtx.Load(), KernelDrops: c.kernelDrops.Load(), Publish: c.queue.Stats()}
}

func (c *Collector) register(r prometheus.Registerer) error {
	ctr := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "peregrine", Subsystem: "collector", Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "peregrine", Subsystem: "collector", Name: name, Help: help}, f)
	}
	for _, m := range []prometheus.Collector{
		ctr("records_total", "Records read from the ring buffer.", func() float64 { return float64(c.records.Load()) }),
		ctr("events_total", "Events converted.", func() float64 { return float64(c.events.Load()) }),
		ctr("decode_errors_total", "Ring records that failed to decode.", func() float64 { return float64(c.decodeErrs.Load()) }),
		ctr("missing_contexts_total", "Records whose process context was unknown (sent in a record that was lost).", func() float64 { return float64(c.missingCtx.Load()) }),
		ctr("kernel_drops_total", "Records the probe could not write: ring buffer full.", func() float64 { return float64(c.kernelDrops.Load()) }),
		ctr("compat_syscalls_total", "32-bit syscalls seen and not decoded.", func() float64 { return float64(c.compat.Load()) }),
		ctr("user_drops_total", "Events dropped in user space: publish queue full.", func() float64 { return float64(c.queue.Stats().DroppedEvents) }),
		ctr("published_events_total", "Events handed to NATS.", func() float64 { return float64(c.queue.Stats().Events) }),
		ctr("published_batches_total", "Batches handed to NATS.", func() float64 { return float64(c.queue.Stats().Batches) }),
		ctr("publish_errors_total", "Batches the publisher refused.", func() float64 { return float64(c.queue.Stats().Errors) }),
		gauge("queued_events", "Events waiting for NATS.", func() float64 { return float64(c.queue.Stats().QueuedEvents) }),
	} {
		if err := r.Register(m); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// Run loads the probe, seeds the tables and collects until ctx ends. It
// returns nil on cancellation, or the error that stopped it.
func (c *Collector) Run(ctx context.Context) error {
	cfg := &c.cfg
	log := cfg.Logger
	log.Info("collector starting", logKeyNode, cfg.Node, "ring_size", cfg.RingSize, "batch_size", cfg.BatchSize, "batch_bytes", cfg.BatchBytes,
		"batch_timeout", cfg.BatchTimeout.String(), "publish", !cfg.NoPublish, "print", cfg.Print != nil,
		"queue_events", cfg.QueueEvents)
	p, err := probe.Load(probe.Options{RingSize: cfg.RingSize, WakeupBytes: cfg.WakeupBytes, Exit: cfg.Syscalls,
		Enter: cfg.Enter, IgnorePID: uint32(os.Getpid())})
	if err != nil {
		return err
	}
	names := make([]string, len(cfg.Syscalls))
	for i, nr := range cfg.Syscalls {
		names[i] = sysno.Name(nr)
	}
	enter := make([]string, len(cfg.Enter))
	for i, nr := range cfg.Enter {
		enter[i] = sysno.Name(nr)
	}
	log.Info("probe attached", "programs", "tp_btf/sys_enter,sys_exit,sched_process_exec,fork,exit",
		"ring_bytes", p.RingSize(), logKeyCount, len(names), logKeySyscalls, names, "enter_syscalls", enter)

	clk := clock.New()
	tab := state.New(state.Config{Clock: clk})
	n, err := tab.Seed()
	if err != nil {
		p.Close()
		return fmt.Errorf("seed process table: %w", err)
	}
	log.Info("process table seeded from /proc", logKeyCount, n)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if !cfg.NoPublish {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.publishLoop(ctx)
		}()
	}
	// Close unblocks ReadInto when ctx ends.
	stop := context.AfterFunc(ctx, func() { p.Close() })
	defer stop()
	c.mu.Lock()
	c.probe = p
	c.mu.Unlock()
	close(c.ready)

	err = c.readLoop(ctx, p, tab, clk)
	cancel()
	p.Close()
	wg.Wait()
	if ctx.Err() != nil {
		return nil // cancelled: the ring was closed under the reader
	}
	return err
}

func (c *Collector) publishLoop(ctx context.Context) {
	log := c.cfg.Logger
	var opts []bus.Option
	if c.cfg.NATSURL != "" {
		opts = append(opts, bus.WithURL(c.cfg.NATSURL))
	}
	opts = append(opts, bus.WithErrorHandler(func(err error) { log.Warn("nats", logKeyErr, err) }))
	conn, err := bus.Connect(ctx, "peregrine-collector-"+c.cfg.Node, opts...)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("nats connect", logKeyErr, err)
		}
		return
	}
	defer conn.Close()
	log.Info("nats connected", logKeyURL, conn.URL(), "subject", schema.RawSubject(c.cfg.Node))
	if _, err := conn.EnsureStream(ctx, bus.RawStream(bus.StreamLimits{})); err != nil && ctx.Err() == nil {
		// Another stage may own the stream with other limits: publish anyway.
		log.Warn("ensure stream", logKeyErr, err)
	}
	pub, err := bus.NewPublisher(conn, bus.PublisherOptions{
		Compress:  true,
		OnFailure: func(pe *bus.PublishError) { log.Warn("batch given up", logKeyErr, pe) },
	})
	if err != nil {
		log.Error("publisher", logKeyErr, err)
		return
	}
	c.queue.SetSender(pub)
	_ = c.queue.Run(ctx)
	fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = pub.Flush(fctx)
}

func (c *Collector) readLoop(ctx context.Context, p *probe.Probe, tab *state.Table, clk *clock.Boot) error {
	cfg := &c.cfg
	bootID := strconv.FormatInt(time.Now().UnixNano(), 36)
	bl := batch.New(cfg.Node, bootID)
	conv := convert.New(tab, clk)
	ctxs := record.NewContexts()
	var (
		raw      ringbuf.Record
		rec      record.Record
		enter    record.Record // rec's folded enter event
		out      *bufio.Writer
		lastFlsh = time.Now()
		lastDrop = time.Now()
		lastSwp  = time.Now()
		prevK    uint64
		prevU    uint64
		prevEv   uint64
	)
	if cfg.Print != nil {
		out = bufio.NewWriterSize(cfg.Print, 1<<16)
	}
	flush := func() {
		b := bl.Take()
		lastFlsh = time.Now()
		if b == nil {
			return
		}
		if out != nil {
			for _, r := range b.Records() {
				line, err := json.Marshal(r)
				if err != nil {
					cfg.Logger.Warn("print", logKeyErr, err)
					continue
				}
				out.Write(line)
				out.WriteByte('\n')
			}
			out.Flush()
		}
		if cfg.OnBatch != nil {
			cfg.OnBatch(b)
		}
		if !cfg.NoPublish {
			c.queue.Enqueue(b)
		}
	}
	add := func(r *record.Record) {
		res, ok := conv.Convert(r)
		if !ok {
			return
		}
		c.events.Add(1)
		bl.Add(res.Event, res.Proc, tab)
		if res.Remove {
			tab.Remove(res.Proc.Pid)
		}
		if bl.Len() >= cfg.BatchSize || bl.Bytes() >= cfg.BatchBytes {
			flush()
		}
	}
	drops := func(now time.Time) {
		kd, err := p.KernelDrops()
		if err == nil {
			c.kernelDrops.Store(kd)
		}
		if n, err := p.CompatSyscalls(); err == nil {
			if n > 0 && c.compat.Load() == 0 {
				cfg.Logger.Warn("32-bit syscalls seen: they are counted, not decoded", logKeyCount, n)
			}
			c.compat.Store(n)
		}
		ud := c.queue.Stats().DroppedEvents + c.decodeErrs.Load()
		ev := c.events.Load()
		if kd != prevK || ud != prevU {
			bl.Add(schema.Event{Ts: now.UnixNano(), Type: schema.EventDrop, Args: []schema.Arg{
				schema.IntArg(int64(kd - prevK)), schema.IntArg(int64(ud - prevU)),
				schema.IntArg(int64(ev - prevEv)), schema.IntArg(int64(now.Sub(lastDrop)))}}, nil, tab)
			cfg.Logger.Warn("events lost", "kernel_drops", kd-prevK, "user_drops", ud-prevU)
		}
		prevK, prevU, prevEv, lastDrop = kd, ud, ev, now
	}
	for {
		err := p.ReadInto(&raw, time.Now().Add(cfg.ReadDeadline))
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				flush()
				return err
			}
		} else {
			// a sample is a batch of one CPU's records
			for s := raw.RawSample; len(s) > 0; {
				b, rest, serr := record.Next(s)
				if serr != nil {
					c.decodeErrs.Add(1) // the rest of the sample is lost with it
					break
				}
				s = rest
				c.records.Add(1)
				if derr := record.Decode(b, &rec); derr != nil {
					c.decodeErrs.Add(1)
					continue
				}
				// before anything else: a record may carry the context
				// of the thread's later ones
				if !ctxs.Complete(&rec) {
					c.missingCtx.Add(1)
				}
				if rec.EnterRecord(&enter) {
					add(&enter)
				}
				add(&rec)
			}
		}
		now := time.Now()
		if now.Sub(lastDrop) >= cfg.DropInterval {
			drops(now)
		}
		if now.Sub(lastFlsh) >= cfg.BatchTimeout {
			flush()
		}
		if now.Sub(lastSwp) >= sweepInterval {
			lastSwp = now
			if n := tab.Sweep(); n > 0 {
				cfg.Logger.Debug("swept processes whose exit was lost", logKeyCount, n)
			}
			if n := ctxs.Sweep(""); n > 0 {
				cfg.Logger.Debug("swept thread contexts whose exit was lost", logKeyCount, n)
			}
		}
		if ctx.Err() != nil {
			flush()
			return ctx.Err()
		}
	}
}
