package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownGrace bounds how long Run waits for requests in progress when its
// context ends.
const shutdownGrace = 5 * time.Second

// Server serves a service's /metrics, /healthz and /readyz:
//
//   - /metrics: the registry in the Prometheus text or OpenMetrics format;
//   - /healthz: 200 "ok" while the process serves at all (liveness);
//   - /readyz: 200 "ok" when the ready func returns nil, else 503 with its
//     error text (readiness: connected to the bus, caches warm, ...).
type Server struct {
	addr  string
	srv   *http.Server
	ready func() error

	mu sync.Mutex
	ln net.Listener
}

// NewServer returns a server for addr ("127.0.0.1:0" picks a free port).
// A nil reg serves prometheus.DefaultGatherer; a nil ready is always ready.
// ready is called for each /readyz request, concurrently, and should be fast.
func NewServer(addr string, reg *prometheus.Registry, ready func() error) *Server {
	var g prometheus.Gatherer = prometheus.DefaultGatherer
	var r prometheus.Registerer = prometheus.DefaultRegisterer
	if reg != nil {
		g, r = reg, reg
	}
	s := &Server{addr: addr, ready: ready}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		Registry:          r, // counts its own scrape errors
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
	}
	return s
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if s.ready != nil {
		if err := s.ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	writeText(w, http.StatusOK, "ok")
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, body)
}

// Listen binds the address, so that a bad address fails at start-up and
// [Server.Addr] is known before [Server.Run]. Run calls it when needed.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("telemetry server %s: %w", s.addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address listened on, with the real port, once [Server.Listen]
// has succeeded; before, it is the address given to [NewServer].
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.addr
}

// Run serves until ctx ends, then shuts down, letting requests in progress
// finish for up to 5 seconds, and returns nil. It returns an error when the
// address cannot be bound or serving fails. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("telemetry server %s: %w", s.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("telemetry server %s: shutdown: %w", s.Addr(), err)
	}
	return nil
}
