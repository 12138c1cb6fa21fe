// Command collector runs Peregrine's collector on one node: it loads the
// eBPF probe and publishes event batches on events.raw.<node>.
//
// It needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE to read /proc).
//
// The probe's C source is bpf/probe.bpf.c; its compiled object and Go
// bindings in internal/probe are generated and committed, so building needs
// no clang. Regenerate (clang 14 and libbpf headers) with
//
//	go generate ./internal/probe/
//
// from this directory; the output is byte-identical when nothing changed.
// Tests that load the probe skip unless run as root:
//
//	go test ./...                       # as root: real kernel, real probe
//	go test -run '^$' -bench . -benchtime 1x ./internal/collector/
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/telemetry"
	"github.com/peregrine-rt/peregrine/services/collector/internal/collector"
	"github.com/peregrine-rt/peregrine/services/collector/internal/probe"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "collector:", err)
		os.Exit(1)
	}
}

func run() error {
	host, _ := os.Hostname()
	defURL := os.Getenv(bus.EnvURL)
	if defURL == "" {
		defURL = bus.DefaultURL
	}
	var (
		node         = flag.String("node", host, "node name: the subject is events.raw.<node>")
		natsURL      = flag.String("nats-url", defURL, "NATS server URL (default from NATS_URL)")
		print        = flag.Bool("print", false, "write decoded events to stdout as JSON lines")
		noPublish    = flag.Bool("no-publish", false, "do not publish to NATS")
		ringSize     = flag.Int("ring-size", probe.DefaultRingSize, "ring buffer size in bytes (power of two)")
		wakeup       = flag.Int("wakeup-bytes", probe.DefaultWakeupBytes, "pending bytes that make the kernel wake the reader")
		batchSize    = flag.Int("batch-size", collector.DefaultBatchSize, "events per published batch")
		batchBytes   = flag.Int("batch-bytes", collector.DefaultBatchBytes, "estimated encoded size at which a batch is published early (keep it under the server's max_payload)")
		batchTimeout = flag.Duration("batch-timeout", collector.DefaultBatchTimeout, "longest wait before a partial batch is published")
		queue        = flag.Int("queue-events", collector.DefaultQueueEvents, "events buffered while NATS is unreachable; beyond, batches are dropped")
		capture      = flag.String("syscalls", "default", "comma separated syscalls to capture (\"default\" is the Falco rule set)")
		enter        = flag.String("enter-syscalls", "open,openat,openat2,creat,connect", "syscalls that also produce enter events (\"\" for none)")
		metricsAddr  = flag.String("metrics-addr", ":9464", "address of /metrics, /healthz, /readyz (\"\" to disable)")
		verbose      = flag.Bool("v", false, "debug logging")
	)
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log, err := telemetry.NewLogger(os.Stderr, "collector", level)
	if err != nil {
		return err
	}

	sys, err := sysno.Parse(*capture)
	if err != nil {
		return err
	}
	ent, err := sysno.Parse(*enter)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := collector.Config{
		Node: *node, NATSURL: *natsURL, NoPublish: *noPublish, RingSize: *ringSize, WakeupBytes: *wakeup,
		BatchSize: *batchSize, BatchBytes: *batchBytes, BatchTimeout: *batchTimeout, QueueEvents: *queue, Syscalls: sys, Enter: ent,
		NoEnter: len(ent) == 0, Registry: reg, Logger: log,
	}
	if *print {
		cfg.Print = os.Stdout
	}
	c, err := collector.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *metricsAddr != "" {
		srv := telemetry.NewServer(*metricsAddr, reg, func() error {
			select {
			case <-c.Ready():
				return nil
			default:
				return errors.New("probe not attached yet")
			}
		})
		if err := srv.Listen(); err != nil {
			return err
		}
		log.Info("metrics listening", "addr", srv.Addr())
		go srv.Run(ctx)
	}
	return c.Run(ctx)
}
