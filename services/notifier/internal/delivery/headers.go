package delivery

import (
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Headers the notifier reads and writes on alerts and dead letters; pkg/schema
// declares them.
const (
	HeaderAlertID      = schema.HeaderAlertID
	HeaderOutput       = schema.HeaderOutput
	HeaderDeliveries   = schema.HeaderDeliveries
	HeaderReplayOutput = schema.HeaderReplayOutput
	HeaderTest         = schema.HeaderTest
)

// Stage is the notifier's stage name in subjects and consumer names.
const Stage = "notifier"

// DeadLetterSubject is deadletter.notifier.<output>, the output name being
// one token.
func DeadLetterSubject(outputName string) string {
	return schema.DeadLetterSubject(Stage + "." + schema.SubjectToken(outputName))
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
