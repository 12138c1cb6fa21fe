package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultURL is the server [Connect] dials when neither [WithURL] nor the
// NATS_URL environment variable names one.
const DefaultURL = "nats://127.0.0.1:4222"

// EnvURL is the environment variable [Connect] reads the server URL from.
const EnvURL = "NATS_URL"

// ErrInvalidOption is wrapped by the errors of invalid options and arguments.
var ErrInvalidOption = errors.New("invalid option")

// Conn is a NATS connection with its JetStream context. It reconnects
// forever until [Conn.Close]. Safe for concurrent use.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream

	url string
}

type connOptions struct {
	url        string
	reconnWait time.Duration
	onErr      func(error)
	natsOpts   []nats.Option
}

// Option configures [Connect].
type Option func(*connOptions) error

// WithURL sets the server URL (a comma-separated list is allowed), taking
// precedence over NATS_URL.
func WithURL(url string) Option {
	return func(o *connOptions) error {
		if url == "" {
			return fmt.Errorf("%w: empty url", ErrInvalidOption)
		}
		o.url = url
		return nil
	}
}

// WithReconnectWait sets the pause between reconnect attempts (default 250ms).
func WithReconnectWait(d time.Duration) Option {
	return func(o *connOptions) error {
		if d <= 0 {
			return fmt.Errorf("%w: reconnect wait %v must be positive", ErrInvalidOption, d)
		}
		o.reconnWait = d
		return nil
	}
}

// WithErrorHandler receives the connection's asynchronous errors (slow
// consumer, permission violations, disconnects with a reason). Without it they
// are dropped. It is called from the client's goroutines and must not block.
func WithErrorHandler(f func(error)) Option {
	return func(o *connOptions) error {
		o.onErr = f
		return nil
	}
}

// WithNATSOptions appends raw nats.go options (credentials, TLS, ...); they
// are applied after the ones this package sets and so override them.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(o *connOptions) error {
		o.natsOpts = append(o.natsOpts, opts...)
		return nil
	}
}

// Connect dials the server and waits until the first connection is made or
// ctx ends: a stage may start before its server. Afterwards the connection
// reconnects forever. name identifies the client to the server (the stage
// name is a good choice).
func Connect(ctx context.Context, name string, opts ...Option) (*Conn, error) {
	o := connOptions{url: os.Getenv(EnvURL), reconnWait: 250 * time.Millisecond}
	if o.url == "" {
		o.url = DefaultURL
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("connect %s: %w", name, err)
		}
	}
	nopts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(o.reconnWait),
		nats.RetryOnFailedConnect(true),
	}
	// Always set: the client's default handler writes to stderr.
	onErr := o.onErr
	if onErr == nil {
		onErr = func(error) {}
	}
	nopts = append(nopts,
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				err = fmt.Errorf("subscription %s: %w", sub.Subject, err)
			}
			onErr(err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				onErr(fmt.Errorf("disconnected from %s: %w", o.url, err))
			}
		}))
	nopts = append(nopts, o.natsOpts...)
	nc, err := nats.Connect(o.url, nopts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s to %s: %w", name, o.url, err)
	}
	if err := waitConnected(ctx, nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect %s to %s: %w", name, o.url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect %s: jetstream: %w", name, err)
	}
	return &Conn{NC: nc, JS: js, url: o.url}, nil
}

// waitConnected returns once nc is connected, or with an error when ctx ends
// or nc is closed first.
func waitConnected(ctx context.Context, nc *nats.Conn) error {
	// Listen before looking, so a connection made in between is not missed.
	ch := nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(ch)
	for {
		switch nc.Status() {
		case nats.CONNECTED:
			return nil
		case nats.CLOSED:
			return nats.ErrConnectionClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if err := nc.LastError(); err != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
			}
			return ctx.Err()
		}
	}
}

// URL is the server URL the connection was made with.
func (c *Conn) URL() string { return c.url }

// Close closes the connection. Messages still in a [Publisher]'s window
// are then given up and reported, those awaiting an ack once their
// AckTimeout passes; call [Publisher.Flush] first.
func (c *Conn) Close() { c.NC.Close() }

// EnsureStream creates the stream or updates it to cfg, so calling it again,
// or with a changed config, works. Changes JetStream refuses (retention or
// storage type, for instance) return its error, naming the stream.
func (c *Conn) EnsureStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := c.JS.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// EnsureStreams calls [Conn.EnsureStream] for each config, by default
// [Streams]() with the default limits; it stops at the first error.
func (c *Conn) EnsureStreams(ctx context.Context, cfgs ...jetstream.StreamConfig) error {
	if len(cfgs) == 0 {
		cfgs = Streams()
	}
	for _, cfg := range cfgs {
		if _, err := c.EnsureStream(ctx, cfg); err != nil {
			return err
		}
	}
	return nil
}

// EnsureConsumer creates the consumer of stream or updates it to cfg; like
// [Conn.EnsureStream] it is idempotent.
func (c *Conn) EnsureConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	cons, err := c.JS.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		name := cfg.Durable
		if name == "" {
			name = cfg.Name
		}
		return nil, fmt.Errorf("stream %s: consumer %s: %w", stream, name, err)
	}
	return cons, nil
}
