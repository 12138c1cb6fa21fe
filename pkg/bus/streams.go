package bus

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// StreamLimits bounds a stream. A zero field takes the stream's default.
type StreamLimits struct {
	MaxAge   time.Duration // oldest message kept
	MaxBytes int64         // total size kept
	// Duplicates is the window in which a repeated Nats-Msg-Id is dropped
	// (JetStream's default is 2 minutes). It costs server memory per
	// message id, so keep it near the longest outage a publisher rides out.
	Duplicates time.Duration
	Replicas   int // copies in a cluster; 1 on a single server
	// Memory selects memory instead of file storage (tests, benchmarks).
	Memory bool
}

// Default limits of the standard streams.
var (
	DefaultEventLimits = StreamLimits{MaxAge: time.Hour, MaxBytes: 1 << 30}
	DefaultAlertLimits = StreamLimits{MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30}
)

// RawStream is EVENTS_RAW over events.raw.>: a work queue the enricher
// drains. When full the oldest events are discarded so collectors never
// block on a stalled pipeline.
func RawStream(l StreamLimits) jetstream.StreamConfig {
	return workQueue(schema.StreamRaw, schema.SubjectRawAll, "raw event batches from collectors", l)
}

// EnrichedStream is EVENTS_ENRICHED over events.enriched.>: a work queue
// shared by the evaluator replicas.
func EnrichedStream(l StreamLimits) jetstream.StreamConfig {
	return workQueue(schema.StreamEnriched, schema.SubjectEnrichedAll, "enriched event batches for evaluators", l)
}

// AlertsStream is ALERTS over alerts.>, kept by age and size (7 days and
// 1 GiB by default) so several notifiers and people can read it.
func AlertsStream(l StreamLimits) jetstream.StreamConfig {
	return limitsStream(schema.StreamAlerts, schema.SubjectAlertsAll, "Falco alert JSON", l, DefaultAlertLimits)
}

// DeadLetterStream is DEADLETTER over deadletter.>, kept like ALERTS.
func DeadLetterStream(l StreamLimits) jetstream.StreamConfig {
	return limitsStream(schema.StreamDeadLetter, schema.SubjectDeadLetterAll, "messages a stage could not decode", l, DefaultAlertLimits)
}

// Streams returns the four standard stream configs with default limits.
func Streams() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		RawStream(StreamLimits{}),
		EnrichedStream(StreamLimits{}),
		AlertsStream(StreamLimits{}),
		DeadLetterStream(StreamLimits{}),
	}
}

func workQueue(name, subject, desc string, l StreamLimits) jetstream.StreamConfig {
	cfg := base(name, subject, desc, l, DefaultEventLimits)
	cfg.Retention = jetstream.WorkQueuePolicy
	return cfg
}

func limitsStream(name, subject, desc string, l, def StreamLimits) jetstream.StreamConfig {
	cfg := base(name, subject, desc, l, def)
	cfg.Retention = jetstream.LimitsPolicy
	return cfg
}

func base(name, subject, desc string, l, def StreamLimits) jetstream.StreamConfig {
	if l.MaxAge == 0 {
		l.MaxAge = def.MaxAge
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = def.MaxBytes
	}
	if l.Replicas == 0 {
		l.Replicas = 1
	}
	// JetStream refuses a duplicate window longer than MaxAge.
	if l.Duplicates > l.MaxAge {
		l.Duplicates = l.MaxAge
	}
	cfg := jetstream.StreamConfig{
		Name:        name,
		Description: desc,
		Subjects:    []string{subject},
		MaxAge:      l.MaxAge,
		MaxBytes:    l.MaxBytes,
		Duplicates:  l.Duplicates,
		Replicas:    l.Replicas,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
	}
	if l.Memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	return cfg
}
