package rules

import (
	"math/bits"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// evtSet is a set of event types, Falco's per-rule event code set.
type evtSet [2]uint64

var numTypes = len(schema.EventTypes()) + 1

func init() {
	if numTypes > 128 {
		panic("rules: evtSet holds 128 event types; schema has more")
	}
}

func allTypes() evtSet {
	var s evtSet
	for t := 0; t < numTypes; t++ {
		s[t/64] |= 1 << (t % 64)
	}
	return s
}

func typeSet(ts ...schema.EventType) evtSet {
	var s evtSet
	for _, t := range ts {
		s[t/64] |= 1 << (t % 64)
	}
	return s
}

func (s evtSet) and(o evtSet) evtSet { return evtSet{s[0] & o[0], s[1] & o[1]} }
func (s evtSet) or(o evtSet) evtSet  { return evtSet{s[0] | o[0], s[1] | o[1]} }
func (s evtSet) not() evtSet         { a := allTypes(); return evtSet{a[0] &^ s[0], a[1] &^ s[1]} }
func (s evtSet) all() bool           { return s == allTypes() }
func (s evtSet) count() int          { return bits.OnesCount64(s[0]) + bits.OnesCount64(s[1]) }

// list returns the set's types in order, or nil for every type.
func (s evtSet) list() []schema.EventType {
	if s.all() {
		return nil
	}
	out := []schema.EventType{}
	for t := 0; t < numTypes; t++ {
		if s[t/64]&(1<<(t%64)) != 0 {
			out = append(out, schema.EventType(t))
		}
	}
	return out
}
