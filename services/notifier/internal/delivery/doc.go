// Package delivery runs one output: it consumes the ALERTS stream through
// the output's own durable consumer (notifier-<output>) and hands each alert
// to the output until the target accepts it.
//
// Delivery model. Each output has its own durable consumer, so a slow or
// broken output never holds back the others, and notifier replicas sharing
// the durable share its alerts. An alert is acked only after the output's
// Send returned nil. A failed Send is retried by a nak with a delay that
// doubles from Options.Backoff up to Options.MaxBackoff; an error wrapping
// output.ErrPermanent, an alert that cannot be decoded, or the last of
// Options.MaxDeliver attempts, sends the alert to
// deadletter.notifier.<output> with the error in the Peregrine-Error header,
// then terminates it. The server-side MaxDeliver is unlimited, so an alert
// whose dead-letter publish fails is retried rather than dropped.
//
// Order. With Options.InFlight 1 (the default) the consumer's MaxAckPending
// is 1: the server hands over the next alert only once the previous one is
// acked or dead-lettered, so alerts reach the target in stream order, also
// across failures and restarts. With InFlight N, up to N alerts are sent at
// once and only their order of start is kept.
//
// Duplicates. An alert is delivered at least once: after a crash between
// the target's acceptance and the ack, it is delivered again after AckWait.
// Every Delivery carries the alert's stable id (its Nats-Msg-Id, or the
// Peregrine-Alert-Id header kept through dead-letter and replay), so a
// target that deduplicates by id (webhook: the X-Alert-Id header) sees it
// once.
package delivery
