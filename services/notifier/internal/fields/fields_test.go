package fields

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name      string
		custom    map[string]string
		templated map[string]string
		in        map[string]any
		want      map[string]any
	}{
		{
			name:   "custom only",
			custom: map[string]string{"env": "prod"},
			in:     map[string]any{"proc.name": "bash"},
			want:   map[string]any{"proc.name": "bash", "env": "prod"},
		},
		{
			name:      "templated sees fields and custom",
			custom:    map[string]string{"env": "prod"},
			templated: map[string]string{"where": `{{ index . "k8s.ns.name" }}/{{ .env }}`},
			in:        map[string]any{"k8s.ns.name": "default"},
			want:      map[string]any{"k8s.ns.name": "default", "env": "prod", "where": "default/prod"},
		},
		{
			name:   "nil fields",
			custom: map[string]string{"a": "b"},
			want:   map[string]any{"a": "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.custom, tt.templated)
			if err != nil {
				t.Fatal(err)
			}
			a := &schema.Alert{Rule: "r", OutputFields: tt.in}
			if err := e.Apply(a); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, a.OutputFields); diff != "" {
				t.Errorf("output_fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewBadTemplateNamesField(t *testing.T) {
	_, err := New(nil, map[string]string{"broken": "{{ index . "})
	if err == nil || !strings.HasPrefix(err.Error(), "templatedfields broken") {
		t.Fatalf("New error = %v, want naming templatedfields broken", err)
	}
}
