package delivery

import (
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Headers the notifier reads and writes on alerts and dead letters, beside
// those of pkg/schema.
const (
	// HeaderAlertID keeps an alert's original id through dead-letter and
	// replay, where the message gets a new Nats-Msg-Id.
	HeaderAlertID = "Peregrine-Alert-Id"
	// HeaderOutput names the output a dead letter belongs to.
	HeaderOutput = "Peregrine-Output"
	// HeaderDeliveries is how many attempts a dead letter had.
	HeaderDeliveries = "Peregrine-Deliveries"
	// HeaderReplayOutput marks a replayed alert: only the named output
	// delivers it, the others ack it unseen.
	HeaderReplayOutput = "Peregrine-Replay-Output"
	// HeaderTest marks the test alert of POST /test: it bypasses every
	// output's filters.
	HeaderTest = "Peregrine-Test"
)

// Stage is the notifier's stage name in subjects and consumer names.
const Stage = "notifier"

// DeadLetterSubject is deadletter.notifier.<output>.
func DeadLetterSubject(outputName string) string {
	return schema.DeadLetterSubject(Stage) + "." + schema.SubjectToken(outputName)
}

// ConsumerName is the durable consumer of an output: notifier-<output>.
func ConsumerName(outputName string) string {
	return Stage + "-" + schema.SubjectToken(outputName)
}

// AlertID returns the stable id of an alert message: Peregrine-Alert-Id,
// else Nats-Msg-Id, else the stream and sequence (stable across
// redeliveries of that message).
func AlertID(h map[string][]string, md *jetstream.MsgMetadata) string {
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if id := get(HeaderAlertID); id != "" {
		return id
	}
	if id := get(schema.HeaderMsgID); id != "" {
		return id
	}
	if md == nil {
		return ""
	}
	return md.Stream + "-" + strconv.FormatUint(md.Sequence.Stream, 10)
}
