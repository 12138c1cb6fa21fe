// Package fields adds the notifier's global customfields and
// templatedfields to an alert's output_fields, as Falcosidekick does.
package fields

import (
	"bytes"
	"fmt"
	"sort"
	"text/template"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Enricher adds static and templated fields to alerts. It is safe for
// concurrent use.
type Enricher struct {
	custom    map[string]string
	templated []templated
}

type templated struct {
	key string
	t   *template.Template
}

// New parses the templated fields. Each is a Go text/template executed over
// the alert's output_fields map, as in Falcosidekick:
// `{{ index . "k8s.ns.name" }}`. The error names the bad field.
func New(custom, templatedFields map[string]string) (*Enricher, error) {
	e := &Enricher{custom: custom}
	keys := make([]string, 0, len(templatedFields))
	for k := range templatedFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t, err := template.New(k).Option("missingkey=zero").Parse(templatedFields[k])
		if err != nil {
			return nil, fmt.Errorf("templatedfields %s: %w", k, err)
		}
		e.templated = append(e.templated, templated{key: k, t: t})
	}
	return e, nil
}

// Apply sets the custom fields, then the templated ones (which see the
// custom fields), in a's output_fields. A template that fails leaves its
// field unset and is reported in the returned error; the others still apply.
func (e *Enricher) Apply(a *schema.Alert) error {
	if e == nil || (len(e.custom) == 0 && len(e.templated) == 0) {
		return nil
	}
	if a.OutputFields == nil {
		a.OutputFields = make(map[string]any, len(e.custom)+len(e.templated))
	}
	for k, v := range e.custom {
		a.OutputFields[k] = v
	}
	var firstErr error
	var b bytes.Buffer
	for _, tf := range e.templated {
		b.Reset()
		if err := tf.t.Execute(&b, a.OutputFields); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("templatedfields %s: %w", tf.key, err)
			}
			continue
		}
		a.OutputFields[tf.key] = b.String()
	}
	return firstErr
}
