package statsd

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// Sender writes datagrams to one UDP address, dialling on first use so a
// forwarder that does not resolve at start-up is retried like any failed
// delivery. It is safe for concurrent use.
type Sender struct {
	addr string
	mu   sync.Mutex
	conn net.Conn
}

// NewSender returns a sender to addr (host:port); it does not dial yet.
func NewSender(addr string) *Sender { return &Sender{addr: addr} }

// Write sends b as one datagram. A failed write drops the connection, so
// the next call resolves and dials again. Errors name the address.
func (s *Sender) Write(ctx context.Context, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", s.addr)
		if err != nil {
			return fmt.Errorf("statsd %s: %w", s.addr, err)
		}
		s.conn = c
	}
	if _, err := s.conn.Write(b); err != nil {
		_ = s.conn.Close()
		s.conn = nil
		return fmt.Errorf("statsd %s: %w", s.addr, err)
	}
	return nil
}

// Close closes the socket, if any.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// ValidateForwarder checks that addr is host:port.
func ValidateForwarder(field, addr string) error {
	if addr == "" {
		return fmt.Errorf("field %s: missing", field)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("field %s: %w", field, err)
	}
	return nil
}
