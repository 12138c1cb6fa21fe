package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/rules"
	"github.com/peregrine-rt/peregrine/pkg/telemetry"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/config"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/evaluate"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/ruleset"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/service"
)

// runCmd is `evaluator run`: it serves until SIGINT or SIGTERM and
// reloads the rules on SIGHUP.
func runCmd(args []string, stderr io.Writer) int {
	cfg := config.Default()
	fs := flag.NewFlagSet("evaluator run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterRun(fs)
	pos, err := config.Parse(fs, args)
	if err != nil {
		return usageExit(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "evaluator run: unexpected argument %q (rule files go after -r)\n", pos[0])
		return exitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "evaluator run: %v\n", err)
		return exitUsage
	}
	log, err := telemetry.NewLogger(stderr, service.Stage, slog.LevelInfo)
	if err != nil {
		fmt.Fprintf(stderr, "evaluator run: %v\n", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	defer signal.Stop(sig)
	hup := make(chan struct{}, 1)
	go func() {
		for range sig {
			select {
			case hup <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}()

	if err := serve(ctx, cfg, log, hup); err != nil {
		log.Error("evaluator failed", "error", err)
		return exitFail
	}
	return exitOK
}

// ruleOptions maps the --rule-matching spelling to the engine's option.
func ruleOptions(matching string) (rules.Options, error) {
	switch matching {
	case config.MatchFirst:
		return rules.Options{Matching: rules.MatchFirst}, nil
	case config.MatchAll:
		return rules.Options{Matching: rules.MatchAll}, nil
	}
	return rules.Options{}, fmt.Errorf("--rule-matching %q: must be first or all", matching)
}

// serve runs the service with cfg until ctx ends or a part fails. Each
// receive from hup reloads the rules.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, hup <-chan struct{}) error {
	stream, err := cfg.Stream()
	if err != nil {
		return err
	}
	ropts, err := ruleOptions(cfg.RuleMatching)
	if err != nil {
		return err
	}
	shutdownTracing, err := telemetry.SetupTracing(ctx, service.Stage)
	if err != nil {
		return err
	}
	defer func() { _ = shutdownTracing(context.WithoutCancel(ctx)) }()

	m := metrics.New()
	gauges := func(set *ruleset.Set) {
		m.RuleSetGen.Set(float64(set.Gen))
		m.Rules.Set(float64(len(set.Engine.Rules())))
	}
	rs, err := ruleset.New(ruleset.Source{Paths: cfg.Rules, Options: ropts}, log, ruleset.Options{
		Poll: cfg.PollInterval,
		OnReload: func(cur *ruleset.Set, err error) {
			m.Reloaded(err == nil)
			gauges(cur)
		},
	})
	if err != nil {
		var is rules.Issues
		if errors.As(err, &is) {
			for _, i := range is {
				log.Error("rules error", "issue", i.String())
			}
			return fmt.Errorf("rules: %d error(s), not starting", len(is))
		}
		return err
	}
	gauges(rs.Current())

	ev, err := evaluate.New(cfg.Hostname, dropalert.Options{Interval: cfg.DropInterval, Burst: cfg.DropBurst})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel() // one part failing stops the others
	}
	goRun := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				fail(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	result := func() error {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return errors.Join(errs...)
	}

	// The telemetry server and the reloader start before the bus is
	// reached, so /healthz answers (and /readyz explains) while NATS is
	// still unreachable.
	var svc atomic.Pointer[service.Service]
	if cfg.MetricsAddr != "" {
		srv := telemetry.NewServer(cfg.MetricsAddr, m.Registry, func() error {
			s := svc.Load()
			if s == nil {
				return fmt.Errorf("connecting to NATS at %s", cfg.NATSURL)
			}
			return s.Ready()
		})
		if err := srv.Listen(); err != nil {
			return err
		}
		log.Info("telemetry listening", "addr", srv.Addr())
		goRun("telemetry", srv.Run)
	}
	goRun("reloader", func(ctx context.Context) error { return rs.Run(ctx, hup) })

	conn, err := bus.Connect(ctx, service.Stage, bus.WithURL(cfg.NATSURL), bus.WithErrorHandler(func(err error) {
		log.Warn("nats", "error", err)
	}))
	if err != nil {
		if ctx.Err() == nil {
			fail(err)
		}
		return result()
	}
	defer conn.Close()
	s, err := service.New(conn, rs, ev, m, log, service.Options{
		Stream: stream, Input: cfg.Input, Consumer: cfg.Consumer, Batch: cfg.Batch, Workers: cfg.Workers,
		CreateStreams: true,
	})
	if err != nil {
		fail(err)
		return result()
	}
	svc.Store(s)
	goRun("service", s.Run)
	return result()
}
