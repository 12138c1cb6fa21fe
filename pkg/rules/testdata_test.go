package rules

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
)

// TestRuleDirs runs the cases in testdata/rules/<case>/: the *.yaml
// files in loadOrder, events.json a list of Flat events, want.txt one
// line per alert: "<event index> <rule> [tags] <output>".
func TestRuleDirs(t *testing.T) {
	dirs, err := filepath.Glob("testdata/rules/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no cases in testdata/rules")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var files []File
			for _, name := range loadOrder(t, dir) {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, File{Name: name, Data: data})
			}
			e, err := Compile(files, Options{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, "events.json"))
			if err != nil {
				t.Fatal(err)
			}
			var events []map[string]any
			if err := json.Unmarshal(raw, &events); err != nil {
				t.Fatalf("events.json: %v", err)
			}
			var got []string
			for i, ev := range events {
				if ts, ok := ev["evt.rawtime"].(float64); ok {
					ev["evt.rawtime"] = int64(ts)
				}
				c := &fields.Ctx{Flat: ev}
				e.Eval(c, func(r *Rule) {
					a := e.Alert(r, c)
					got = append(got, fmt.Sprintf("%d %s %v %s", i, a.Rule, a.Tags, a.Output))
				})
			}
			wantRaw, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSpace(string(wantRaw)), "\n")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}

// loadOrder is rules.yaml first, then the other YAML files by name: the
// base file, then the local overrides.
func loadOrder(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		out = append(out, filepath.Base(n))
	}
	sort.Slice(out, func(a, b int) bool {
		if (out[a] == "rules.yaml") != (out[b] == "rules.yaml") {
			return out[a] == "rules.yaml"
		}
		return out[a] < out[b]
	})
	return out
}
