package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Priority is a Falco rule priority. Lower values are more severe.
type Priority int

// Priorities, as Falco orders them.
const (
	PriorityEmergency Priority = iota
	PriorityAlert
	PriorityCritical
	PriorityError
	PriorityWarning
	PriorityNotice
	PriorityInformational
	PriorityDebug
)

var priorityNames = [...]string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

// String returns the name Falco prints in alerts ("Warning").
func (p Priority) String() string {
	if p < 0 || int(p) >= len(priorityNames) {
		return "Debug"
	}
	return priorityNames[p]
}

// ParsePriority accepts Falco's spellings, case-insensitively, including
// "info" and "informational".
func ParsePriority(s string) (Priority, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "emergency":
		return PriorityEmergency, nil
	case "alert":
		return PriorityAlert, nil
	case "critical":
		return PriorityCritical, nil
	case "error":
		return PriorityError, nil
	case "warning", "warn":
		return PriorityWarning, nil
	case "notice":
		return PriorityNotice, nil
	case "informational", "info":
		return PriorityInformational, nil
	case "debug":
		return PriorityDebug, nil
	}
	return 0, fmt.Errorf("unknown priority %q", s)
}

// MarshalJSON writes the Falco name.
func (p Priority) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON reads any spelling ParsePriority accepts.
func (p *Priority) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("priority: %w", err)
	}
	v, err := ParsePriority(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// AlertTimeLayout is Falco's "time" format: RFC 3339 in UTC with exactly
// nine fractional digits.
const AlertTimeLayout = "2006-01-02T15:04:05.000000000Z"

// Alert is a Falco alert. Its JSON is Falco's json_output form; the fields
// are in alphabetical order because Falco's JSON library sorts keys, and
// output_fields is a map so encoding/json sorts it too. A field with no
// value is null in output_fields, as in Falco.
type Alert struct {
	Hostname     string         `json:"hostname"`
	Output       string         `json:"output"`
	OutputFields map[string]any `json:"output_fields"`
	Priority     Priority       `json:"priority"`
	Rule         string         `json:"rule"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Time         time.Time      `json:"-"`
}

type alertJSON struct {
	Hostname     string         `json:"hostname"`
	Output       string         `json:"output"`
	OutputFields map[string]any `json:"output_fields"`
	Priority     Priority       `json:"priority"`
	Rule         string         `json:"rule"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Time         string         `json:"time"`
}

// MarshalJSON writes the alert as Falco does. Call it directly (not through
// json.Marshal, which HTML-escapes the result again) to keep "<NA>" literal.
func (a Alert) MarshalJSON() ([]byte, error) {
	tags := a.Tags
	if tags == nil {
		tags = []string{}
	}
	fields := a.OutputFields
	if fields == nil {
		fields = map[string]any{}
	}
	// Falco writes "<NA>" and "->" literally: no HTML escaping.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(alertJSON{
		Hostname: a.Hostname, Output: a.Output, OutputFields: fields, Priority: a.Priority,
		Rule: a.Rule, Source: a.Source, Tags: tags, Time: a.Time.UTC().Format(AlertTimeLayout),
	})
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads Falco's JSON alert. Numbers in output_fields decode as
// json.Number so integers keep their exact value.
func (a *Alert) UnmarshalJSON(b []byte) error {
	var j alertJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	if j.Rule == "" {
		return fmt.Errorf("alert: field rule: missing")
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return fmt.Errorf("alert: field time: %w", err)
	}
	*a = Alert{Hostname: j.Hostname, Output: j.Output, OutputFields: j.OutputFields, Priority: j.Priority,
		Rule: j.Rule, Source: j.Source, Tags: j.Tags, Time: t}
	return nil
}
