package eventsfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func TestReadFlatAndRecord(t *testing.T) {
	in := `{"evt.type":"openat","proc.name":"cat","fd.name":"/etc/shadow","proc.pid":42,"x.list":["a",1]}

{"type":"openat","ts":1700000000000000000,"tid":7,"res":3,"args":{"dirfd":-100,"name":"/etc/shadow","flags":0,"mode":0,"dev":0,"ino":0},"proc":{"Pid":7,"Comm":"cat"}}
`
	var got []Event
	if err := Read(strings.NewReader(in), "ev.jsonl", func(e Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2", len(got))
	}
	wantFlat := map[string]any{"evt.type": "openat", "proc.name": "cat", "fd.name": "/etc/shadow",
		"proc.pid": int64(42), "x.list": []any{"a", int64(1)}}
	if diff := cmp.Diff(wantFlat, got[0].Flat); diff != "" {
		t.Errorf("flat (-want +got):\n%s", diff)
	}
	if got[0].Line != 1 || got[1].Line != 3 {
		t.Errorf("lines %d, %d; want 1, 3", got[0].Line, got[1].Line)
	}
	rec := got[1].Record
	if rec == nil || rec.Event.Type != schema.EventOpenat || rec.Proc == nil || rec.Proc.Comm != "cat" {
		t.Fatalf("record = %+v", rec)
	}
	if a, _ := rec.Event.Arg(schema.EventOpenat.Param("name")); a.Str != "/etc/shadow" {
		t.Errorf("name arg %q", a.Str)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // error prefix
	}{
		{"not json", "{}\n{nope\n", "ev.jsonl:1: empty object"},
		{"bad json on line 2", `{"proc.name":"a"}` + "\n{nope\n", "ev.jsonl:2: invalid JSON"},
		{"array line", "[1]\n", "ev.jsonl:1: not a JSON object"},
		{"unknown event type", `{"type":"nosuch","args":{}}`, `ev.jsonl:1: record: field type: unknown event type "nosuch"`},
		{"not a field name", `{"name":"cat"}`, `ev.jsonl:1: key "name": not a Falco field name`},
		{"null value", `{"proc.name":null}`, "ev.jsonl:1: field proc.name: null"},
		{"object value", `{"proc.name":{"a":1}}`, "ev.jsonl:1: field proc.name: map[string]interface {}"},
		{"float value", `{"proc.pid":1.5}`, "ev.jsonl:1: field proc.pid: number 1.5: want an integer"},
		{"uint64 value", `{"evt.num":18446744073709551615,"proc.name":1e}`, "ev.jsonl:1: invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Read(strings.NewReader(tt.in), "ev.jsonl", func(Event) error { return nil })
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %v, want prefix %q", err, tt.want)
			}
		})
	}
}

// FuzzRead feeds arbitrary bytes as an events file: Read must return an
// error or events, never panic, and every error must name the file.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"evt.type":"openat","proc.name":"cat","x.y":[1,"a",true]}`))
	f.Add([]byte(`{"type":"openat","args":{"name":"/etc/shadow","flags":0},"proc":{"Pid":1}}`))
	f.Add([]byte(`{"type":"connect","args":{"tuple":{"family":2}}}` + "\n\n{}"))
	f.Add([]byte("{\"proc.pid\":18446744073709551615}\n[]\nnull"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Read(strings.NewReader(string(data)), "fuzz.jsonl", func(e Event) error {
			if (e.Record == nil) == (e.Flat == nil) {
				t.Fatalf("line %d: want exactly one of Record and Flat", e.Line)
			}
			return nil
		})
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.jsonl:") {
			t.Fatalf("error %q does not name the file", err)
		}
	})
}
