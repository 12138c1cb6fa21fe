// Package fields extracts Falco filter fields ("proc.name", "fd.sip",
// "evt.arg.flags", "proc.aname[2]") from Peregrine events.
//
// A rule compiler resolves each field reference once with [Lookup], which
// validates the name and argument and precomputes an extractor; per event
// the evaluator points a [Ctx] at the event ([NewCtx], or [Ctx.Reset] to
// reuse one) and calls [Field.Extract] for every field a condition reads.
// Extraction follows libsinsp as described in the team's FIELDS.md: a
// field can yield no value (ok == false), which is distinct from an empty
// string; then every comparison is false and outputs print [NA].
//
// # Types and literals
//
// [Field.ParseLiteral] turns a condition's right-hand side into a [Value]
// of the field's [Type] (FIELDS.md section 9). Numbers live in Value.Num
// (TUint64 as bits: compare with [Type.Unsigned]); TIPNet fields yield
// addresses and their literals are networks, tested with [Value.Contains].
// [Field.Format] and [Field.JSON] give the output text and the typed
// output_fields value.
//
// # Multi-valued fields
//
// [Field.Multi] fields have several values per event: proc.aname,
// proc.aexe, proc.aexepath and proc.apid without an index (every ancestor
// from the parent up), the filter-only both-endpoint fd.ip, fd.port and
// fd.net, and fd.types. [Field.MultiMode] says how a comparison combines
// the values: for the ancestor fields every operator holds when some
// value satisfies it; for fd.ip/fd.port/fd.net "=" and "in" hold when
// some value matches but "!=" only when values exist and none is equal.
// [Field.Match] answers both questions (some value satisfies, any value
// present) without allocating; [Field.ExtractAll] iterates the values.
// [Field.Extract] of a Multi field returns its output form (proc.aname:
// the ancestors' names joined by spaces). fd.ip, fd.port and fd.net exist
// ([Field.Exists]) whenever the event has an fd, even a non-socket one.
//
// # Cost
//
// Extraction does not allocate on the hot path: string fields return
// strings that already live in the batch, and derived strings
// (proc.cmdline, thread.cap_effective, evt.arg.flags ...) are built at
// most once per process per batch, or once per event, and kept in the Ctx.
// A [Field] is immutable after Lookup and safe for concurrent use; a Ctx
// is not.
//
// # Known differences from Falco
//
//   - fd.cip.name, fd.sip.name, fd.lip.name and fd.rip.name never have a
//     value: Peregrine keeps no domain-name cache.
//   - fd.lip/fd.rip (and ports, nets) pick the local end by the socket's
//     role (connect: client, accept/listen: server), not by matching the
//     client address against the node's interfaces.
//   - fd.types lists only the event's own fd, not the process's fd table.
//   - proc.ppid.duration, thread.vtid and fd.name_changed depend on
//     Ancestor.StartTs, Event.Vtid and FD.NameChanged; from a collector
//     that leaves them zero they fall back to what the batch tells
//     (the parent's own Process entry, the main thread's vpid, false).
//   - evt.arg.uid and other UID/GID arguments are named only for the
//     event process's own (effective or login) uid and for root; other ids
//     are "<NA>". PID arguments are named when the process is in the batch.
//   - evt.rawarg of a flags parameter is the kernel value, not libsinsp's
//     PPM encoding; evt.time prints UTC.
package fields
