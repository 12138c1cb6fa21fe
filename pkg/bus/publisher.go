package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Publisher defaults.
const (
	DefaultWindow     = 1024
	DefaultMaxRetries = 8
	DefaultAckTimeout = 10 * time.Second
)

// retry pacing: backoff doubles from retryBase to retryMax; while the
// connection is down a message waits, polling every reconnectPoll, without
// using up its retries.
const (
	retryBase     = 50 * time.Millisecond
	retryMax      = 2 * time.Second
	reconnectPoll = 50 * time.Millisecond
	maxReported   = 16 // failures kept for Flush's error
)

// ErrPublishFailed is wrapped by every [PublishError].
var ErrPublishFailed = errors.New("publish failed")

// PublisherOptions configures [NewPublisher]. The zero value is usable.
type PublisherOptions struct {
	// Window is the most messages published and not yet acked (default
	// [DefaultWindow]); [Publisher.Publish] blocks while it is full.
	Window int
	// MaxRetries bounds the republishing of a message whose ack failed or
	// timed out (default [DefaultMaxRetries]; -1 means none). Time spent
	// disconnected does not count: a message waits for the reconnect.
	MaxRetries int
	// AckTimeout is how long an ack may take before the message is retried
	// (default [DefaultAckTimeout]).
	AckTimeout time.Duration
	// OnFailure, when set, is called for each message given up, from an
	// internal goroutine; it must not block.
	OnFailure func(*PublishError)
	// Compress s2-compresses payloads of 1 KiB or more when that makes
	// them smaller, marking them with [HeaderEncoding]; consumers read
	// them with [Msg.Payload]. Event batches shrink ~5x, and the server,
	// which copies every byte in and out, does about half the work.
	Compress bool
}

// PublishError reports a message given up after its retries.
type PublishError struct {
	Subject  string
	MsgID    string
	Attempts int
	Err      error // the last error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("publish %s (msg id %s) after %d attempts: %v", e.Subject, e.MsgID, e.Attempts, e.Err)
}

// Unwrap returns [ErrPublishFailed] and the last error.
func (e *PublishError) Unwrap() []error { return []error{ErrPublishFailed, e.Err} }

// PublisherStats counts a publisher's messages since it was made.
type PublisherStats struct {
	Published  uint64 // acked by the stream (duplicates included)
	Duplicates uint64 // acked as a duplicate of an earlier msg id
	Retries    uint64 // republished after a failure
	Failed     uint64 // given up, see [PublishError]
	Pending    int    // in the window now
}

// Publisher publishes to JetStream asynchronously with a bounded window.
// Safe for concurrent use.
type Publisher struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	window     chan struct{} // one token per message in flight
	maxRetries int
	onFailure  func(*PublishError)
	compress   bool

	mu       sync.Mutex
	inflight map[*nats.Msg]*outgoing
	idle     chan struct{} // closed when inflight empties; nil when nobody waits
	failures []error       // since the last Flush, at most maxReported
	nfailed  int           // since the last Flush

	published, duplicates, retries, failed atomic.Uint64
}

type outgoing struct {
	msg      *nats.Msg
	attempts int
}

// NewPublisher returns a publisher on c with its own window: it uses its own
// JetStream context so that publishers on one connection do not share one.
func NewPublisher(c *Conn, o PublisherOptions) (*Publisher, error) {
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Window < 0 {
		return nil, fmt.Errorf("publisher: %w: window %d", ErrInvalidOption, o.Window)
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.AckTimeout == 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	p := &Publisher{
		nc:         c.NC,
		window:     make(chan struct{}, o.Window),
		maxRetries: o.MaxRetries,
		onFailure:  o.OnFailure,
		compress:   o.Compress,
		inflight:   make(map[*nats.Msg]*outgoing, o.Window),
	}
	js, err := jetstream.New(c.NC,
		// The window is enforced by p.window; the client's own cap is the
		// same size so that it never stalls a message p has admitted.
		jetstream.WithPublishAsyncMaxPending(o.Window),
		jetstream.WithPublishAsyncTimeout(o.AckTimeout),
		jetstream.WithPublishAsyncAckHandler(p.onAck),
		jetstream.WithPublishAsyncErrHandler(p.onErr),
	)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	p.js = js
	return p, nil
}

// Publish queues data for subject and returns once the message is in the
// window, without waiting for its ack; it blocks while the window is full
// and returns an error wrapping ctx.Err() if ctx ends first. msgID becomes
// the Nats-Msg-Id (a random one when empty); use a stable id, such as
// [schema.BatchMsgID], so a message published again after a restart is
// dropped as a duplicate. data is kept for retries: do not modify it until
// the message is acked (after [Publisher.Flush] returns, for instance). hdr
// is copied, not modified, and the trace context of ctx is added to the copy. Failures after Publish returns are reported
// by [Publisher.Flush] and OnFailure.
func (p *Publisher) Publish(ctx context.Context, subject string, data []byte, msgID string, hdr nats.Header) error {
	if subject == "" {
		return fmt.Errorf("publish: %w: empty subject", ErrInvalidOption)
	}
	select {
	case p.window <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("publish %s: waiting for the window: %w", subject, ctx.Err())
	}
	if msgID == "" {
		msgID = nuid.Next()
	}
	h := make(nats.Header, len(hdr)+2)
	for k, v := range hdr {
		h[k] = v
	}
	Inject(ctx, h)
	h.Set(schema.HeaderMsgID, msgID)
	if p.compress {
		var ok bool
		if data, ok = compress(data); ok {
			h.Set(HeaderEncoding, EncodingS2)
		}
	}
	m := &nats.Msg{Subject: subject, Data: data, Header: h}
	out := &outgoing{msg: m}
	p.mu.Lock()
	p.inflight[m] = out
	p.mu.Unlock()
	p.send(out)
	return nil
}

func (p *Publisher) send(out *outgoing) {
	out.attempts++
	if _, err := p.js.PublishMsgAsync(out.msg); err != nil {
		p.onErr(p.js, out.msg, err)
	}
}

// onAck is called by the client for each ack, on its ack goroutine.
func (p *Publisher) onAck(_ jetstream.JetStream, m *nats.Msg, pa *jetstream.PubAck) {
	if !p.settle(m, nil) {
		return
	}
	p.published.Add(1)
	if pa.Duplicate {
		p.duplicates.Add(1)
	}
}

// onErr is called for each failed publish. The client may hold its own
// lock here, so the retry is made from a timer's goroutine.
func (p *Publisher) onErr(_ jetstream.JetStream, m *nats.Msg, err error) {
	p.mu.Lock()
	out := p.inflight[m]
	p.mu.Unlock()
	if out == nil {
		return
	}
	if p.nc.IsClosed() || (out.attempts > p.maxRetries && !disconnected(err)) {
		p.giveUp(out, err)
		return
	}
	delay := reconnectPoll
	if !disconnected(err) {
		delay = min(retryBase<<(out.attempts-1), retryMax)
	} else {
		// Not the message's fault: do not use up a retry on it.
		out.attempts--
	}
	time.AfterFunc(delay, func() { p.resend(out, err) })
}

func (p *Publisher) resend(out *outgoing, lastErr error) {
	switch {
	case p.nc.IsClosed():
		p.giveUp(out, fmt.Errorf("%w after: %w", nats.ErrConnectionClosed, lastErr))
	case !p.nc.IsConnected():
		time.AfterFunc(reconnectPoll, func() { p.resend(out, lastErr) })
	default:
		p.retries.Add(1)
		p.send(out)
	}
}

// disconnected tells errors of the connection, after which a message is
// retried as soon as the connection is back, from errors of the message.
func disconnected(err error) bool {
	return errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, jetstream.ErrTooManyStalledMsgs)
}

func (p *Publisher) giveUp(out *outgoing, err error) {
	pe := &PublishError{
		Subject:  out.msg.Subject,
		MsgID:    out.msg.Header.Get(schema.HeaderMsgID),
		Attempts: out.attempts,
		Err:      err,
	}
	if !p.settle(out.msg, pe) {
		return
	}
	p.failed.Add(1)
	if p.onFailure != nil {
		p.onFailure(pe)
	}
}

// settle takes m out of the window, recording pe when it failed. It
// reports false when m was already settled.
func (p *Publisher) settle(m *nats.Msg, pe *PublishError) bool {
	p.mu.Lock()
	if _, ok := p.inflight[m]; !ok {
		p.mu.Unlock()
		return false
	}
	delete(p.inflight, m)
	if pe != nil {
		p.nfailed++
		if len(p.failures) < maxReported {
			p.failures = append(p.failures, pe)
		}
	}
	if len(p.inflight) == 0 && p.idle != nil {
		close(p.idle)
		p.idle = nil
	}
	p.mu.Unlock()
	<-p.window
	return true
}

// Flush waits until every message published so far is acked or given up,
// or ctx ends. It returns the messages given up since the previous Flush,
// joined: each is a [*PublishError] (match with errors.Is
// [ErrPublishFailed] or errors.As); when more than 16 failed the rest are
// counted, not listed. When ctx ends first the error wraps ctx.Err().
func (p *Publisher) Flush(ctx context.Context) error {
	for {
		p.mu.Lock()
		n := len(p.inflight)
		if n == 0 {
			errs, nfailed := p.failures, p.nfailed
			p.failures, p.nfailed = nil, 0
			p.mu.Unlock()
			if nfailed > len(errs) {
				errs = append(errs, fmt.Errorf("%w: %d more messages", ErrPublishFailed, nfailed-len(errs)))
			}
			return errors.Join(errs...)
		}
		if p.idle == nil {
			p.idle = make(chan struct{})
		}
		idle := p.idle
		p.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("flush: %d messages not acked: %w", n, ctx.Err())
		}
	}
}

// Stats returns the publisher's counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	pending := len(p.inflight)
	p.mu.Unlock()
	return PublisherStats{
		Published:  p.published.Load(),
		Duplicates: p.duplicates.Load(),
		Retries:    p.retries.Load(),
		Failed:     p.failed.Load(),
		Pending:    pending,
	}
}
