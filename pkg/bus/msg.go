package bus

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Msg is one message of a batch handed to a [Consumer]'s handler. A handler
// may settle it itself (Ack, Nak, Term, DeadLetter); the consumer settles
// the others when the handler returns. A Msg is settled once: later calls
// return nil without effect. Safe for concurrent use.
type Msg struct {
	Subject string
	Data    []byte
	Header  nats.Header

	raw     jetstream.Msg
	c       *Consumer
	settled atomic.Bool
}

// Raw returns the underlying JetStream message.
func (m *Msg) Raw() jetstream.Msg { return m.raw }

// Delivered is how many times the message has been delivered, 1 the first
// time; 0 if the metadata cannot be read.
func (m *Msg) Delivered() uint64 {
	md, err := m.raw.Metadata()
	if err != nil {
		return 0
	}
	return md.NumDelivered
}

// Ack acknowledges the message: a work queue deletes it.
func (m *Msg) Ack() error {
	if !m.settled.CompareAndSwap(false, true) {
		return nil
	}
	if err := m.raw.Ack(); err != nil {
		return fmt.Errorf("ack %s: %w", m.Subject, err)
	}
	return nil
}

// Nak asks for redelivery now.
func (m *Msg) Nak() error {
	if !m.settled.CompareAndSwap(false, true) {
		return nil
	}
	if err := m.raw.Nak(); err != nil {
		return fmt.Errorf("nak %s: %w", m.Subject, err)
	}
	return nil
}

func (m *Msg) nakDelay(delay time.Duration) error {
	if !m.settled.CompareAndSwap(false, true) {
		return nil
	}
	if delay <= 0 {
		return m.raw.Nak()
	}
	return m.raw.NakWithDelay(delay)
}

// Term tells the server never to redeliver the message. Prefer
// [Msg.DeadLetter], which keeps it.
func (m *Msg) Term() error {
	if !m.settled.CompareAndSwap(false, true) {
		return nil
	}
	if err := m.raw.Term(); err != nil {
		return fmt.Errorf("term %s: %w", m.Subject, err)
	}
	return nil
}

// DeadLetter publishes the message to deadletter.<stage> with its data and
// headers, adding the reason (cause's text) in the Peregrine-Error header and
// the original subject in Peregrine-Subject, then terminates the original. It
// waits for the dead-letter stream's ack; if that fails the message is left
// unsettled (so the consumer naks it for redelivery) and the error returned.
// The dead letter's Nats-Msg-Id is derived from the original's stream
// position, so dead-lettering a redelivered message again stores it once.
func (m *Msg) DeadLetter(ctx context.Context, cause error) error {
	if m.settled.Load() {
		return nil
	}
	reason := "unknown"
	if cause != nil {
		reason = cause.Error()
	}
	h := make(nats.Header, len(m.Header)+3)
	for k, v := range m.Header {
		h[k] = v
	}
	h.Set(schema.HeaderError, reason)
	h.Set(schema.HeaderOrigSubject, m.Subject)
	if id := m.Header.Get(schema.HeaderMsgID); id != "" {
		h.Set(schema.HeaderOrigMsgID, id)
	}
	if md, err := m.raw.Metadata(); err == nil {
		h.Set(schema.HeaderMsgID, "dl-"+md.Stream+"-"+strconv.FormatUint(md.Sequence.Stream, 10))
	} else {
		h.Del(schema.HeaderMsgID)
	}
	subj := schema.DeadLetterSubject(m.c.stage)
	if _, err := m.c.conn.JS.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: m.Data, Header: h}); err != nil {
		return fmt.Errorf("dead-letter %s to %s: %w", m.Subject, subj, err)
	}
	m.c.deadLettered.Add(1)
	return m.Term()
}
