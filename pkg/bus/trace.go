package bus

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// propagator is fixed rather than taken from otel.GetTextMapPropagator so
// that stages agree on the header format whatever their global setup is.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// HeaderCarrier adapts a nats.Header to propagation.TextMapCarrier.
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the values of key with value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys present.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes the trace context and baggage of ctx into hdr (traceparent,
// tracestate, baggage). It does nothing when ctx has no valid span context
// or hdr is nil.
func Inject(ctx context.Context, hdr nats.Header) {
	if hdr == nil {
		return
	}
	propagator.Inject(ctx, HeaderCarrier(hdr))
}

// Extract returns ctx carrying the remote span context and baggage found in
// hdr; it returns ctx unchanged when hdr has none.
func Extract(ctx context.Context, hdr nats.Header) context.Context {
	if len(hdr) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, HeaderCarrier(hdr))
}
