// Package publish sends event batches to the bus from a bounded queue, so
// the ring-buffer reader never waits on NATS: while the server is away
// batches wait in the queue, and once it is full new batches are dropped
// and counted.
package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Sender publishes one message; [bus.Publisher] is one. It may block (a
// full window) until ctx ends.
type Sender interface {
	Publish(ctx context.Context, subject string, data []byte, msgID string, hdr nats.Header) error
}

// ErrInvalidOption is wrapped by errors about bad [Options].
var ErrInvalidOption = errors.New("invalid option")

// Options configure [New].
type Options struct {
	Subject string
	// MaxEvents bounds the events waiting in the queue (not yet handed to
	// the sender). Default 1,000,000.
	MaxEvents int
}

// Stats counts since [New].
type Stats struct {
	Batches, Events               uint64 // handed to the sender
	DroppedBatches, DroppedEvents uint64 // queue full
	QueuedEvents                  int64
	Errors                        uint64 // sender errors (batch dropped)
}

// Queue is safe for concurrent use.
type Queue struct {
	subject   string
	maxEvents int64
	ch        chan *schema.Batch
	mu        sync.Mutex
	sender    Sender

	queued                                          atomic.Int64
	batches, events, dropB, dropE, errs, encodeErrs atomic.Uint64
	ready                                           chan struct{}
	readyOnce                                       sync.Once
}

// New returns a queue publishing on o.Subject. Call [Queue.SetSender]
// when the connection is up (the queue fills meanwhile) and [Queue.Run].
func New(o Options) (*Queue, error) {
	if o.Subject == "" {
		return nil, fmt.Errorf("subject: empty: %w", ErrInvalidOption)
	}
	if o.MaxEvents == 0 {
		o.MaxEvents = 1_000_000
	}
	if o.MaxEvents < 0 {
		return nil, fmt.Errorf("max events %d: %w", o.MaxEvents, ErrInvalidOption)
	}
	return &Queue{subject: o.Subject, maxEvents: int64(o.MaxEvents),
		ch: make(chan *schema.Batch, 1<<16), ready: make(chan struct{})}, nil
}

// SetSender sets where batches go; Run waits for it.
func (q *Queue) SetSender(s Sender) {
	q.mu.Lock()
	q.sender = s
	q.mu.Unlock()
	q.readyOnce.Do(func() { close(q.ready) })
}

// Enqueue queues b without blocking. It returns false, counting the
// batch as dropped, when the queue is full.
func (q *Queue) Enqueue(b *schema.Batch) bool {
	n := int64(len(b.Events))
	if q.queued.Add(n) > q.maxEvents {
		q.queued.Add(-n)
		q.dropB.Add(1)
		q.dropE.Add(uint64(n))
		return false
	}
	select {
	case q.ch <- b:
		return true
	default:
		q.queued.Add(-n)
		q.dropB.Add(1)
		q.dropE.Add(uint64(n))
		return false
	}
}

// Run sends queued batches until ctx ends. It returns ctx.Err().
func (q *Queue) Run(ctx context.Context) error {
	select {
	case <-q.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	q.mu.Lock()
	s := q.sender
	q.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b := <-q.ch:
			n := int64(len(b.Events))
			data, err := schema.Marshal(b)
			if err != nil {
				q.queued.Add(-n)
				q.encodeErrs.Add(1)
				q.errs.Add(1)
				continue
			}
			hdr := nats.Header{}
			hdr.Set(schema.HeaderSchemaVersion, fmt.Sprint(schema.Version))
			err = s.Publish(ctx, q.subject, data, schema.BatchMsgID(b), hdr)
			q.queued.Add(-n)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				q.errs.Add(1)
				continue
			}
			q.batches.Add(1)
			q.events.Add(uint64(n))
		}
	}
}

// Stats returns the counters.
func (q *Queue) Stats() Stats {
	return Stats{Batches: q.batches.Load(), Events: q.events.Load(), DroppedBatches: q.dropB.Load(),
		DroppedEvents: q.dropE.Load(), QueuedEvents: q.queued.Load(), Errors: q.errs.Load()}
}
