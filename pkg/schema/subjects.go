package schema

import (
	"strconv"
	"strings"
)

// Stream names and subjects of the bus. Nothing else declares them.
const (
	StreamRaw        = "EVENTS_RAW"
	StreamEnriched   = "EVENTS_ENRICHED"
	StreamAlerts     = "ALERTS"
	StreamDeadLetter = "DEADLETTER"

	SubjectRawAll        = "events.raw.>"
	SubjectEnrichedAll   = "events.enriched.>"
	SubjectAlertsAll     = "alerts.>"
	SubjectDeadLetterAll = "deadletter.>"
)

// Header names carried on bus messages.
const (
	HeaderMsgID         = "Nats-Msg-Id"
	HeaderSchemaVersion = "Peregrine-Schema"
	HeaderError         = "Peregrine-Error"   // dead letters: why it was rejected
	HeaderOrigSubject   = "Peregrine-Subject" // dead letters: where it came from
	HeaderOrigMsgID     = "Peregrine-Msg-Id"  // dead letters: the original Nats-Msg-Id, for replay

	// Alerts. The evaluator's Nats-Msg-Id on an alert is stable across its
	// retries (batch msg id, event index, rule), so outputs deduplicate by it.
	HeaderAlertID      = "Peregrine-Alert-Id"      // an alert's first id, kept through dead letter and replay
	HeaderOutput       = "Peregrine-Output"        // the notifier output a dead letter belongs to
	HeaderDeliveries   = "Peregrine-Deliveries"    // attempts a dead letter had
	HeaderReplayOutput = "Peregrine-Replay-Output" // a replayed alert, for that output only
	HeaderTest         = "Peregrine-Test"          // the test alert of the notifier's POST /test
)

// RawSubject is the subject a collector on node publishes to.
func RawSubject(node string) string { return "events.raw." + SubjectToken(node) }

// EnrichedSubject is the subject the enricher publishes node's events to.
func EnrichedSubject(node string) string { return "events.enriched." + SubjectToken(node) }

// AlertSubject is alerts.<priority>.<rule_slug>, priority lower-case.
func AlertSubject(p Priority, rule string) string {
	return "alerts." + strings.ToLower(p.String()) + "." + RuleSlug(rule)
}

// DeadLetterSubject is where stage puts messages it cannot process. A
// dotted stage ("notifier.slack") gives one token per part:
// deadletter.notifier.slack.
func DeadLetterSubject(stage string) string {
	parts := strings.Split(stage, ".")
	for i, p := range parts {
		parts[i] = SubjectToken(p)
	}
	return "deadletter." + strings.Join(parts, ".")
}

// RuleSlug lower-cases name and replaces each run of characters outside
// [a-z0-9] with one "_": "Read sensitive file untrusted" becomes
// "read_sensitive_file_untrusted".
func RuleSlug(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	inRun := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
			b.WriteByte(c)
			inRun = false
			continue
		}
		if !inRun {
			b.WriteByte('_')
			inRun = true
		}
	}
	return b.String()
}

// SubjectToken makes s safe as one subject token: characters NATS gives a
// meaning to ('.', '*', '>', white space) become '_'. An empty s is "_".
func SubjectToken(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// BatchMsgID is the Nats-Msg-Id of a batch: the same batch retried has the
// same id, so JetStream drops the duplicate.
func BatchMsgID(b *Batch) string {
	return b.Node + "-" + b.BootID + "-" + strconv.FormatUint(b.Seq, 10)
}
