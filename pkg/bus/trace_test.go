package bus

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestTraceContextRoundTrip publishes inside a span and checks the consumer
// extracts the same trace, as a remote parent, with the baggage.
func TestTraceContextRoundTrip(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	ctx, span := tp.Tracer("test").Start(testContext(t), "collect")
	member, err := baggage.NewMember("node", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	ctx = baggage.ContextWithBaggage(ctx, bag)
	p := newPublisher(t, env.conn, PublisherOptions{})
	if err := p.Publish(ctx, schema.RawSubject("node-a"), []byte("x"), "1", nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	span.End()

	got := make(chan context.Context, 1)
	c := newConsumer(t, env.conn, schema.StreamRaw, jetstream.ConsumerConfig{}, "enricher")
	runConsumer(t, c, 1, func(ctx context.Context, batch []*Msg) error {
		got <- Extract(ctx, batch[0].Header)
		return nil
	})
	var rctx context.Context
	select {
	case rctx = <-got:
	case <-testContext(t).Done():
		t.Fatal("no message")
	}
	want := span.SpanContext().WithRemote(true)
	if sc := trace.SpanContextFromContext(rctx); !sc.Equal(want) {
		t.Errorf("extracted span context %v, want %v", sc, want)
	}
	if got := baggage.FromContext(rctx).Member("node").Value(); got != "node-a" {
		t.Errorf("baggage node = %q, want node-a", got)
	}
}

func TestInjectExtract(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	spanCtx, span := tp.Tracer("test").Start(context.Background(), "s")
	defer span.End()
	tests := []struct {
		name    string
		ctx     context.Context
		hdr     nats.Header
		wantHdr []string // header keys after Inject
		valid   bool     // Extract finds a span context
	}{
		{name: "no span", ctx: context.Background(), hdr: nats.Header{}, wantHdr: []string{}},
		{name: "nil header", ctx: spanCtx, hdr: nil},
		{name: "span", ctx: spanCtx, hdr: nats.Header{"X": {"1"}}, wantHdr: []string{"X", "traceparent"}, valid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Inject(tt.ctx, tt.hdr)
			if tt.hdr != nil {
				keys := HeaderCarrier(tt.hdr).Keys()
				if diff := cmp.Diff(tt.wantHdr, keys, cmp.Transformer("sort", sortStrings)); diff != "" {
					t.Errorf("header keys (-want +got):\n%s", diff)
				}
			}
			sc := trace.SpanContextFromContext(Extract(context.Background(), tt.hdr))
			if sc.IsValid() != tt.valid {
				t.Errorf("extracted %v, want valid %t", sc, tt.valid)
			}
			if tt.valid && sc.TraceID() != span.SpanContext().TraceID() {
				t.Errorf("trace id %v, want %v", sc.TraceID(), span.SpanContext().TraceID())
			}
		})
	}
}
