// Package pipeline joins the enricher to the bus: it consumes raw batches
// from EVENTS_RAW, enriches them and publishes them on
// events.enriched.<node>, acking a raw batch only once its enriched batch
// is acked by the stream. A message that does not decode goes to
// deadletter.enricher; nothing stops the consumer.
package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/enrich"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/metrics"
)

// Stage names the durable consumer and the dead-letter subject.
const Stage = "enricher"

// DefaultBatchSize is Config.BatchSize's default.
const DefaultBatchSize = 16

// Config tunes a [Pipeline].
type Config struct {
	// Node narrows consumption to events.raw.<Node>; "" takes every node.
	Node string
	// BatchSize is how many bus messages one handler call takes (default
	// 16: with the collector's 2048-event batches a pull stays well under
	// the enricher's bound on held events, so catching up on a backlog
	// still waits for new containers' metadata).
	BatchSize int
	// Window is the publisher's window (default 1024).
	Window int
}

// Pipeline is the enricher's bus stage.
type Pipeline struct {
	cfg  Config
	conn *bus.Conn
	enr  *enrich.Enricher
	m    *metrics.Metrics
	cons *bus.Consumer
	pub  *bus.Publisher
}

// New makes the streams and consumer it needs and returns the stage.
func New(ctx context.Context, conn *bus.Conn, enr *enrich.Enricher, m *metrics.Metrics, cfg Config) (*Pipeline, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if err := conn.EnsureStreams(ctx, bus.RawStream(bus.StreamLimits{}), bus.EnrichedStream(bus.StreamLimits{}), bus.DeadLetterStream(bus.StreamLimits{})); err != nil {
		return nil, fmt.Errorf("enricher streams: %w", err)
	}
	filter := schema.SubjectRawAll
	if cfg.Node != "" {
		filter = schema.RawSubject(cfg.Node)
	}
	name := Stage
	if cfg.Node != "" {
		// A work-queue stream refuses two consumers with overlapping
		// filters, so a node-narrowed enricher has its own durable.
		name = Stage + "-" + schema.SubjectToken(cfg.Node)
	}
	cons, err := bus.NewConsumer(conn, schema.StreamRaw, jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
	}, Stage)
	if err != nil {
		return nil, err
	}
	pub, err := bus.NewPublisher(conn, bus.PublisherOptions{Window: cfg.Window, Compress: true})
	if err != nil {
		return nil, fmt.Errorf("enricher publisher: %w", err)
	}
	return &Pipeline{cfg: cfg, conn: conn, enr: enr, m: m, cons: cons, pub: pub}, nil
}

// Run consumes until ctx ends. One worker keeps the batches of each node
// in order end to end.
func (p *Pipeline) Run(ctx context.Context) error {
	return p.cons.Run(ctx, p.cfg.BatchSize, p.handle)
}

// Stats returns the consumer's counters.
func (p *Pipeline) Stats() bus.ConsumerStats { return p.cons.Stats() }

func (p *Pipeline) handle(ctx context.Context, msgs []*bus.Msg) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var pubErr error
	for _, m := range msgs {
		data, err := m.Payload(nil)
		var b *schema.Batch
		if err == nil {
			b, err = schema.Unmarshal(data)
		}
		if err != nil {
			p.m.DeadLetters.Inc()
			if err := m.DeadLetter(ctx, fmt.Errorf("enricher: message %s: %w", m.Subject, err)); err != nil {
				// Left unsettled: naked with the batch's error below.
				mu.Lock()
				pubErr = err
				mu.Unlock()
			}
			continue
		}
		mctx := bus.Extract(ctx, m.Header)
		wg.Add(1)
		err = p.enr.Submit(ctx, b, func(b *schema.Batch) {
			defer wg.Done()
			if err := p.publish(mctx, b); err != nil {
				mu.Lock()
				pubErr = err
				mu.Unlock()
			}
		})
		if err != nil {
			wg.Done()
			return err
		}
	}
	wg.Wait()
	if err := p.pub.Flush(ctx); err != nil {
		p.m.PublishErrors.Inc()
		return fmt.Errorf("enricher: publishing enriched batches: %w", err)
	}
	return pubErr
}

func (p *Pipeline) publish(ctx context.Context, b *schema.Batch) error {
	data, err := schema.Marshal(b)
	if err != nil {
		return fmt.Errorf("enricher: encoding batch %s: %w", schema.BatchMsgID(b), err)
	}
	hdr := nats.Header{}
	hdr.Set(schema.HeaderSchemaVersion, strconv.Itoa(schema.Version))
	return p.pub.Publish(ctx, schema.EnrichedSubject(b.Node), data, schema.BatchMsgID(b), hdr)
}
