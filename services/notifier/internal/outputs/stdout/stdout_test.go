package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

func TestLines(t *testing.T) {
	at := time.Date(2026, 12, 1, 20, 31, 56, 746609046, time.Local)
	a := &schema.Alert{Rule: "Terminal shell in container", Priority: schema.PriorityNotice, Time: at,
		Output: "A shell was spawned in a container (user=root)", OutputFields: map[string]any{}, Tags: []string{}}
	prefixed := *a
	prefixed.Output = "20:31:56.746609046: Notice A shell was spawned in a container (user=root)"
	tests := []struct {
		name, format string
		d            output.Delivery
		want         string
	}{
		{"text adds Falco's prefix", "text", output.Delivery{Alert: a, Text: a.Output},
			"20:31:56.746609046: Notice A shell was spawned in a container (user=root)\n"},
		{"text keeps Falco's prefix", "", output.Delivery{Alert: &prefixed, Text: prefixed.Output},
			"20:31:56.746609046: Notice A shell was spawned in a container (user=root)\n"},
		{"template text", "text", output.Delivery{Alert: a, Text: "custom"}, "20:31:56.746609046: Notice custom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			cfg, err := output.ParseConfig("stdout", "t.yaml", "stdout:\n  format: "+tt.format+"\n", nil)
			if err != nil {
				t.Fatal(err)
			}
			o, err := New(cfg, output.Env{Stdout: &buf})
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Send(context.Background(), tt.d); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("line = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	cfg, _ := output.ParseConfig("stdout", "t.yaml", "", func(k string) string {
		return map[string]string{"STDOUT_FORMAT": "json"}[k]
	})
	o, err := New(cfg, output.Env{Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	a := &schema.Alert{Rule: "r", Priority: schema.PriorityError, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Output: "pod=<NA> a->b", OutputFields: map[string]any{"proc.name": "sh"}, Tags: []string{"t"}}
	if err := o.Send(context.Background(), output.Delivery{Alert: a}); err != nil {
		t.Fatal(err)
	}
	var got schema.Alert
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if diff := cmp.Diff(*a, got); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
	// Falco prints these literally, not HTML-escaped.
	if !bytes.Contains(buf.Bytes(), []byte(`"pod=<NA> a->b"`)) {
		t.Errorf("json escaped Falco's text: %s", buf.Bytes())
	}
	if buf.Bytes()[buf.Len()-1] != '\n' {
		t.Errorf("no newline")
	}
}
