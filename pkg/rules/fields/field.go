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
	filterOnly bool
	ext        func(c *Ctx) (Value, bool)
	all        func(c *Ctx, fn func(Value) bool) // Multi fields only
	exists     func(c *Ctx) bool                 // nil: Extract's ok
}

// argMode says whether a field takes a [...] argument.
type argMode uint8

const (
	argNone     argMode = iota // "proc.name"
	argOptional                // "proc.aname" or "proc.aname[2]"
	argRequired                // "proc.env[HOME]"... no, env is optional; "container.label[k]"
)

// def describes one field name. build fills in f.ext (and f.all for Multi
// fields) and may reject the argument with an error wrapping ErrBadArg.
type def struct {
	typ        Type
	arg        argMode
	filterOnly bool
	desc       string
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
// engine must then compare with [Field.ExtractAll].
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
