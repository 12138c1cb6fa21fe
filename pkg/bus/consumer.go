package bus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Consumer defaults.
const (
	// DefaultWorkers is how many workers sharing one durable the default
	// MaxAckPending leaves room for: each holds up to two batches unacked
	// (one being handled, one queued) plus its prefetch.
	DefaultWorkers = 8
	// minPrefetch keeps small batches from costing a pull round trip
	// each: with one message per pull a worker manages ~1k msg/s.
	minPrefetch    = 64
	defaultNakBase = 250 * time.Millisecond
	defaultNakMax  = 30 * time.Second
)

// Handler handles one batch. Returning nil acks the messages it did not
// settle; returning an error naks them for redelivery after a delay that
// grows with each delivery. The batch slice and its messages may be kept
// after the handler returns, but must not be settled after then.
type Handler func(ctx context.Context, batch []*Msg) error

// Consumer pulls batches from a durable JetStream consumer. Each call of
// [Consumer.Run] is one worker: Run may be called concurrently, and
// processes sharing the durable name share its messages likewise. Safe for
// concurrent use.
type Consumer struct {
	conn   *Conn
	stream string
	cfg    jetstream.ConsumerConfig
	stage  string

	linger  time.Duration
	expiry  time.Duration
	nakBase time.Duration
	nakMax  time.Duration
	onErr   func(error)

	batches, acked, naked, deadLettered atomic.Uint64
}

// ConsumerOption configures [NewConsumer].
type ConsumerOption func(*Consumer) error

// WithLinger makes a batch wait up to d for more messages after its first
// one, trading latency for bigger batches. The default, 0, hands over
// whatever has already arrived.
func WithLinger(d time.Duration) ConsumerOption {
	return func(c *Consumer) error {
		if d < 0 {
			return fmt.Errorf("%w: linger %v", ErrInvalidOption, d)
		}
		c.linger = d
		return nil
	}
}

// WithPullExpiry sets how long each pull request waits on the server
// (default 30s, minimum 1s). The server sends heartbeats at a fraction of
// it; missing heartbeats make Run check that its consumer still exists, so
// a shorter expiry notices a deleted consumer sooner, at the cost of more
// requests while idle.
func WithPullExpiry(d time.Duration) ConsumerOption {
	return func(c *Consumer) error {
		if d < time.Second {
			return fmt.Errorf("%w: pull expiry %v below 1s", ErrInvalidOption, d)
		}
		c.expiry = d
		return nil
	}
}

// WithNakBackoff sets the redelivery delay after a handler error: base after
// the first delivery, doubling with each further one up to max (defaults
// 250ms and 30s).
func WithNakBackoff(base, max time.Duration) ConsumerOption {
	return func(c *Consumer) error {
		if base <= 0 || max < base {
			return fmt.Errorf("%w: nak backoff %v..%v", ErrInvalidOption, base, max)
		}
		c.nakBase, c.nakMax = base, max
		return nil
	}
}

// WithConsumeErrorHandler receives asynchronous errors: failed acks and the
// pull errors of the client (missed heartbeats, consumer deleted). It is
// called from internal goroutines and must not block.
func WithConsumeErrorHandler(f func(error)) ConsumerOption {
	return func(c *Consumer) error {
		c.onErr = f
		return nil
	}
}

// NewConsumer returns a consumer of stream for stage. stage names the
// durable consumer when cfg has no Durable or Name, and the dead-letter
// subject (deadletter.<stage>). cfg is created or updated by [Consumer.Run];
// its AckPolicy must be explicit (the zero value). When cfg.MaxDeliver is
// set, a message whose handler still fails at its last delivery is
// dead-lettered instead of being dropped by the server.
func NewConsumer(conn *Conn, stream string, cfg jetstream.ConsumerConfig, stage string, opts ...ConsumerOption) (*Consumer, error) {
	if stream == "" || stage == "" {
		return nil, fmt.Errorf("consumer: %w: stream %q and stage %q must be set", ErrInvalidOption, stream, stage)
	}
	if cfg.AckPolicy != jetstream.AckExplicitPolicy {
		return nil, fmt.Errorf("consumer %s: %w: ack policy %v, want explicit", stage, ErrInvalidOption, cfg.AckPolicy)
	}
	if cfg.Durable == "" && cfg.Name == "" {
		cfg.Durable = stage
	}
	c := &Consumer{
		conn:    conn,
		stream:  stream,
		cfg:     cfg,
		stage:   stage,
		nakBase: defaultNakBase,
		nakMax:  defaultNakMax,
		onErr:   func(error) {},
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("consumer %s: %w", stage, err)
		}
	}
	return c, nil
}

// ConsumerStats counts a consumer's work since it was made.
type ConsumerStats struct {
	Batches      uint64 // handed to the handler
	Acked        uint64
	Naked        uint64 // for redelivery after a handler error or at shutdown
	DeadLettered uint64
}

// Stats returns the consumer's counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Batches:      c.batches.Load(),
		Acked:        c.acked.Load(),
		Naked:        c.naked.Load(),
		DeadLettered: c.deadLettered.Load(),
	}
}

// Run creates or updates the durable consumer, then hands batches of at
// most batchSize messages to handle, one batch at a time, until ctx ends;
// it returns nil then, after its goroutines have stopped and the messages
// it had fetched but not handed over are naked for prompt redelivery. It
// returns an error when the consumer cannot be created, and when consuming
// stops by itself: the connection was closed or the consumer deleted. When
// cfg leaves MaxAckPending zero it is set to [DefaultMaxAckPending].
func (c *Consumer) Run(ctx context.Context, batchSize int, handle Handler) error {
	if batchSize <= 0 || handle == nil {
		return fmt.Errorf("consumer %s: %w: batch size %d, handler set %t", c.stage, ErrInvalidOption, batchSize, handle != nil)
	}
	cfg := c.cfg
	prefetch := max(batchSize, minPrefetch)
	if cfg.MaxAckPending == 0 {
		cfg.MaxAckPending = DefaultMaxAckPending(batchSize)
	}
	cons, err := c.conn.EnsureConsumer(ctx, c.stream, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("consumer %s: %w", c.stage, err)
	}

	queue := make(chan jetstream.Msg, batchSize)
	stop := make(chan struct{})
	var lastErr atomic.Pointer[error] // the client's latest pull error
	// A consumer deleted between two pull requests gets no answer, only
	// missing heartbeats; those make the loop below look it up.
	check := make(chan struct{}, 1)
	pullOpts := []jetstream.PullConsumeOpt{
		jetstream.PullMaxMessages(prefetch),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			lastErr.Store(&err)
			c.onErr(fmt.Errorf("consumer %s on %s: %w", c.stage, c.stream, err))
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				select {
				case check <- struct{}{}:
				default:
				}
			}
		}),
	}
	if c.expiry > 0 {
		pullOpts = append(pullOpts, jetstream.PullExpiry(c.expiry))
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case queue <- m:
		case <-stop:
			c.nakOrReport(m)
		}
	}, pullOpts...)
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", c.stage, c.stream, err)
	}
	defer func() {
		close(stop)
		// Drain, not Stop: Stop drops the prefetched messages, which would
		// then wait out AckWait; drained, they reach the callback and are
		// naked.
		cc.Drain()
		<-cc.Closed()
		for {
			select {
			case m := <-queue:
				c.nakOrReport(m)
			default:
				return
			}
		}
	}()

	// Closed before ctx ends when the client gives up: connection closed,
	// consumer deleted.
	closed := cc.Closed()
	for {
		var first jetstream.Msg
		select {
		case <-ctx.Done():
			return nil
		case <-closed:
			cause := nats.ErrConnectionClosed
			if p := lastErr.Load(); p != nil && !c.conn.NC.IsClosed() {
				cause = *p
			}
			return fmt.Errorf("consumer %s on %s: consuming stopped: %w", c.stage, c.stream, cause)
		case <-check:
			if err := c.exists(ctx, cons); err != nil {
				return err
			}
			continue
		case first = <-queue:
		}
		batch := c.collect(ctx, queue, first, batchSize)
		c.batches.Add(1)
		err := handle(ctx, batch)
		c.settle(ctx, batch, err)
	}
}

// DefaultMaxAckPending is the MaxAckPending [Consumer.Run] sets when the
// config leaves it zero: room for [DefaultWorkers] workers of batchSize.
// JetStream's own default, 1000 shared by every worker, starves all but
// the first few when batches are large.
func DefaultMaxAckPending(batchSize int) int {
	return DefaultWorkers * (2*batchSize + max(batchSize, minPrefetch))
}

// exists returns an error wrapping [jetstream.ErrConsumerNotFound] when
// cons was deleted; other lookup errors (a server restarting) return nil
// and leave the client to retry.
func (c *Consumer) exists(ctx context.Context, cons jetstream.Consumer) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cons.Info(ctx); errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("consumer %s on %s: consuming stopped: %w", c.stage, c.stream, err)
	}
	return nil
}

// collect builds a batch from first and what queue holds, waiting up to the
// linger time for more.
func (c *Consumer) collect(ctx context.Context, queue <-chan jetstream.Msg, first jetstream.Msg, batchSize int) []*Msg {
	batch := make([]*Msg, 1, batchSize)
	batch[0] = c.wrap(first)
	for len(batch) < batchSize {
		select {
		case m := <-queue:
			batch = append(batch, c.wrap(m))
			continue
		default:
		}
		if c.linger == 0 {
			break
		}
		t := time.NewTimer(c.linger)
	wait:
		for len(batch) < batchSize {
			select {
			case m := <-queue:
				batch = append(batch, c.wrap(m))
			case <-t.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
		t.Stop()
		break
	}
	return batch
}

func (c *Consumer) wrap(m jetstream.Msg) *Msg {
	return &Msg{Subject: m.Subject(), Data: m.Data(), Header: m.Headers(), raw: m, c: c}
}

// settle acks or naks what the handler left unsettled.
func (c *Consumer) settle(ctx context.Context, batch []*Msg, herr error) {
	for _, m := range batch {
		if m.settled.Load() {
			continue
		}
		if herr == nil {
			if err := m.Ack(); err != nil {
				c.onErr(err)
				continue
			}
			c.acked.Add(1)
			continue
		}
		n := m.Delivered()
		if c.cfg.MaxDeliver > 0 && n >= uint64(c.cfg.MaxDeliver) && ctx.Err() == nil {
			// The server would drop it after this delivery: keep it instead.
			if err := m.DeadLetter(ctx, fmt.Errorf("handler failed on delivery %d of %d: %w", n, c.cfg.MaxDeliver, herr)); err == nil {
				continue
			} else {
				c.onErr(err)
			}
		}
		delay := c.nakBase
		if ctx.Err() != nil {
			delay = 0 // shutting down: let another worker have it now
		} else {
			for k := uint64(1); k < n && delay < c.nakMax; k++ {
				delay *= 2
			}
			delay = min(delay, c.nakMax)
		}
		if err := m.nakDelay(delay); err != nil {
			c.onErr(fmt.Errorf("nak %s: %w", m.Subject, err))
			continue
		}
		c.naked.Add(1)
	}
}

func (c *Consumer) nakOrReport(m jetstream.Msg) {
	if err := m.Nak(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		c.onErr(fmt.Errorf("nak %s: %w", m.Subject(), err))
		return
	}
	c.naked.Add(1)
}
