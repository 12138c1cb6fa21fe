package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Template is a parsed message template: Go text/template over a
// *schema.Alert, so {{.Rule}}, {{.Priority}}, {{.Output}}, {{.Hostname}},
// {{.Time}}, {{.Tags}} and {{index .OutputFields "proc.name"}} work as in
// Falcosidekick. Extra functions:
//
//	field "proc.name"   the output field as text, "" when absent or null
//	upper, lower, trim  strings.ToUpper, ToLower, TrimSpace
//	join ", " .Tags     strings.Join
//	json .OutputFields  compact JSON
//	fields              output_fields as "key=value" pairs sorted by key
//
// A Template is safe for concurrent use.
type Template struct {
	name string
	t    *template.Template
}

// ParseTemplate parses text; name (e.g. "slack.messageformat") names the
// template in errors.
func ParseTemplate(name, text string) (*Template, error) {
	var fieldsOf = func(a *schema.Alert) string { return FormatFields(a.OutputFields) }
	t, err := template.New(name).Option("missingkey=zero").Funcs(template.FuncMap{
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"trim":  strings.TrimSpace,
		"join":  func(sep string, s []string) string { return strings.Join(s, sep) },
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"field":  func(a *schema.Alert, key string) string { return FieldString(a.OutputFields[key]) },
		"fields": fieldsOf,
	}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return &Template{name: name, t: t}, nil
}

// Render executes the template over a.
func (t *Template) Render(a *schema.Alert) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, a); err != nil {
		return "", fmt.Errorf("template %s: %w", t.name, err)
	}
	return b.String(), nil
}

// FieldString formats an output_fields value as Falco prints it in text:
// null is "<NA>", strings as they are, numbers in full.
func FieldString(v any) string {
	switch x := v.(type) {
	case nil:
		return "<NA>"
	case string:
		return x
	case json.Number:
		return x.String()
	case fmt.Stringer:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = FieldString(e)
		}
		return "(" + strings.Join(parts, ",") + ")"
	}
	return fmt.Sprint(v)
}

// FormatFields formats output_fields as "k1=v1 k2=v2" sorted by key, for
// targets that show one line.
func FormatFields(fields map[string]any) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(FieldString(fields[k]))
	}
	return b.String()
}
