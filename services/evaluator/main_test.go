package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/rules/*/want.jsonl")

// stableRules is the upstream file, named explicitly so that a
// /etc/peregrine/rules.local.yaml on the test machine does not change the
// outcome.
const stableRules = "internal/defaultrules/falco_rules.yaml"

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if evalBin.path != "" {
		os.RemoveAll(filepath.Dir(evalBin.path))
	}
	os.Exit(code)
}

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // prefix of stdout
		// wantErrLines are the file:line: prefixes of the error lines, in order.
		wantErrLines []string
	}{
		{name: "stable rules", args: []string{"-r", stableRules}, wantCode: 0, wantOut: "OK: 1 file(s), 25 rules"},
		{name: "two files positional", args: []string{"-r", stableRules, "testdata/rules/flat/rules.yaml"}, wantCode: 0,
			wantOut: "OK: 2 file(s), 27 rules"},
		{name: "broken file", args: []string{"--rules", "testdata/rules/broken/rules.yaml"}, wantCode: 1,
			wantErrLines: []string{
				"testdata/rules/broken/rules.yaml:4:",
				"testdata/rules/broken/rules.yaml:10:",
				"testdata/rules/broken/rules.yaml:17:38: rule Bad output: invalid output: transformer toupper does not support field proc.pid of type int64",
				"testdata/rules/broken/rules.yaml:24:",
			}},
		{name: "missing file", args: []string{"-r", "testdata/nosuch.yaml"}, wantCode: 1,
			wantErrLines: []string{"testdata/nosuch.yaml: cannot read rule file: no such file or directory"}},
		{name: "unknown flag", args: []string{"--nosuch"}, wantCode: 2},
		{name: "help", args: []string{"-h"}, wantCode: 0},
	}
	issueLine := regexp.MustCompile(`^[^:]+:\d+:\d+: \S`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMain(t, append([]string{"validate"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if !strings.HasPrefix(out, tt.wantOut) {
				t.Errorf("stdout %q, want prefix %q", out, tt.wantOut)
			}
			if tt.wantErrLines == nil {
				return
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
				if strings.HasPrefix(l, "testdata/") {
					got = append(got, l)
				}
			}
			if len(got) != len(tt.wantErrLines) {
				t.Fatalf("error lines:\n%s\nwant %d lines starting %q", errOut, len(tt.wantErrLines), tt.wantErrLines)
			}
			for i, want := range tt.wantErrLines {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("error line %d %q, want prefix %q", i, got[i], want)
				}
				if strings.Contains(want, ":1") && !issueLine.MatchString(got[i]) {
					t.Errorf("error line %d %q is not file:line:col: message", i, got[i])
				}
			}
		})
	}
}

// TestTestCommand runs `evaluator test` on every case directory of
// testdata/rules that has events.jsonl and compares the alerts with its
// want.jsonl, and on the README's sample (go test -run TestTestCommand
// -update rewrites them). A case without rules.yaml uses the upstream
// stable rules.
func TestTestCommand(t *testing.T) {
	type testCase struct{ name, events, rules, golden string }
	cases := []testCase{{"readme sample", "testdata/sample_events.jsonl", stableRules, "testdata/sample_alerts.jsonl"}}
	dirs, err := filepath.Glob("testdata/rules/*/events.jsonl")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, events := range dirs {
		dir := filepath.Dir(events)
		c := testCase{filepath.Base(dir), events, stableRules, filepath.Join(dir, "want.jsonl")}
		if rf := filepath.Join(dir, "rules.yaml"); exists(rf) {
			c.rules = rf
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runMain(t, "test", "--events", c.events, "--rule-matching", "all", "-r", c.rules)
			if code != 0 {
				t.Fatalf("exit code %d; stderr:\n%s", code, errOut)
			}
			if *update {
				if err := os.WriteFile(c.golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(c.golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(out, "\n")); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"evt.type":"openat","proc.name":"cat"}`+"\n"+`{"evt.type":`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"bad line names file and line", []string{"-r", "testdata/rules/flat/rules.yaml", "--events", bad}, 1, bad + ":2: invalid JSON"},
		{"no events flag", []string{"-r", "testdata/rules/flat/rules.yaml"}, 2, "--events FILE is required"},
		{"broken rules", []string{"-r", "testdata/rules/broken/rules.yaml", "--events", bad}, 1, "testdata/rules/broken/rules.yaml:4:"},
		{"missing events file", []string{"-r", "testdata/rules/flat/rules.yaml", "--events", filepath.Join(dir, "nosuch")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runMain(t, append([]string{"test"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
