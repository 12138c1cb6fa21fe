// Command enricher adds container and Kubernetes context to raw event
// batches: it consumes events.raw.> (or one node's subject), looks up each
// container in the node's runtimes (Docker Engine API, CRI) and its pod in
// the API server's informer caches, and publishes the batches on
// events.enriched.<node>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/telemetry"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/cri"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/docker"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/enrich"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/kube"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/pipeline"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "enricher:", err)
		os.Exit(1)
	}
}

// socketFlag is a runtime socket: used when set explicitly, or when the
// default path exists at start.
type socketFlag struct {
	path string
	set  bool
}

func (s *socketFlag) String() string     { return s.path }
func (s *socketFlag) Set(v string) error { s.path, s.set = v, true; return nil }
func (s *socketFlag) use() bool {
	if s.path == "" {
		return false
	}
	if s.set {
		return true
	}
	_, err := os.Stat(s.path)
	return err == nil
}

func run() error {
	dockerSock := &socketFlag{path: docker.DefaultSocket}
	podmanSock := &socketFlag{path: docker.PodmanSocket}
	containerdSock := &socketFlag{path: cri.ContainerdSocket}
	crioSock := &socketFlag{path: cri.CRIOSocket}
	var (
		node        = flag.String("node", os.Getenv("NODE_NAME"), "consume only events.raw.<node> (default $NODE_NAME; empty: every node)")
		natsURL     = flag.String("nats-url", os.Getenv(bus.EnvURL), "NATS server URL (default $NATS_URL, else nats://127.0.0.1:4222)")
		kubeconfig  = flag.String("kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else in-cluster; neither: Kubernetes context off)")
		hold        = flag.Duration("hold", 500*time.Millisecond, "longest wait for a new container's metadata before sending its events without it")
		maxHeld     = flag.Int("max-held-events", 100000, "events held waiting for metadata at most; beyond, batches go out at once")
		batchSize   = flag.Int("batch-size", pipeline.DefaultBatchSize, "bus messages handled per batch")
		timeout     = flag.Duration("runtime-timeout", 2*time.Second, "bound of one runtime API call")
		poll        = flag.Duration("cri-poll", time.Second, "ListContainers period for CRI runtimes without container events")
		metricsAddr = flag.String("metrics-addr", ":9465", "address of /metrics, /healthz, /readyz (\"\" to disable)")
		verbose     = flag.Bool("v", false, "debug logging")
	)
	flag.Var(dockerSock, "docker-socket", "Docker Engine API socket (\"\" to disable)")
	flag.Var(podmanSock, "podman-socket", "podman's Docker-compatible API socket, `podman system service` (\"\" to disable)")
	flag.Var(containerdSock, "containerd-socket", "containerd CRI socket (\"\" to disable)")
	flag.Var(crioSock, "crio-socket", "CRI-O socket (\"\" to disable)")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log, err := telemetry.NewLogger(os.Stderr, "enricher", level)
	if err != nil {
		return err
	}
	klog.SetSlogLogger(log.With("component", "client-go"))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	shutdownTracing, err := telemetry.SetupTracing(ctx, "peregrine-enricher")
	if err != nil {
		return err
	}
	defer func() { _ = shutdownTracing(context.Background()) }()

	reg := prometheus.NewRegistry()
	m := metrics.New(reg)

	var runtimes []resolve.Runtime
	if dockerSock.use() {
		runtimes = append(runtimes, docker.New(dockerSock.path, *timeout))
	}
	if podmanSock.use() {
		runtimes = append(runtimes, docker.NewPodman(podmanSock.path, *timeout))
	}
	for _, s := range []*socketFlag{containerdSock, crioSock} {
		if !s.use() {
			continue
		}
		c, err := cri.New(s.path, *timeout)
		if err != nil {
			return err
		}
		c.Poll = *poll
		defer c.Close()
		runtimes = append(runtimes, c)
	}
	if len(runtimes) == 0 {
		log.Warn("no container runtime socket found; containers get only their ids")
	}
	res := resolve.New(runtimes, resolve.Config{Retry: *hold}, m, log)

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = res.Run(ctx)
	}()

	var pods enrich.Pods
	var index *kube.Index
	switch cfg, err := kube.LoadConfig(*kubeconfig); {
	case errors.Is(err, kube.ErrNoConfig):
		log.Info("kubernetes context off: no kubeconfig and not in a cluster")
	case err != nil:
		return err
	default:
		index, err = kube.NewForConfig(cfg, *node, 10*time.Minute, log)
		if err != nil {
			return err
		}
		pods = index
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := index.Run(ctx); err == nil {
				m.KubeConnected.Set(1)
				log.Info("kubernetes informers synced")
			}
			<-ctx.Done()
			index.Shutdown()
		}()
	}

	enr := enrich.New(res, pods, m, enrich.Config{Hold: *hold, MaxHeld: *maxHeld})

	var opts []bus.Option
	if *natsURL != "" {
		opts = append(opts, bus.WithURL(*natsURL))
	}
	conn, err := bus.Connect(ctx, "peregrine-enricher", opts...)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for NATS
		}
		return err
	}
	defer conn.Close()
	p, err := pipeline.New(ctx, conn, enr, m, pipeline.Config{Node: *node, BatchSize: *batchSize})
	if err != nil {
		return err
	}

	if *metricsAddr != "" {
		srv := telemetry.NewServer(*metricsAddr, reg, func() error {
			if !conn.NC.IsConnected() {
				return errors.New("not connected to NATS")
			}
			return nil
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Run(ctx); err != nil {
				log.Error("metrics server stopped", "err", err)
			}
		}()
	}
	log.Info("enricher consuming", "node", *node, "runtimes", len(runtimes), "kubernetes", index != nil)
	err = p.Run(ctx)
	cancel()
	return err
}
