// Package eventsfile reads the JSON lines that `evaluator test` evaluates.
//
// A line is either a [schema.Record] (what `collector --print` writes; it
// has "type" and "args" keys) or a flat object of Falco field names to
// values, {"evt.type":"openat","proc.name":"cat","fd.name":"/etc/shadow"},
// for hand-written cases. Blank lines are skipped.
package eventsfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// maxLine bounds one line; a record with a large environment is a few KiB.
const maxLine = 16 << 20

// Event is one line: exactly one of Record and Flat is set.
type Event struct {
	Line   int // 1-based line number in the file
	Record *schema.Record
	// Flat maps Falco field names to values as [fields.Ctx] takes them:
	// string, bool, int64 (uint64 above its range) and []any of those.
	Flat map[string]any
}

// Read calls fn for each event in r, in order. name is the file name used
// in errors, which read "name:line: ...". It stops at the first bad line
// or at fn's first error.
func Read(r io.Reader, name string, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		ev, err := parse(text)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		ev.Line = line
		if err := fn(ev); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return nil
}

func parse(text []byte) (Event, error) {
	if text[0] != '{' {
		return Event{}, fmt.Errorf("not a JSON object")
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(text, &keys); err != nil {
		return Event{}, fmt.Errorf("invalid JSON: %w", err)
	}
	_, hasType := keys["type"]
	_, hasArgs := keys["args"]
	if hasType && hasArgs {
		var rec schema.Record
		if err := json.Unmarshal(text, &rec); err != nil {
			return Event{}, fmt.Errorf("record: %w", err)
		}
		return Event{Record: &rec}, nil
	}
	if len(keys) == 0 {
		return Event{}, fmt.Errorf("empty object: neither a record nor Falco fields")
	}
	flat := make(map[string]any, len(keys))
	for k, raw := range keys {
		if !isFieldName(k) {
			return Event{}, fmt.Errorf("key %q: not a Falco field name (a record needs both \"type\" and \"args\")", k)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return Event{}, fmt.Errorf("field %s: %w", k, err)
		}
		v, err := flatValue(v)
		if err != nil {
			return Event{}, fmt.Errorf("field %s: %w", k, err)
		}
		flat[k] = v
	}
	return Event{Flat: flat}, nil
}

// isFieldName accepts Falco's spelling: class.name with an optional
// [arg] or .arg suffix ("proc.aname[2]", "evt.arg.flags").
func isFieldName(k string) bool {
	dot := bytes.IndexByte([]byte(k), '.')
	return dot > 0 && dot < len(k)-1
}

// flatValue converts a decoded JSON value to what a flat field holds,
// rejecting objects, nulls, nested lists and non-integer numbers: JSON
// numbers arrive as json.Number so 64-bit values stay exact.
func flatValue(v any) (any, error) {
	switch x := v.(type) {
	case string, bool:
		return x, nil
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, nil
		}
		if n, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return n, nil
		}
		return nil, fmt.Errorf("number %s: want an integer", x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			if _, ok := e.([]any); ok {
				return nil, fmt.Errorf("element %d: nested list", i)
			}
			ev, err := flatValue(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = ev
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("null: leave the field out for no value")
	}
	return nil, fmt.Errorf("%T: want a string, integer, bool or list", v)
}
