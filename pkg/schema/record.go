package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Record is one event with its process and container, self-contained: the
// JSON line form that `collector --print` writes and `evaluator test` reads.
type Record struct {
	Node      string
	Event     Event
	Proc      *Process
	Container *Container
}

// Records splits a batch into self-contained records.
func (b *Batch) Records() []Record {
	out := make([]Record, len(b.Events))
	for k := range b.Events {
		ev := b.Events[k]
		rec := Record{Node: b.Node, Event: ev, Proc: b.Process(&ev)}
		if rec.Proc != nil {
			rec.Container = b.Container(rec.Proc.ContainerID)
		}
		rec.Event.Proc = -1
		out[k] = rec
	}
	return out
}

// BatchFromRecords builds a batch holding recs, in order.
func BatchFromRecords(node string, recs []Record) *Batch {
	b := &Batch{Version: Version, Node: node}
	seen := map[string]bool{}
	for _, rec := range recs {
		ev := rec.Event
		ev.Proc = -1
		if rec.Proc != nil {
			ev.Proc = int32(len(b.Procs))
			b.Procs = append(b.Procs, *rec.Proc)
		}
		if c := rec.Container; c != nil && !seen[c.ID] {
			seen[c.ID] = true
			b.Containers = append(b.Containers, *c)
		}
		b.Events = append(b.Events, ev)
	}
	return b
}

type recordJSON struct {
	Node      string                     `json:"node,omitempty"`
	Num       uint64                     `json:"num"`
	Time      string                     `json:"time"`
	Ts        int64                      `json:"ts"`
	Type      string                     `json:"type"`
	Enter     bool                       `json:"enter,omitempty"`
	CPU       uint16                     `json:"cpu"`
	Tid       int64                      `json:"tid"`
	Vtid      int64                      `json:"vtid,omitempty"`
	Res       *int64                     `json:"res,omitempty"`
	Args      map[string]json.RawMessage `json:"args"`
	FD        *FD                        `json:"fd,omitempty"`
	Proc      *Process                   `json:"proc,omitempty"`
	Container *Container                 `json:"container,omitempty"`
}

// bytesJSON holds a byte buffer that is not valid UTF-8.
type bytesJSON struct {
	B64 []byte `json:"b64"`
}

type resolvedJSON struct {
	Raw      string `json:"raw"`
	Resolved string `json:"resolved"`
}

// MarshalJSON writes the event with its parameters by their Falco names:
// numbers as numbers, text as strings and relative paths as
// {"raw": ..., "resolved": ...}.
func (rec Record) MarshalJSON() ([]byte, error) {
	ev := &rec.Event
	spec := ev.Type.Spec()
	j := recordJSON{
		Node: rec.Node, Num: ev.Num, Ts: ev.Ts, Time: time.Unix(0, ev.Ts).UTC().Format(AlertTimeLayout),
		Type: spec.Name, Enter: ev.Flags&FlagEnter != 0, CPU: ev.CPU, Tid: ev.Tid, Vtid: ev.Vtid,
		Args: make(map[string]json.RawMessage, len(ev.Args)), FD: ev.FD, Proc: rec.Proc, Container: rec.Container,
	}
	if !j.Enter {
		res := ev.Res
		j.Res = &res
	}
	for k, a := range ev.Args {
		name := fmt.Sprintf("arg%d", k+1)
		var ps ParamSpec
		if k+1 < len(spec.Params) {
			ps = spec.Params[k+1]
			name = ps.Name
		}
		var v any = a.Int
		switch {
		case a.Resolved != "":
			v = resolvedJSON{Raw: a.Str, Resolved: a.Resolved}
		case ps.Type == PTSockTuple:
			tu, err := ParseTuple(a.Str)
			if err != nil {
				return nil, fmt.Errorf("event %d arg %s: %w", ev.Num, name, err)
			}
			v = tu
		case ps.Type == PTSockAddr:
			sa, err := ParseSockaddr(a.Str)
			if err != nil {
				return nil, fmt.Errorf("event %d arg %s: %w", ev.Num, name, err)
			}
			v = sa
		case ps.Type.IsText() && !utf8.ValidString(a.Str):
			v = bytesJSON{B64: []byte(a.Str)}
		case ps.Type.IsText():
			v = a.Str
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("event %d arg %s: %w", ev.Num, name, err)
		}
		j.Args[name] = raw
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes. Parameters are matched by
// name to the event type's table; an unknown type or parameter is an error
// naming it.
func (rec *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, ok := EventTypeByName(j.Type)
	if !ok {
		return fmt.Errorf("field type: unknown event type %q", j.Type)
	}
	spec := t.Spec()
	ev := Event{Num: j.Num, Ts: j.Ts, Type: t, CPU: j.CPU, Tid: j.Tid, Vtid: j.Vtid, Proc: -1, FD: j.FD}
	if ev.Ts == 0 && j.Time != "" {
		ts, err := time.Parse(time.RFC3339Nano, j.Time)
		if err != nil {
			return fmt.Errorf("field time: %w", err)
		}
		ev.Ts = ts.UnixNano()
	}
	if j.Enter {
		ev.Flags |= FlagEnter
	}
	if j.Res != nil {
		ev.Res = *j.Res
	}
	for name := range j.Args {
		if t.Param(name) < 1 {
			return fmt.Errorf("field args.%s: event type %s has no such parameter", name, j.Type)
		}
	}
	for k := 1; k < len(spec.Params); k++ {
		ps := spec.Params[k]
		raw, ok := j.Args[ps.Name]
		var a Arg
		if ok {
			if err := a.unmarshalJSON(raw, ps); err != nil {
				return fmt.Errorf("field args.%s: %w", ps.Name, err)
			}
		}
		ev.Args = append(ev.Args, a)
	}
	*rec = Record{Node: j.Node, Event: ev, Proc: j.Proc, Container: j.Container}
	return nil
}

func (a *Arg) unmarshalJSON(raw json.RawMessage, ps ParamSpec) error {
	isObj := len(raw) > 0 && raw[0] == '{'
	switch {
	case isObj && ps.Type == PTSockTuple:
		var tu Tuple
		if err := json.Unmarshal(raw, &tu); err != nil {
			return err
		}
		a.Str = tu.Bytes()
		return nil
	case isObj && ps.Type == PTSockAddr:
		var sa Sockaddr
		if err := json.Unmarshal(raw, &sa); err != nil {
			return err
		}
		a.Str = sa.Bytes()
		return nil
	case isObj && bytes.Contains(raw, []byte(`"b64"`)):
		var bj bytesJSON
		if err := json.Unmarshal(raw, &bj); err != nil {
			return err
		}
		a.Str = string(bj.B64)
		return nil
	}
	if isObj {
		var r resolvedJSON
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		a.Str, a.Resolved = r.Raw, r.Resolved
		return nil
	}
	if ps.Type.IsText() {
		return json.Unmarshal(raw, &a.Str)
	}
	return json.Unmarshal(raw, &a.Int)
}

// IsText says whether values of t live in Arg.Str.
func (t ParamType) IsText() bool {
	switch t {
	case PTFSPath, PTFSRelPath, PTCharBuf, PTByteBuf, PTSockTuple, PTSockAddr:
		return true
	}
	return false
}
