package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/fields"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Log keys.
const (
	logOutput   = "output"
	logAlertID  = "alert_id"
	logAttempt  = "attempt"
	logError    = "error"
	logSubject  = "subject"
	logDeadSubj = "deadletter_subject"
)

// tracer makes one span per delivery attempt, a child of the trace the
// alert's publisher injected into its headers.
var tracer = otel.Tracer("github.com/peregrine-rt/peregrine/services/notifier/internal/delivery")

// Runner delivers the ALERTS stream to one output. Create it with [New] and
// call [Runner.Run]; several Runners of one output (in replicas) share its
// consumer.
type Runner struct {
	out     output.Output
	name    string
	opts    Options
	js      jetstream.JetStream
	enrich  *fields.Enricher
	metrics *metrics.Metrics
	log     *slog.Logger

	// lastSeq is the highest ALERTS sequence settled, for recreate.
	lastSeq atomic.Uint64
}

// New returns a Runner of out. opts must have passed Validate. enrich and m
// may be nil.
func New(js jetstream.JetStream, out output.Output, opts Options, enrich *fields.Enricher, m *metrics.Metrics, log *slog.Logger) *Runner {
	if m == nil {
		m = metrics.New(nopRegisterer{})
	}
	return &Runner{out: out, name: out.Name(), opts: opts, js: js, enrich: enrich, metrics: m,
		log: log.With(logOutput, out.Name())}
}

// ConsumerConfig is the durable consumer of the output.
func (r *Runner) ConsumerConfig() jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       ConsumerName(r.name),
		Description:   "notifier output " + r.name,
		FilterSubject: schema.SubjectAlertsAll,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.opts.AckWait,
		// Unlimited on the server: the runner dead-letters at the last
		// attempt itself, and retries when that publish fails.
		MaxDeliver: -1,
		// Exactly the sends in progress: an alert waiting in this client
		// behind slow sends could outlive AckWait and be delivered twice.
		MaxAckPending: r.opts.InFlight,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if r.opts.DeliverPolicy == "new" {
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	return cfg
}

// Run creates or updates the output's consumer and delivers until ctx ends.
// Sends in progress then finish (each bounded by SendTimeout) and alerts
// fetched but not started are naked for prompt redelivery. Run returns an
// error when the consumer cannot be created at first, naming the output.
// A consumer deleted later (by an operator, or a server that lost its
// state) is made again, starting after the last alert this Runner settled
// so the output is not sent the whole stream again; alerts that were in
// flight may be sent a second time (same alert id).
func (r *Runner) Run(ctx context.Context) error {
	cons, err := r.js.CreateOrUpdateConsumer(ctx, schema.StreamAlerts, r.ConsumerConfig())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("output %s: consumer %s: %w", r.name, ConsumerName(r.name), err)
	}
	queue := make(chan jetstream.Msg, r.opts.InFlight)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	for range r.opts.InFlight {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-queue:
					r.handle(ctx, m)
				}
			}
		})
	}
	defer func() {
		cancel() // on an error return too, so the workers stop
		wg.Wait()
		close(stop)
		for {
			select {
			case m := <-queue:
				_ = m.Nak()
			default:
				return
			}
		}
	}()
	for {
		gone := make(chan struct{}, 1)
		cc, err := cons.Consume(func(m jetstream.Msg) {
			select {
			case queue <- m:
			case <-stop:
				_ = m.Nak()
			}
		}, jetstream.PullMaxMessages(max(r.opts.InFlight, 2)),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
					select {
					case gone <- struct{}{}:
					default:
					}
				}
				if !errors.Is(err, jetstream.ErrNoHeartbeat) || ctx.Err() == nil {
					r.log.Warn("consume", logError, err)
				}
			}))
		if err != nil {
			return fmt.Errorf("output %s: consume: %w", r.name, err)
		}
		select {
		case <-ctx.Done():
			cc.Stop()
			<-cc.Closed()
			return nil
		case <-gone:
		}
		cc.Stop()
		<-cc.Closed()
		if cons, err = r.recreate(ctx); err != nil {
			return nil // ctx ended while retrying
		}
	}
}

// recreate makes the consumer again after it vanished, retrying every
// second until ctx ends. It starts after the last stream sequence this
// Runner settled; when another replica was first, it takes that one.
func (r *Runner) recreate(ctx context.Context) (jetstream.Consumer, error) {
	for {
		cfg := r.ConsumerConfig()
		if last := r.lastSeq.Load(); last > 0 {
			cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
			cfg.OptStartSeq = last + 1
		}
		cons, err := r.js.CreateConsumer(ctx, schema.StreamAlerts, cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			cons, err = r.js.Consumer(ctx, schema.StreamAlerts, cfg.Durable)
		}
		if err == nil {
			r.log.Warn("consumer was deleted: made again", "start_seq", cfg.OptStartSeq)
			return cons, nil
		}
		r.log.Error("consumer was deleted and cannot be made again, retrying", logError, err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// handle delivers one alert message and settles it.
func (r *Runner) handle(ctx context.Context, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to settle.
		r.log.Warn("message without metadata", logSubject, m.Subject(), logError, err)
		return
	}
	hdr := m.Headers()
	if ro := hdr.Get(HeaderReplayOutput); ro != "" && ro != r.name {
		r.ack(m)
		return
	}
	id := AlertID(hdr, md)
	var a schema.Alert
	if err := json.Unmarshal(m.Data(), &a); err != nil {
		r.metrics.Failed.WithLabelValues(r.name, "unknown").Inc()
		r.deadLetter(ctx, m, md, id, "unknown", fmt.Errorf("decode alert %s: %w", id, err))
		return
	}
	prio := a.Priority.String()
	if err := r.enrich.Apply(&a); err != nil && md.NumDelivered == 1 {
		r.log.Warn("templated field", logAlertID, id, logError, err)
	}
	if hdr.Get(HeaderTest) == "" && !r.opts.Match(&a) {
		r.metrics.Filtered.WithLabelValues(r.name, prio).Inc()
		r.ack(m)
		return
	}
	if md.NumDelivered == 1 {
		r.metrics.Received.WithLabelValues(r.name, prio).Inc()
	}
	text, err := r.opts.Text(&a)
	if err != nil {
		// A template that fails on this alert will fail every time.
		r.metrics.Failed.WithLabelValues(r.name, prio).Inc()
		r.deadLetter(ctx, m, md, id, prio, err)
		return
	}
	// The send outlives a shutdown by up to SendTimeout, so an alert the
	// target is receiving right now is acked rather than sent twice.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(bus.Extract(ctx, hdr)), r.opts.SendTimeout)
	sctx, span := tracer.Start(sctx, "deliver "+r.name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("peregrine.alert_id", id), attribute.String("peregrine.output", r.name),
			attribute.Int64("peregrine.attempt", int64(md.NumDelivered))))
	err = r.out.Send(sctx, output.Delivery{Alert: &a, ID: id, Text: text})
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	cancel()
	if err == nil {
		r.metrics.Delivered.WithLabelValues(r.name, prio).Inc()
		r.ack(m)
		return
	}
	r.metrics.Failed.WithLabelValues(r.name, prio).Inc()
	n := md.NumDelivered
	if output.IsPermanent(err) || n >= uint64(r.opts.MaxDeliver) {
		r.deadLetter(ctx, m, md, id, prio, fmt.Errorf("attempt %d of %d: %w", n, r.opts.MaxDeliver, err))
		return
	}
	delay := r.opts.delay(n)
	r.log.Warn("delivery failed, will retry", logAlertID, id, logAttempt, n, "retry_in", delay, logError, err)
	if ctx.Err() != nil {
		delay = 0
	}
	if err := m.NakWithDelay(delay); err != nil {
		r.log.Warn("nak", logAlertID, id, logError, err)
	}
}

func (r *Runner) ack(m jetstream.Msg) {
	if err := m.Ack(); err != nil {
		r.log.Warn("ack", logSubject, m.Subject(), logError, err)
		return
	}
	r.settled(m)
}

// settled records m's stream sequence as done.
func (r *Runner) settled(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	for {
		cur := r.lastSeq.Load()
		if md.Sequence.Stream <= cur || r.lastSeq.CompareAndSwap(cur, md.Sequence.Stream) {
			return
		}
	}
}

// deadLetter publishes the alert to deadletter.notifier.<output> with the
// reason, then terminates it. When the publish fails the alert is naked and
// comes back, so it is never dropped.
func (r *Runner) deadLetter(ctx context.Context, m jetstream.Msg, md *jetstream.MsgMetadata, id, prio string, cause error) {
	subj := DeadLetterSubject(r.name)
	h := make(nats.Header, len(m.Headers())+6)
	for k, v := range m.Headers() {
		h[k] = v
	}
	h.Set(schema.HeaderError, cause.Error())
	h.Set(schema.HeaderOrigSubject, m.Subject())
	h.Set(HeaderAlertID, id)
	h.Set(HeaderOutput, r.name)
	h.Set(HeaderDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	h.Del(HeaderReplayOutput)
	// Unique per stream message, so dead-lettering the same message twice
	// (publish acked, term lost) stores it once, while a replayed alert that
	// fails again is a new message and a new dead letter.
	h.Set(schema.HeaderMsgID, "dl-"+r.name+"-"+md.Stream+"-"+strconv.FormatUint(md.Sequence.Stream, 10))
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.SendTimeout)
	defer cancel()
	if _, err := r.js.PublishMsg(pctx, &nats.Msg{Subject: subj, Data: m.Data(), Header: h}); err != nil {
		r.log.Error("dead-letter publish failed, will retry", logAlertID, id, logDeadSubj, subj, logError, err)
		_ = m.NakWithDelay(r.opts.delay(md.NumDelivered))
		return
	}
	r.metrics.DeadLettered.WithLabelValues(r.name, prio).Inc()
	r.log.Error("alert dead-lettered", logAlertID, id, logDeadSubj, subj, logAttempt, md.NumDelivered, logError, cause)
	if err := m.Term(); err != nil {
		r.log.Warn("term", logAlertID, id, logError, err)
		return
	}
	r.settled(m)
}
