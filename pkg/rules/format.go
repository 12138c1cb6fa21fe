package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
)

// format is a compiled rule output: literal text and %field tokens, as
// libsinsp's event formatter splits it.
type format struct {
	toks []fmtToken
}

type fmtToken struct {
	lit   string
	f     *fields.Field // nil for literal text
	key   string        // output_fields key: the field as written
	width int           // %12field pads or cuts to 12 bytes
}

func isFieldChar(c byte) bool { return isIdent(c) || c == '.' }

// compileFormat splits an output on '%' tokens. A token is an optional
// width, a dotted field name and an optional [argument].
func (cp *compiler) compileFormat(s string) (*format, error) {
	f := &format{}
	lit := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i > lit {
			f.toks = append(f.toks, fmtToken{lit: s[lit:i]})
		}
		if i == len(s)-1 {
			return nil, fmt.Errorf("formatting cannot end with a %%")
		}
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		width, _ := strconv.Atoi(s[i+1 : j])
		start := j
		for j < len(s) && isFieldChar(s[j]) {
			j++
		}
		for j > start && s[j-1] == '.' {
			j--
		}
		name := s[start:j]
		arg, hasArg := "", false
		if j < len(s) && s[j] == '[' {
			if end := strings.IndexByte(s[j:], ']'); end > 0 {
				arg, hasArg = s[j+1:j+end], true
				j += end + 1
			}
		}
		if name == "" {
			return nil, fmt.Errorf("invalid formatting token %q", s[i:min(len(s), i+20)])
		}
		fld, err := fields.Lookup(name, arg, hasArg)
		if err != nil {
			return nil, err
		}
		if fld.FilterOnly() {
			return nil, fmt.Errorf("field %s: %w", fld, fields.ErrFilterOnly)
		}
		f.toks = append(f.toks, fmtToken{f: fld, key: fld.String(), width: width})
		lit = j
		i = j - 1
	}
	if lit < len(s) {
		f.toks = append(f.toks, fmtToken{lit: s[lit:]})
	}
	return f, nil
}

// render returns the output text and the typed values of its fields.
func (f *format) render(c *fields.Ctx) (string, map[string]any) {
	var b strings.Builder
	vals := map[string]any{}
	for _, t := range f.toks {
		if t.f == nil {
			b.WriteString(t.lit)
			continue
		}
		text := fields.NA
		if v, ok := t.f.Extract(c); ok {
			text = t.f.Format(v)
			vals[t.key] = t.f.JSON(v)
		} else {
			vals[t.key] = nil
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
	return b.String(), vals
}
