// Package schema is the one contract between Peregrine's stages.
//
// The collector publishes [Batch] values on [RawSubject]; the enricher adds
// [Container] context and republishes them on [EnrichedSubject]; the
// evaluator reads them and publishes [Alert] values on [AlertSubject]. Every
// event type, its Falco parameter table, the wire version and every NATS
// subject is declared here and nowhere else.
//
// On the bus a batch is msgpack in array form written by hand-rolled
// encoders (see [Batch.EncodeMsgpack]) and read by a reader that walks the
// msgpack bytes itself, with no reflection and a handful of allocations per
// batch (see BENCHMARKS.md); [Unmarshal] rejects an unknown [Version] or a
// truncated batch with an error wrapping [ErrVersion] or [ErrTruncated]. For people and tests, [Record] is a self-contained JSON
// view of one event.
package schema
