package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
)

// format is a compiled rule output: literal text and %field tokens, as
// libsinsp's event formatter (eventformatter.cpp, set_format) splits it.
type format struct {
	toks []fmtToken
	// keys are the output_fields entries: every plain field the output
	// names, including the ones inside transformers. Falco's formatter
	// leaves the transformed values out of its JSON (its
	// m_resolve_transformed_fields is false and Falco never sets it), so
	// %tolower(proc.name) contributes the key proc.name only.
	keys []fmtKey
}

type fmtToken struct {
	lit   string
	get   func(c *fields.Ctx) (fields.Value, bool) // nil for literal text
	f     *fields.Field
	typ   fields.Type // after transformers
	trans bool
	width int // %12field pads or cuts to 12 bytes
}

type fmtKey struct {
	key string // the field as libsinsp spells it: name[arg]
	f   *fields.Field
}

// maxWidth bounds %NNNfield widths.
const maxWidth = 1 << 16

// formatError is a bad output token at byte offset at of the output.
type formatError struct {
	at   int
	item string
	err  error
}

func (e *formatError) Error() string { return e.err.Error() }
func (e *formatError) Unwrap() error { return e.err }

// compileFormat splits an output on '%' tokens the way libsinsp does.
// A leading '*' is the formatter's "print even when values are missing"
// flag: Falco adds it to every rule output, so it is never printed. A
// token is '%', an optional width, then a field (name, optional [arg])
// or a transformer around one (tolower, toupper, b64, basename, len,
// nested, no blank before the '('). Like libsinsp, the longest prefix of
// the rest of the text that parses and names a known field is taken,
// so "%proc.nameand" is proc.name followed by "and". A '%' that starts
// no field ("100% sure", "%%", "%(proc.name)", "%val(proc.name)") is an
// error, as in Falco: outputs have no escape for a literal '%'.
func (cp *compiler) compileFormat(s string) (*format, error) {
	f := &format{}
	seen := map[string]bool{}
	var err error
	i := 0
	if strings.HasPrefix(s, "*") {
		i = 1
	}
	lit := i
	for ; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i > lit {
			f.toks = append(f.toks, fmtToken{lit: s[lit:i]})
		}
		if strings.HasPrefix(s[i:], containerInfo) {
			// Dropped from Falco's outputs with the container plugin;
			// compile warns about it.
			lit = i + len(containerInfo)
			i = lit - 1
			continue
		}
		if i == len(s)-1 {
			return nil, &formatError{at: i, item: "%", err: errors.New("invalid formatting syntax: formatting cannot end with a %")}
		}
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == len(s) {
			return nil, &formatError{at: i, item: s[i:], err: errors.New("invalid formatting syntax: formatting cannot end with a number")}
		}
		width := 0
		if j > i+1 {
			width, err = strconv.Atoi(s[i+1 : j])
		}
		if err != nil || width > maxWidth {
			// libsinsp would overflow its int or fail to allocate; a typo
			// must not make every alert of the rule megabytes long.
			return nil, &formatError{at: i + 1, item: s[i+1 : j], err: fmt.Errorf("invalid formatting syntax: width %s is larger than %d", s[i+1:j], maxWidth)}
		}
		tok, n, err := compileToken(s[j:])
		if err != nil {
			return nil, &formatError{at: j, item: s[j:min(len(s), j+40)], err: err}
		}
		tok.width = width
		f.toks = append(f.toks, tok)
		if !seen[tok.f.String()] {
			seen[tok.f.String()] = true
			f.keys = append(f.keys, fmtKey{key: fieldKey(tok.f), f: tok.f})
		}
		lit = j + n
		i = lit - 1
	}
	if lit < len(s) {
		f.toks = append(f.toks, fmtToken{lit: s[lit:]})
	}
	return f, nil
}

// compileToken compiles the field or transformer at the start of s and
// returns it with the number of bytes it takes. libsinsp tries the whole
// rest of the output, then ever shorter prefixes of it, until one parses
// and compiles; the error, when none does, is the one of the longest
// attempt, which names the field as written.
func compileToken(s string) (fmtToken, int, error) {
	var first error
	for size := len(s); size > 0; size-- {
		fr, n, err := parseFieldOrTransformer(s[:size])
		if err == nil {
			var tok fmtToken
			tok, err = tokenFor(fr)
			if err == nil {
				return tok, n, nil
			}
		}
		if first == nil {
			first = err
		}
	}
	return fmtToken{}, 0, first
}

func tokenFor(fr *fieldRef) (fmtToken, error) {
	f, err := fields.Lookup(fr.name, fr.arg, fr.hasArg)
	if err != nil {
		return fmtToken{}, err
	}
	if f.FilterOnly() {
		return fmtToken{}, fmt.Errorf("field %s: %w", f, fields.ErrFilterOnly)
	}
	get, typ, err := transformed(f, fr.trans)
	if err != nil {
		return fmtToken{}, err
	}
	return fmtToken{get: get, f: f, typ: typ, trans: len(fr.trans) > 0}, nil
}

// parseFieldOrTransformer is libsinsp's parse_field_or_transformer: a
// field name with an optional [arg], or a transformer "name(" wrapping
// one. It returns how many bytes of s it read; text after that is not
// looked at.
func parseFieldOrTransformer(s string) (fr *fieldRef, n int, err error) {
	p := &parser{in: s}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			fr, n, err = nil, 0, errors.New(pe.msg)
		}
	}()
	if name, ok := p.fieldName(); ok {
		fr = p.fieldRemainder(name, 0)
	} else if t, ok := p.strList(transformers); ok {
		fr = p.transformerRemainder(t[:len(t)-1], 0)
	} else {
		p.fail("expected a field or a transformer: 'tolower', 'toupper', 'b64', 'basename', 'len'")
	}
	return fr, p.pos, nil
}

// fieldKey is the output_fields key of f: libsinsp's as_string of the
// field, which quotes an argument holding blanks, quotes or backslashes.
func fieldKey(f *fields.Field) string {
	if !f.HasArg {
		return f.Name
	}
	return f.Name + "[" + escapeArg(f.Arg) + "]"
}

// escapeArg is libsinsp's escape_str: C escapes, and the whole text in
// double quotes when anything needed escaping or is a blank or a quote.
func escapeArg(s string) string {
	var b strings.Builder
	quote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case ' ', '\'':
			b.WriteByte(c)
		default:
			b.WriteByte(c)
			continue
		}
		quote = true
	}
	if quote {
		return `"` + b.String() + `"`
	}
	return b.String()
}

// timeFields are the evt.time forms whose JSON value in output_fields is
// the event time in ns, not the text (libsinsp extract_as_js).
var timeFields = map[string]bool{"evt.time": true, "evt.time.s": true, "evt.time.iso8601": true,
	"evt.datetime": true, "evt.datetime.s": true}

// render returns the output text and the typed values of its fields.
func (f *format) render(c *fields.Ctx) (string, map[string]any) {
	var b strings.Builder
	for _, t := range f.toks {
		if t.get == nil {
			b.WriteString(t.lit)
			continue
		}
		text := fields.NA
		if v, ok := t.get(c); ok {
			text = t.text(v)
		}
		if t.width > 0 {
			if len(text) > t.width {
				text = text[:t.width]
			} else {
				text += strings.Repeat(" ", t.width-len(text))
			}
		}
		b.WriteString(text)
	}
	vals := make(map[string]any, len(f.keys)+1)
	for _, k := range f.keys {
		vals[k.key] = jsonValue(k.f, c)
	}
	// Falco formats the "%evt.time: " prefix with a formatter of its own
	// and merges that formatter's fields into output_fields.
	vals["evt.time"] = eventTime(c)
	return b.String(), vals
}

func (t *fmtToken) text(v fields.Value) string {
	if t.trans && t.typ != t.f.Type { // len() turns text into a number
		return strconv.FormatUint(uint64(v.Num), 10)
	}
	return t.f.Format(v)
}

func jsonValue(f *fields.Field, c *fields.Ctx) any {
	v, ok := f.Extract(c)
	if !ok {
		return nil
	}
	if timeFields[f.Name] {
		return eventTime(c)
	}
	return f.JSON(v)
}
