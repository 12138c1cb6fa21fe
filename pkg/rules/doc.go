// Package rules loads Falco rule files and evaluates events against them.
//
// [Compile] reads rule files (rule, macro, list, required_engine_version,
// required_plugin_versions items; override/append semantics as in Falco's
// rule loader, later files overriding earlier ones), substitutes lists and
// macros, turns exceptions into conditions and compiles every condition once
// into a tree of closures over [fields.Field] extractors. Rules are indexed by
// the event types their condition can match, derived like Falco does from
// evt.type comparisons under and/or/not, so [Engine.Eval] checks an event only
// against the rules that can match it and does not allocate. Each indexed
// rule is compiled once more per event type with its evt.type checks folded
// to constants. Macro results and field values are memoised per event, so
// a macro shared by many rules (open_read, proc_name_exists) is computed,
// and a field (fd.name, proc.name) extracted, once per event. Each rule
// knows the memoised macros its condition implies; once an earlier rule
// of the event found one of them false, the rule is skipped without
// running, and within an "and" the conjuncts that imply macros run first
// so that these shared results are known early. Checks are pure functions
// of the event, so none of this changes which rules match (see
// BENCHMARKS.md for the figures).
//
// Semantics follow Falco and libsinsp (see shared/FIELDS.md sections 0 and
// 9): a field with no value makes every comparison false; on multi-valued
// fields (proc.aname, fd.ip, fd.net, fd.port) a comparison holds when any
// value matches and "!=" when some value exists and none is equal; lists are
// substituted where a bare list name appears in a list value, with Falco's
// quoting of items that contain spaces; exceptions become
// "and not (...)" clauses built the way Falco's rule loader builds them.
//
// Outputs are split the way libsinsp's event formatter splits them: %field,
// %field[arg], a width (%12field), transformers (%toupper(proc.name),
// nested), a leading '*' that is never printed, the longest known field
// name winning when text follows a field without a blank. output_fields
// holds every plain field the output names (transformed values are left
// out, as Falco does) and evt.time, from Falco's "%evt.time: " prefix.
//
// Every problem found while compiling is reported, not just the first: the
// error returned by [Compile] is an [Issues] whose lines read
// "file:line:col: message". Positions inside a condition or an output
// point at the offending token in the rule file.
//
// The package does no I/O and never logs; an [Engine] is immutable after
// [Compile] and safe for concurrent use.
package rules
