// Package bus joins Peregrine's stages over NATS JetStream.
//
// [Connect] dials the server named by the NATS_URL environment variable (or
// [WithURL]) and keeps reconnecting for as long as the [Conn] lives.
// [Conn.EnsureStreams] creates or updates the four standard streams
// ([RawStream], [EnrichedStream], [AlertsStream], [DeadLetterStream]) whose
// names and subjects come from package schema.
//
// A [Publisher] publishes asynchronously with a bounded window of messages
// awaiting their ack. Every message carries a Nats-Msg-Id, so the retries the
// publisher makes after a lost ack or a reconnect are dropped as duplicates by
// JetStream; a message is only given up after a bounded number of retries,
// and then it is reported by [Publisher.Flush] and [PublisherOptions.OnFailure],
// never dropped silently.
//
// A [Consumer] pulls from a durable consumer in batches and hands each batch
// to a handler. Messages the handler does not settle itself are acked when it
// returns nil and negatively acked, with a growing delay, when it returns an
// error. A message that cannot be decoded goes to deadletter.<stage> with
// [Msg.DeadLetter], which keeps the original data and subject and records the
// reason in a header.
//
// [Inject] and [Extract] carry OpenTelemetry trace context in message
// headers with the W3C tracecontext format.
//
// The package never logs: asynchronous errors go to the callbacks the caller
// sets ([WithErrorHandler], [PublisherOptions.OnFailure],
// [WithConsumeErrorHandler]). Package bustest starts an embedded JetStream
// server for tests.
package bus
