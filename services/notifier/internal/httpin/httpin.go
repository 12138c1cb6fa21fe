// Package httpin is the notifier's Falcosidekick-compatible HTTP input, so
// a real Falco's http_output can point at Peregrine:
//
//	POST /         Falco's JSON alert; published on alerts.<priority>.<rule_slug>
//	POST /test     publishes a test alert that every output delivers
//	GET  /healthz  {"status": "ok"}
//	GET  /ping     pong
//	GET  /metrics  Prometheus metrics
//
// A body that is not a Falco alert gets 400 with the reason; a bus that
// does not take the alert gets 503, so Falco's retry can try again.
package httpin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/delivery"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/metrics"
)

// MaxBody bounds an alert's size.
const MaxBody = 1 << 20

// Server is the HTTP input. Safe for concurrent use.
type Server struct {
	js       jetstream.JetStream
	metrics  *metrics.Metrics
	gatherer prometheus.Gatherer
	hostname string
	now      func() time.Time
}

// New returns the input publishing to js. m counts the alerts, g serves
// /metrics (nil for none).
func New(js jetstream.JetStream, m *metrics.Metrics, g prometheus.Gatherer, hostname string) *Server {
	return &Server{js: js, metrics: m, gatherer: g, hostname: hostname, now: time.Now}
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", s.alert)
	mux.HandleFunc("POST /test", s.test)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status": "ok"}`)
	})
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pong\n") })
	if s.gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// Serve serves on ln until ctx ends, then shuts down gracefully within 5s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http input %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http input %s: %w", ln.Addr(), err)
	}
	return nil
}

func (s *Server) refuse(w http.ResponseWriter, code int, reason, msg string) {
	s.metrics.InputErrors.WithLabelValues(reason).Inc()
	http.Error(w, msg, code)
}

func (s *Server) alert(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		s.refuse(w, http.StatusBadRequest, "read", "read body: "+err.Error())
		return
	}
	if len(body) == 0 {
		s.refuse(w, http.StatusBadRequest, "empty", "empty body: want a Falco JSON alert")
		return
	}
	var a schema.Alert
	if err := json.Unmarshal(body, &a); err != nil {
		s.refuse(w, http.StatusBadRequest, "decode", "bad alert: "+err.Error())
		return
	}
	// The id is a digest of the body: Falco retrying the same alert, or two
	// replicas of this input receiving it, store it once (the ALERTS
	// stream's duplicate window).
	sum := sha256.Sum256(body)
	if err := s.publish(r.Context(), &a, "http-"+hex.EncodeToString(sum[:16]), nil); err != nil {
		s.refuse(w, http.StatusServiceUnavailable, "bus", err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// publish re-encodes a as Falco JSON (normalising its time) and publishes it.
func (s *Server) publish(ctx context.Context, a *schema.Alert, id string, extra nats.Header) error {
	data, err := a.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	h := nats.Header{}
	for k, v := range extra {
		h[k] = v
	}
	h.Set(schema.HeaderMsgID, id)
	bus.Inject(ctx, h)
	subj := schema.AlertSubject(a.Priority, a.Rule)
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: data, Header: h}); err != nil {
		return fmt.Errorf("publish %s: %w", subj, err)
	}
	s.metrics.Input.WithLabelValues(a.Priority.String()).Inc()
	return nil
}

// TestAlert is the alert POST /test sends, as Falcosidekick's.
func TestAlert(hostname string, now time.Time) *schema.Alert {
	return &schema.Alert{
		Hostname: hostname,
		Output:   "This is a test from Peregrine",
		OutputFields: map[string]any{
			"proc.name": "peregrine", "user.name": "peregrine", "evt.time": now.UnixNano(),
		},
		Priority: schema.PriorityDebug,
		Rule:     "Test rule",
		Source:   "debug",
		Tags:     []string{"test", "example"},
		Time:     now.UTC(),
	}
}

func (s *Server) test(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	a := TestAlert(s.hostname, now)
	id := fmt.Sprintf("test-%s-%d", s.hostname, now.UnixNano())
	if err := s.publish(r.Context(), a, id, nats.Header{delivery.HeaderTest: []string{"true"}}); err != nil {
		s.refuse(w, http.StatusServiceUnavailable, "bus", err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}
