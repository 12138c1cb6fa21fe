package output

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func TestTemplateRender(t *testing.T) {
	a := &schema.Alert{
		Rule: "Terminal shell in container", Priority: schema.PriorityNotice, Hostname: "node-1",
		Time:         time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		OutputFields: map[string]any{"proc.name": "bash", "proc.pid": json.Number("4242"), "container.id": nil},
		Tags:         []string{"container", "shell"},
	}
	tests := []struct{ name, text, want string }{
		{"fields", `{{.Priority}} {{.Rule}} on {{.Hostname}}`, "Notice Terminal shell in container on node-1"},
		{"field func", `{{field . "proc.name"}} {{field . "proc.pid"}} {{field . "container.id"}} {{field . "absent"}}`, "bash 4242 <NA> <NA>"},
		{"index", `{{index .OutputFields "proc.name"}}`, "bash"},
		{"join upper", `{{join "," .Tags | upper}}`, "CONTAINER,SHELL"},
		{"fields list", `{{fields .}}`, "container.id=<NA> proc.name=bash proc.pid=4242"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate("test", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Render(a)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ParseTemplate("slack.messageformat", "{{.Rule"); err == nil {
		t.Errorf("ParseTemplate accepted a broken template")
	}
}
