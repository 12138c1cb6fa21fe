package grpcapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/delivery"
)

// Feed hands s every alert published on the ALERTS stream from the time it
// is called, through an ordered ephemeral consumer: each replica sees
// every alert. prepare (may be nil) adds the global custom fields. Replays
// meant for one output and messages that are not alerts are skipped (the
// output runners dead-letter the latter). It returns once the consumer
// exists, with stop, which ends the feed; or an error when the consumer
// cannot be made.
func Feed(ctx context.Context, js jetstream.JetStream, s *Server, prepare func(*schema.Alert)) (stop func(), err error) {
	cons, err := js.OrderedConsumer(ctx, schema.StreamAlerts, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{schema.SubjectAlertsAll},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("grpc feed: consumer on %s: %w", schema.StreamAlerts, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if m.Headers().Get(delivery.HeaderReplayOutput) != "" {
			return
		}
		var a schema.Alert
		if err := json.Unmarshal(m.Data(), &a); err != nil {
			return
		}
		if prepare != nil {
			prepare(&a)
		}
		s.Publish(&a)
	})
	if err != nil {
		return nil, fmt.Errorf("grpc feed: consume %s: %w", schema.StreamAlerts, err)
	}
	return func() {
		cc.Stop()
		<-cc.Closed()
	}, nil
}
