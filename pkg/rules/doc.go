// Package rules loads Falco rule files and evaluates events against them.
//
// [Compile] reads rule files (rule, macro, list, required_engine_version,
// required_plugin_versions items; override/append semantics as in Falco's
// rule loader, later files overriding earlier ones), substitutes lists and
// macros, turns exceptions into conditions and compiles every condition once
// into a tree of closures over [fields.Field] extractors. Rules are indexed by
// the event types their condition can match, derived like Falco does from
// evt.type comparisons under and/or/not, so [Engine.Eval] checks an event only
// against the rules that can match it and does not allocate.
//
// Every problem found while compiling is reported, not just the first: the
// error returned by [Compile] is an [Issues] whose lines read
// "file:line:col: message". Positions inside a condition point at the
// offending token in the rule file.
//
// The package does no I/O and never logs; an [Engine] is immutable after
// [Compile] and safe for concurrent use.
package rules
