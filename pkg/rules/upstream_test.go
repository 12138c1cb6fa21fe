package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// upstreamDir is where the team keeps Falco's upstream rule files: the
// shared/ folder beside the repository clone.
const upstreamDir = "../../../shared/rules"

var upstreamFiles = []string{"falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"}

// loadUpstream reads the three upstream files in load order, skipping the
// test when shared/ is not beside the clone.
func loadUpstream(tb testing.TB) []File {
	tb.Helper()
	var files []File
	for _, name := range upstreamFiles {
		data, err := os.ReadFile(filepath.Join(upstreamDir, name))
		if os.IsNotExist(err) {
			tb.Skipf("upstream rules not found at %s (shared/ must sit beside the repository): %v", upstreamDir, err)
		}
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, File{Name: name, Data: data})
	}
	return files
}

func TestUpstreamRulesLoad(t *testing.T) {
	e, err := Compile(loadUpstream(t), Options{})
	if err != nil {
		t.Fatalf("upstream rules: %v", err)
	}
	if got, want := len(e.Rules()), 93; got != want {
		t.Errorf("loaded %d rules, want %d", got, want)
	}
	enabled := 0
	for _, r := range e.Rules() {
		if r.Enabled {
			enabled++
		}
	}
	t.Logf("%d rules, %d enabled, %d warnings", len(e.Rules()), enabled, len(e.Warnings()))
	for _, w := range e.Warnings() {
		t.Log(w)
	}
}
