package fields

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Field is a field reference resolved once at compile time ("proc.aname"
// with arg "2"). It is immutable and safe for concurrent use.
type Field struct {
	Name   string // field name as written: "proc.aname", "evt.arg.flags"
	Arg    string // text inside [...], when HasArg
	HasArg bool
	Type   Type

	spelling   string
	multi      bool
	multiMode  MultiMode
	filterOnly bool
	ext        func(c *Ctx) (Value, bool)
	all        func(c *Ctx, fn func(Value) bool) // Multi fields only
	match      func(c *Ctx, pred func(Value) bool) (matched, present bool)
	exists     func(c *Ctx) bool // nil: Extract's ok
}

// argMode says whether a field takes a [...] argument.
type argMode uint8

const (
	argNone     argMode = iota // "proc.name"
	argOptional                // "proc.aname" or "proc.aname[2]"
	argRequired                // "container.label[k]"
)

// def describes one field name. build fills in f.ext (and f.all for Multi
// fields) and may reject the argument with an error wrapping ErrBadArg.
type def struct {
	typ        Type
	arg        argMode
	filterOnly bool
	build      func(f *Field) error
}

// Lookup resolves a field reference. name is the field's dotted name as it
// appears in a rule ("proc.aname", "evt.arg.flags"); arg is the text inside
// brackets when hasArg ("2" for proc.aname[2]). It returns an error
// wrapping [ErrUnknownField] or [ErrBadArg] that names the field.
func Lookup(name, arg string, hasArg bool) (*Field, error) {
	f := &Field{Name: name, Arg: arg, HasArg: hasArg, spelling: name}
	if hasArg {
		f.spelling = name + "[" + arg + "]"
	}
	d, ok := registry[name]
	if !ok {
		var err error
		d, err = dynamicDef(name)
		if err != nil {
			return nil, err
		}
		if d == nil {
			return nil, fmt.Errorf("field %s: %w", f.spelling, ErrUnknownField)
		}
	}
	switch {
	case d.arg == argNone && hasArg:
		return nil, fmt.Errorf("field %s: %w: %s takes no argument", f.spelling, ErrBadArg, name)
	case d.arg == argRequired && !hasArg:
		return nil, fmt.Errorf("field %s: %w: %s needs an argument in [...]", f.spelling, ErrBadArg, name)
	}
	f.Type = d.typ
	f.filterOnly = d.filterOnly
	if err := d.build(f); err != nil {
		return nil, fmt.Errorf("field %s: %w", f.spelling, err)
	}
	return f, nil
}

// MustLookup is Lookup for field references known to be valid; it panics
// on error. Meant for tests and tables of built-in fields.
func MustLookup(spelling string) *Field {
	name, arg, hasArg := Split(spelling)
	f, err := Lookup(name, arg, hasArg)
	if err != nil {
		panic(err)
	}
	return f
}

// Split splits a full spelling "proc.aname[2]" into name, arg and hasArg.
func Split(spelling string) (name, arg string, hasArg bool) {
	if i := strings.IndexByte(spelling, '['); i > 0 && strings.HasSuffix(spelling, "]") {
		return spelling[:i], spelling[i+1 : len(spelling)-1], true
	}
	return spelling, "", false
}

// Names returns every fixed field name Lookup knows, sorted; the dynamic
// forms evt.arg.NAME and evt.rawarg.NAME are not listed.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// String returns the full spelling, e.g. "proc.aname[2]".
func (f *Field) String() string { return f.spelling }

// Extract returns the value of f for the event in c; false means the
// field has no value (every comparison is false, outputs print [NA]).
// For a Multi field it returns the output form.
func (f *Field) Extract(c *Ctx) (Value, bool) {
	if c.Flat != nil {
		return f.flat(c)
	}
	return f.ext(c)
}

// EventExtractor returns the function Extract runs for a Ctx whose Flat
// is nil: an engine that checks Flat once per event saves a call per
// extraction. Calling it with a Flat Ctx reads the (absent) event and
// may panic.
func (f *Field) EventExtractor() func(c *Ctx) (Value, bool) { return f.ext }

// Exists reports whether f yields a value, Falco's "exists" operator. It
// differs from Extract's ok only for the filter-only fd.ip, fd.port and
// fd.net, which exist whenever the event has an fd.
func (f *Field) Exists(c *Ctx) bool {
	if c.Flat == nil && f.exists != nil {
		return f.exists(c)
	}
	_, ok := f.Extract(c)
	return ok
}

// Multi reports whether f can have several values for one event; the
// engine must then compare with [Field.Match] or [Field.ExtractAll] as
// [Field.MultiMode] says.
func (f *Field) Multi() bool { return f.multi }

// ExtractAll calls fn with every value of f, stopping when fn returns
// false. For a field that is not Multi it calls fn at most once.
func (f *Field) ExtractAll(c *Ctx, fn func(Value) bool) {
	if c.Flat != nil {
		f.flatAll(c, fn)
		return
	}
	if f.all != nil {
		f.all(c, fn)
		return
	}
	if v, ok := f.ext(c); ok {
		fn(v)
	}
}

// Match reports whether some value of f satisfies pred (matched) and
// whether f yielded any value at all (present). With pred the operator's
// test, a comparison is matched, except "!=" on a [MultiEndpoints] field,
// which is present && !matched with pred testing equality. For a field
// that is not Multi it tests the single value. When pred is built once
// (at rule compile time), Match does not allocate, unlike a closure
// handed to ExtractAll.
func (f *Field) Match(c *Ctx, pred func(Value) bool) (matched, present bool) {
	if c.Flat == nil {
		if f.match != nil {
			return f.match(c, pred)
		}
		v, ok := f.ext(c)
		if !ok {
			return false, false
		}
		return pred(v), true
	}
	return f.flatMatch(c, pred)
}

// flatMatch is Match over a hand-written event; it is separate so that
// the closure's captured results do not make Match allocate.
func (f *Field) flatMatch(c *Ctx, pred func(Value) bool) (matched, present bool) {
	f.flatAll(c, func(v Value) bool {
		present = true
		matched = pred(v)
		return !matched
	})
	return matched, present
}

// MultiMode says how a comparison combines the values of a Multi field.
type MultiMode uint8

const (
	// MultiAny: every operator, "!=" included, holds when some value
	// satisfies it (proc.aname and the other ancestor fields without an
	// index: "proc.aname != sh" means some ancestor is not sh).
	MultiAny MultiMode = iota
	// MultiEndpoints: "=", "in" and the other operators hold when some
	// value satisfies them, but "!=" holds only when values exist and none
	// is equal (fd.ip, fd.port, fd.net: both ends of a socket).
	MultiEndpoints
	// MultiList: a true list field (fd.types): "in" holds when every
	// value is in the set, "intersects" when some value is.
	MultiList
)

// MultiMode tells the engine how to combine the values of a Multi field;
// it is MultiAny for fields that are not Multi.
func (f *Field) MultiMode() MultiMode { return f.multiMode }

// FilterOnly reports whether f may appear in conditions only (fd.ip,
// fd.net, fd.port, fd.cnet ...); an output using it is an error.
func (f *Field) FilterOnly() bool { return f.filterOnly }

// index parses f.Arg as a non-negative index.
func (f *Field) index() (int, error) {
	n, err := strconv.Atoi(f.Arg)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q is not a non-negative index", ErrBadArg, f.Arg)
	}
	return n, nil
}

// fixed is a build func for fields that ignore their argument.
func fixed(ext func(c *Ctx) (Value, bool)) func(f *Field) error {
	return func(f *Field) error { f.ext = ext; return nil }
}

// registry maps every fixed field name to its definition. It is built
// from the per-family tables and never modified.
var registry = func() map[string]*def {
	m := map[string]*def{}
	for _, fam := range []map[string]*def{evtFields(), procFields(), userFields(), fdFields(), containerFields(), k8sFields()} {
		for n, d := range fam {
			if _, dup := m[n]; dup {
				panic("fields: duplicate field " + n)
			}
			m[n] = d
		}
	}
	return m
}()

func badArg(why string) error {
	return fmt.Errorf("%w: %s", ErrBadArg, why)
}
