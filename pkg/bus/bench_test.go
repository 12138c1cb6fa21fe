package bus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// BenchmarkPublish publishes collector batches of 1, 16 and 64 events to a
// file-backed EVENTS_RAW through a Publisher and waits for every ack. The
// "direct" cases publish the same with bare jetstream.PublishAsync, as the
// baseline of the Publisher's bookkeeping.
func BenchmarkPublish(b *testing.B) {
	cases := []struct {
		events, window int
		direct         bool
	}{
		{1, 4096, false}, {1, 4096, true},
		{16, 256, false}, {16, 4096, false}, {16, 4096, true},
		{64, 4096, false}, {64, 4096, true},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("events=%d/window=%d", tc.events, tc.window)
		if tc.direct {
			name += "/direct"
		}
		b.Run(name, func(b *testing.B) {
			env := newEnv(b)
			ctx := testContext(b)
			if err := env.conn.EnsureStreams(ctx, RawStream(StreamLimits{MaxBytes: 8 << 30})); err != nil {
				b.Fatal(err)
			}
			publish, flush := benchPublisher(b, env.conn, tc.window, tc.direct)
			batch := testBatch("node-a", 0, tc.events)
			subj := schema.RawSubject("node-a")
			b.ResetTimer()
			for k := 0; k < b.N; k++ {
				batch.Seq = uint64(k)
				data, err := schema.Marshal(batch)
				if err != nil {
					b.Fatal(err)
				}
				if err := publish(ctx, subj, data, schema.BatchMsgID(batch)); err != nil {
					b.Fatal(err)
				}
			}
			if err := flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/sec, "msgs/s")
			b.ReportMetric(float64(b.N*tc.events)/sec, "events/s")
			if got := env.streamMsgs(b, schema.StreamRaw); got != uint64(b.N) {
				b.Fatalf("stream holds %d of %d", got, b.N)
			}
		})
	}
}

type publishFunc func(ctx context.Context, subj string, data []byte, id string) error

func benchPublisher(b *testing.B, conn *Conn, window int, direct bool) (publishFunc, func(context.Context) error) {
	b.Helper()
	if !direct {
		p := newPublisher(b, conn, PublisherOptions{Window: window})
		return func(ctx context.Context, subj string, data []byte, id string) error {
			return p.Publish(ctx, subj, data, id, nil)
		}, p.Flush
	}
	var failed atomic.Int64
	js, err := jetstream.New(conn.NC, jetstream.WithPublishAsyncMaxPending(window),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context, subj string, data []byte, id string) error {
			// A full window fails after the stall wait; wait more, as a
			// caller of bare PublishAsync has to.
			for {
				_, err := js.PublishAsync(subj, data, jetstream.WithMsgID(id))
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) || ctx.Err() != nil {
					return err
				}
			}
		}, func(ctx context.Context) error {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
			if n := failed.Load(); n > 0 {
				return fmt.Errorf("%d publishes failed", n)
			}
			return nil
		}
}

// BenchmarkConsume drains a file-backed work queue of 16-event batches with
// one Consumer, decoding each batch as a stage would, and acking. The
// "direct" case is bare jetstream Consume with one ack per message, the
// baseline of the Consumer's batching.
func BenchmarkConsume(b *testing.B) {
	const events = 16
	for _, tc := range []struct {
		batch  int
		direct bool
	}{{1, false}, {16, false}, {100, false}, {0, true}} {
		name := fmt.Sprintf("batch=%d", tc.batch)
		if tc.direct {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			env := newEnv(b)
			ctx := testContext(b)
			if err := env.conn.EnsureStreams(ctx, EnrichedStream(StreamLimits{MaxBytes: 8 << 30})); err != nil {
				b.Fatal(err)
			}
			p := newPublisher(b, env.conn, PublisherOptions{Window: 4096})
			batch := testBatch("node-a", 0, events)
			for k := 0; k < b.N; k++ {
				batch.Seq = uint64(k)
				data, _ := schema.Marshal(batch)
				if err := p.Publish(ctx, schema.EnrichedSubject("node-a"), data, schema.BatchMsgID(batch), nil); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if tc.direct {
				consumeDirect(b, env.conn, b.N)
			} else {
				consumeBus(b, env.conn, tc.batch, b.N)
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/sec, "msgs/s")
			b.ReportMetric(float64(b.N*events)/sec, "events/s")
		})
	}
}

func consumeBus(b *testing.B, conn *Conn, batchSize, total int) {
	c := newConsumer(b, conn, schema.StreamEnriched, jetstream.ConsumerConfig{}, "bench")
	ctx, cancel := context.WithCancel(testContext(b))
	defer cancel()
	n := 0
	err := c.Run(ctx, batchSize, func(_ context.Context, msgs []*Msg) error {
		for _, m := range msgs {
			if _, err := schema.Unmarshal(m.Data); err != nil {
				return err
			}
		}
		if n += len(msgs); n >= total {
			cancel()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func consumeDirect(b *testing.B, conn *Conn, total int) {
	ctx := testContext(b)
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, schema.StreamEnriched, jetstream.ConsumerConfig{Durable: "bench", MaxAckPending: 10000})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	n := 0
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if _, err := schema.Unmarshal(m.Data()); err != nil {
			b.Error(err)
		}
		if err := m.Ack(); err != nil {
			b.Error(err)
		}
		if n++; n == total {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatal("not every message arrived")
	}
}
