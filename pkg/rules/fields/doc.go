// Package fields extracts Falco filter fields ("proc.name", "fd.sip",
// "evt.arg.flags", "proc.aname[2]") from Peregrine events.
//
// A rule compiler resolves each field reference once with [Lookup], which
// validates the name and argument and precomputes an extractor; per event
// the evaluator fills a [Ctx] (see [NewCtx] and [Ctx.Reset]) and calls
// [Field.Extract] for every field a condition reads. Extraction follows
// libsinsp as described in the team's FIELDS.md: a field can yield no value
// (ok == false), which is distinct from an empty string; then every
// comparison is false and outputs print [NA].
//
// Multi-valued fields ([Field.Multi]): proc.aname and the other ancestor
// fields without an index, the both-endpoint fd.ip, fd.port and fd.net, and
// list fields such as fd.types. In conditions the engine iterates them with
// [Field.ExtractAll]: "=" and "in" hold when any value matches, "!=" holds
// when at least one value exists and none matches. [Field.Extract] of a
// Multi field returns its output form (proc.aname: the ancestors' names
// joined by spaces).
//
// Extraction does not allocate on the hot path: string fields return
// strings that already live in the batch, and derived strings (proc.cmdline,
// thread.cap_effective, evt.arg.flags ...) are built at most once per
// process or event and cached in the [Ctx]. A [Field] is immutable after
// Lookup and safe for concurrent use; a [Ctx] is not.
package fields
