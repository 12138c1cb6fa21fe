package rules

import (
	"fmt"
	"sync"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// File is one rule file. Name is used in issue locations.
type File struct {
	Name string
	Data []byte
}

// Matching says how many rules may match one event.
type Matching uint8

// Falco's rule_matching settings.
const (
	MatchFirst Matching = iota // stop at the first matching rule (Falco's default)
	MatchAll                   // report every matching rule
)

// Options tune [Compile].
type Options struct {
	// Hostname is the alert's hostname when the event's context has none.
	Hostname string
	// Matching is Falco's rule_matching: first (default) or all.
	Matching Matching
	// Location is the time zone of the time printed at the start of
	// Alert.Output. Falco prints local time; nil means UTC.
	Location *time.Location
}

// Rule is one compiled rule.
type Rule struct {
	Name     string
	Desc     string
	Priority schema.Priority
	Tags     []string
	Source   string
	Enabled  bool
	// Condition is the rule's condition with appended parts and its
	// exceptions, before macro and list substitution.
	Condition string
	Output    string
	// EventTypes are the types the condition can match, in type order;
	// nil means every type.
	EventTypes []schema.EventType

	match  pred
	guards guardSet
	typed  map[schema.EventType]entry // match specialised per indexed type
	format *format
	index  int
}

// Engine holds compiled rules. It is immutable and safe for concurrent
// use by many goroutines.
type Engine struct {
	opts     Options
	rules    []*Rule
	byType   [][]entry // enabled rules per event type
	anyType  []entry   // enabled rules, for events without a type
	untyped  []entry   // enabled rules that apply to every type
	warnings Issues
	states   sync.Pool // *evalState, sized for the macro count
}

// Rules returns every loaded rule, enabled or not, in load order.
func (e *Engine) Rules() []*Rule { return e.rules }

// Warnings returns what [Compile] found suspicious but not wrong: rules
// without an evt.type restriction, deprecated keys, rules skipped for
// unknown fields.
func (e *Engine) Warnings() []Issue { return e.warnings }

// Eval checks the event in c against the enabled rules indexed for its
// event type, in load order, and calls emit for each match (only the
// first with [MatchFirst]). It does not allocate and is safe for
// concurrent use with distinct Ctx values.
func (e *Engine) Eval(c *fields.Ctx, emit func(*Rule)) {
	cands := e.candidates(c)
	if len(cands) == 0 {
		return
	}
	s := e.states.Get().(*evalState)
	s.c = c
	s.next()
	for i := range cands {
		en := &cands[i]
		// A guard macro some earlier rule found false decides this rule
		// without running it: the rule's condition implies the macro.
		if s.falseGuards.meets(&en.guards) {
			continue
		}
		if en.match(s) {
			emit(en.rule)
			if e.opts.Matching == MatchFirst {
				break
			}
		}
	}
	s.c = nil
	e.states.Put(s)
}

// entry is a rule in the per-type index with its predicate for that
// type and the guards of that predicate (see cexpr.guards).
type entry struct {
	rule   *Rule
	match  pred
	guards guardSet
}

func (e *Engine) candidates(c *fields.Ctx) []entry {
	if c.Flat != nil {
		s, ok := c.Flat["evt.type"].(string)
		if !ok {
			return e.anyType
		}
		t, ok := schema.EventTypeByName(s)
		if !ok {
			// A type Peregrine does not model can still match the rules
			// without an evt.type restriction.
			return e.untyped
		}
		return e.byType[t]
	}
	if c.Event == nil {
		return nil
	}
	if int(c.Event.Type) < len(e.byType) {
		return e.byType[c.Event.Type]
	}
	return e.untyped
}

// Alert formats a match like Falco: Output is the text line
// "HH:MM:SS.nnnnnnnnn: Priority message" with each %field replaced by its
// value (<NA> when it has none) and OutputFields holds the typed value of
// every plain field the output names, those inside transformers included
// (nil when it has none), plus evt.time in ns, as Falco's JSON output has.
func (e *Engine) Alert(r *Rule, c *fields.Ctx) schema.Alert {
	ts := eventTime(c)
	loc := e.opts.Location
	if loc == nil {
		loc = time.UTC
	}
	host := c.Hostname
	if host == "" {
		host = e.opts.Hostname
	}
	msg, vals := r.format.render(c)
	t := time.Unix(0, ts).In(loc)
	line := t.Format("15:04:05.000000000") + ": " + r.Priority.String() + " " + msg
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	return schema.Alert{Hostname: host, Output: line, OutputFields: vals, Priority: r.Priority,
		Rule: r.Name, Source: r.Source, Tags: tags, Time: time.Unix(0, ts).UTC()}
}

func eventTime(c *fields.Ctx) int64 {
	if c.Flat != nil {
		switch v := c.Flat["evt.rawtime"].(type) {
		case int64:
			return v
		case int:
			return int64(v)
		}
		return 0
	}
	if c.Event != nil {
		return c.Event.Ts
	}
	return 0
}

// ParseMatching reads Falco's rule_matching setting: "first" or "all".
func ParseMatching(s string) (Matching, error) {
	switch s {
	case "first", "":
		return MatchFirst, nil
	case "all":
		return MatchAll, nil
	}
	return 0, fmt.Errorf("rule_matching %q: want first or all", s)
}
