// Package app is the notifier service: it wires the config, the outputs and
// their delivery runners, the HTTP input and Falco's gRPC outputs API, and
// implements the replay subcommand.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/telemetry"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/config"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/delivery"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/fields"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/httpin"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/replay"
)

// Env is what the service takes from its process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Log keys.
const (
	logAddr   = "addr"
	logOutput = "output"
	logError  = "error"
)

const usage = `usage: notifier [flags]                 deliver alerts to the configured outputs
       notifier replay --output NAME [flags]  republish NAME's dead letters to it

`

// Main runs the notifier with command-line args (without the program name)
// until ctx ends.
func Main(ctx context.Context, args []string, env Env) error {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) > 0 && args[0] == "replay" {
		return mainReplay(ctx, args[1:], env)
	}
	fs := flag.NewFlagSet("notifier", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprint(env.Stderr, usage); fs.PrintDefaults() }
	cfgPath := fs.String("config", "", "Falcosidekick-style config.yaml")
	listen := fs.String("listen", "", "HTTP input address (default from config: 0.0.0.0:2801)")
	stdout := fs.Bool("stdout", true, "print alerts on stdout when no output is configured")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(env.Stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, env.Getenv, outputs.Specs(), *stdout)
	if err != nil {
		return err
	}
	addr := cfg.Listen()
	if *listen != "" {
		addr = *listen
	}
	return serve(ctx, cfg, addr, env, log)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("flag log-level: %w", err)
	}
	return telemetry.NewLogger(w, "notifier", l)
}

func connect(ctx context.Context, cfg *config.Config, log *slog.Logger) (*bus.Conn, error) {
	opts := []bus.Option{bus.WithErrorHandler(func(err error) { log.Warn("nats", logError, err) })}
	if cfg.Bus.URL != "" {
		opts = append(opts, bus.WithURL(cfg.Bus.URL))
	}
	return bus.Connect(ctx, delivery.Stage, opts...)
}

func serve(ctx context.Context, cfg *config.Config, addr string, env Env, log *slog.Logger) error {
	shutdownTracing, err := telemetry.SetupTracing(ctx, "peregrine-notifier")
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			log.Warn("tracing shutdown", logError, err)
		}
	}()
	hostname, _ := os.Hostname()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	enrich, err := fields.New(cfg.CustomFields, cfg.TemplatedFields)
	if err != nil {
		return fmt.Errorf("config %s: %w", cfg.File, err)
	}
	oenv := output.Env{
		Getenv:     env.Getenv,
		HTTPClient: &http.Client{Transport: sharedTransport()},
		Hostname:   hostname,
		Stdout:     env.Stdout,
	}
	var outs []output.Output
	defer func() {
		for _, o := range outs {
			if c, ok := o.(output.Closer); ok {
				if err := c.Close(); err != nil {
					log.Warn("close output", logOutput, o.Name(), logError, err)
				}
			}
		}
	}()
	for _, oc := range cfg.Outputs {
		o, err := oc.Spec.New(oc.Config, oenv)
		if err != nil {
			return err
		}
		outs = append(outs, o)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("http input: %w", err)
	}
	defer ln.Close()

	conn, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	limits := bus.StreamLimits{MaxAge: cfg.Bus.AlertsMaxAge, MaxBytes: cfg.Bus.AlertsMaxBytes}
	if err := conn.EnsureStreams(ctx, bus.AlertsStream(limits), bus.DeadLetterStream(bus.StreamLimits{})); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(outs)+2)
	for i, o := range outs {
		r := delivery.New(conn.JS, o, cfg.Outputs[i].Options, enrich, m, log)
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				errc <- err
			}
		})
	}
	in := httpin.New(conn.JS, m, reg, hostname)
	wg.Go(func() {
		if err := in.Serve(ctx, ln); err != nil {
			errc <- err
		}
	})
	if cfg.GRPC.Enabled {
		if err := startGRPC(ctx, &wg, errc, cfg, conn, enrich, log); err != nil {
			cancel()
			wg.Wait()
			return err
		}
	}
	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = o.Name()
	}
	log.Info("notifier ready", logAddr, ln.Addr().String(), "outputs", strings.Join(names, ","), "nats", conn.URL())

	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	cancel()
	wg.Wait()
	return first
}

func sharedTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return tr
}

func mainReplay(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("notifier replay", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfgPath := fs.String("config", "", "Falcosidekick-style config.yaml (for bus.url)")
	name := fs.String("output", "", "output whose dead letters to replay (required)")
	keep := fs.Bool("keep", false, "keep the dead letters after republishing them")
	limit := fs.Int("limit", 0, "replay at most this many (0: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		fs.Usage()
		return errors.New("replay: flag --output is required")
	}
	log, _ := newLogger(env.Stderr, "info")
	cfg, err := config.Load(*cfgPath, env.Getenv, nil, false)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, err := connect(cctx, cfg, log)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	n, err := replay.Run(ctx, conn.JS, *name, replay.Options{Keep: *keep, Limit: *limit})
	fmt.Fprintf(env.Stdout, "replayed %d dead letters of output %s from %s\n", n, *name, delivery.DeadLetterSubject(*name))
	return err
}
