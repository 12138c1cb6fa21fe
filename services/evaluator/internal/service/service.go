// Package service is the evaluator's bus loop: it pulls event batches
// from the work-queue stream through one durable consumer shared by every
// replica, evaluates them against the current rule set and publishes the
// alerts on alerts.<priority>.<rule_slug>.
//
// A batch is acked only after all its alerts are acked by JetStream, so a
// crash between the two redelivers the batch; the alerts' deterministic
// message ids (see package evaluate) make the republished ones duplicates
// that the ALERTS stream drops. A message that does not decode goes to
// deadletter.evaluator and the loop goes on.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/evaluate"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/ruleset"
)

// Stage names the dead-letter subject (deadletter.evaluator).
const Stage = "evaluator"

// Log keys.
const (
	keySubject = "subject"
	keyMsgID   = "msg_id"
	keyError   = "error"
	keyStream  = "stream"
	keyDrops   = "n_drops"
	keyEvents  = "n_evts"
	keyNode    = "node"
	keyWorkers = "workers"
)

// Options configure a [Service].
type Options struct {
	Stream   string // EVENTS_ENRICHED, or EVENTS_RAW without an enricher
	Input    string // consumer filter subject
	Consumer string // durable name shared by all replicas
	Batch    int    // messages per pull
	Workers  int    // concurrent handlers, each with its own publisher
	// AckWait is how long JetStream waits for a batch's ack before
	// redelivering it; default 30s.
	AckWait time.Duration
	// CreateStreams creates the input, ALERTS and DEADLETTER streams with
	// the standard configs when they do not exist (existing ones are left
	// as the operator set them).
	CreateStreams bool
	// StreamLimits are used for streams the service creates.
	StreamLimits bus.StreamLimits
}

func (o Options) validate() error {
	switch {
	case o.Stream == "" || o.Input == "" || o.Consumer == "":
		return fmt.Errorf("service: stream %q, input %q and consumer %q must be set", o.Stream, o.Input, o.Consumer)
	case o.Batch < 1 || o.Workers < 1:
		return fmt.Errorf("service: batch %d and workers %d must be at least 1", o.Batch, o.Workers)
	}
	return nil
}

// Service is one evaluator replica.
type Service struct {
	conn  *bus.Conn
	rules *ruleset.Reloader
	eval  *evaluate.Evaluator
	m     *metrics.Metrics
	log   *slog.Logger
	opts  Options

	mu      sync.Mutex
	running bool
}

// New returns a service; it does not touch the bus until [Service.Run].
func New(conn *bus.Conn, rules *ruleset.Reloader, eval *evaluate.Evaluator, m *metrics.Metrics, log *slog.Logger, opts Options) (*Service, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.AckWait == 0 {
		opts.AckWait = 30 * time.Second
	}
	return &Service{conn: conn, rules: rules, eval: eval, m: m, log: log, opts: opts}, nil
}

// Ready returns nil when a rule set is loaded, the bus is connected and
// the workers run: the /readyz check.
func (s *Service) Ready() error {
	if s.rules.Current() == nil {
		return errors.New("no rule set loaded")
	}
	if !s.conn.NC.IsConnected() {
		return fmt.Errorf("not connected to NATS (%s)", s.conn.NC.Status())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return errors.New("consumer not started")
	}
	return nil
}

// Run consumes until ctx ends, then returns nil once every worker has
// finished its batch; batches fetched but not handled are naked for
// another replica. It returns an error when the streams or the consumer
// cannot be set up or a worker fails.
func (s *Service) Run(ctx context.Context) error {
	if s.opts.CreateStreams {
		if err := s.ensureStreams(ctx); err != nil {
			return err
		}
	}
	cons, err := bus.NewConsumer(s.conn, s.opts.Stream, jetstream.ConsumerConfig{
		Durable:       s.opts.Consumer,
		FilterSubject: s.opts.Input,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.opts.AckWait,
		// Leave room for every worker of every replica: three batches each
		// (handled, queued, prefetched), as package bus sizes it.
		MaxAckPending: 3 * s.opts.Batch * max(s.opts.Workers, bus.DefaultWorkers),
	}, Stage, bus.WithConsumeErrorHandler(func(err error) {
		s.log.Warn("consumer error", keyError, err)
	}))
	if err != nil {
		return err
	}
	pubs := make([]*bus.Publisher, s.opts.Workers)
	for i := range pubs {
		// One publisher per worker: Flush waits for everything its
		// publisher has in flight, so sharing one would make each batch
		// wait for, and be failed by, the other workers' alerts.
		p, err := bus.NewPublisher(s.conn, bus.PublisherOptions{Window: 4 * s.opts.Batch})
		if err != nil {
			return err
		}
		pubs[i] = p
	}
	s.log.Info("consuming", keyStream, s.opts.Stream, keySubject, s.opts.Input, "consumer", s.opts.Consumer,
		keyWorkers, s.opts.Workers)
	s.setRunning(true)
	defer s.setRunning(false)

	var wg sync.WaitGroup
	errs := make([]error, s.opts.Workers)
	for i := range s.opts.Workers {
		w := &worker{s: s, pub: pubs[i], ev: s.eval.NewWorker()}
		wg.Go(func() { errs[i] = cons.Run(ctx, s.opts.Batch, w.handle) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Service) setRunning(v bool) {
	s.mu.Lock()
	s.running = v
	s.mu.Unlock()
}

func (s *Service) ensureStreams(ctx context.Context) error {
	cfgs := map[string]jetstream.StreamConfig{
		schema.StreamRaw:        bus.RawStream(s.opts.StreamLimits),
		schema.StreamEnriched:   bus.EnrichedStream(s.opts.StreamLimits),
		schema.StreamAlerts:     bus.AlertsStream(s.opts.StreamLimits),
		schema.StreamDeadLetter: bus.DeadLetterStream(s.opts.StreamLimits),
	}
	for _, name := range []string{s.opts.Stream, schema.StreamAlerts, schema.StreamDeadLetter} {
		cfg, ok := cfgs[name]
		if !ok {
			return fmt.Errorf("stream %s: not a standard stream, create it first", name)
		}
		_, err := s.conn.JS.Stream(ctx, name)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		if _, err := s.conn.EnsureStream(ctx, cfg); err != nil {
			return err
		}
		s.log.Info("stream created", keyStream, name)
	}
	return nil
}

// worker is one handler goroutine with its own publisher and context.
type worker struct {
	s   *Service
	pub *bus.Publisher
	ev  *evaluate.Worker
	buf []byte // the last decompressed payload's room, reused
}

// handle evaluates a pulled batch of bus messages. Returning nil acks the
// messages not dead-lettered; an error naks them for redelivery, which
// the alerts' message ids make harmless.
func (w *worker) handle(ctx context.Context, msgs []*bus.Msg) error {
	s := w.s
	start := time.Now()
	var published int
	for _, m := range msgs {
		// Unmarshal copies what it keeps, so buf may be reused at once
		// (it only ever holds decompressed payloads, never a message's).
		data, err := m.Payload(w.buf)
		var b *schema.Batch
		if err == nil {
			if m.Header.Get(bus.HeaderEncoding) != "" {
				w.buf = data
			}
			b, err = schema.Unmarshal(data)
		}
		if err != nil {
			s.log.Warn("undecodable batch, dead-lettered", keySubject, m.Subject, keyError, err)
			s.m.Batches.WithLabelValues(metrics.BatchDeadLetter).Inc()
			if err := m.DeadLetter(ctx, fmt.Errorf("decode batch from %s: %w", m.Subject, err)); err != nil {
				return err
			}
			continue
		}
		n, err := w.evaluate(ctx, m, b)
		published += n
		if err != nil {
			s.m.Batches.WithLabelValues(metrics.BatchRetry).Add(float64(len(msgs)))
			return err
		}
	}
	if published > 0 {
		if err := w.pub.Flush(ctx); err != nil {
			s.m.Batches.WithLabelValues(metrics.BatchRetry).Add(float64(len(msgs)))
			s.log.Warn("alerts not acked, batch left for redelivery", keyError, err)
			return err
		}
	}
	s.m.Batches.WithLabelValues(metrics.BatchOK).Add(float64(len(msgs)))
	s.m.BatchSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// evaluate publishes the alerts of one batch and returns how many.
func (w *worker) evaluate(ctx context.Context, m *bus.Msg, b *schema.Batch) (int, error) {
	s := w.s
	set := s.rules.Current() // one rule set for the whole batch
	id := batchID(m, b)
	ctx = bus.Extract(ctx, m.Header)
	var alerts []evaluate.Alert
	start := time.Now()
	n := w.ev.Batch(set.Engine, b, id, func(a evaluate.Alert) { alerts = append(alerts, a) })
	s.m.EvalSeconds.Observe(time.Since(start).Seconds())
	s.m.Events.Add(float64(n))
	for i, a := range alerts {
		data, err := a.Alert.MarshalJSON()
		if err != nil {
			// Only an output field of an unencodable type gets here: a bug,
			// but not a reason to stall the stream.
			s.log.Error("alert not encodable, dropped", "rule", a.Alert.Rule, keyMsgID, a.MsgID, keyError, err)
			continue
		}
		if err := w.pub.Publish(ctx, a.Subject, data, a.MsgID, nil); err != nil {
			return i, err
		}
		s.m.Alerts.WithLabelValues(a.Alert.Priority.String(), a.Alert.Rule).Inc()
		if a.Alert.Rule == dropalert.Rule {
			s.log.Warn("syscall event drop", keyNode, b.Node, keyDrops, a.Alert.OutputFields["n_drops"],
				keyEvents, a.Alert.OutputFields["n_evts"])
		}
	}
	return len(alerts), nil
}

// batchID names a bus message for the alerts' ids: its Nats-Msg-Id,
// else the batch's own identity, else its stream position.
func batchID(m *bus.Msg, b *schema.Batch) string {
	if id := m.Header.Get(schema.HeaderMsgID); id != "" {
		return id
	}
	if b.Node != "" || b.BootID != "" || b.Seq != 0 {
		return schema.BatchMsgID(b)
	}
	if md, err := m.Raw().Metadata(); err == nil {
		return md.Stream + "-" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	return ""
}
