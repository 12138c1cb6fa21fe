package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

const baseRule = `
- rule: r
  desc: d
  condition: evt.type = openat and proc.name = a
  output: "name=%proc.name"
  priority: WARNING
  tags: [t1]
`

// fileCase loads files and checks which rules match an event.
type fileCase struct {
	why   string
	files []string
	opts  Options
	event map[string]any
	want  []string // names of the matching rules, in order
}

var fileCases = []fileCase{
	{why: "a rule matches its condition", files: []string{baseRule}, event: ev("evt.type", "openat", "proc.name", "a"), want: []string{"r"}},
	{why: "override append of a condition joins with a space", files: []string{baseRule, `
- rule: r
  condition: and proc.pid = 1
  override:
    condition: append`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pid", 2)},
	{why: "override replace of a condition", files: []string{baseRule, `
- rule: r
  condition: evt.type = openat and proc.name = b
  override:
    condition: replace`}, event: ev("evt.type", "openat", "proc.name", "b"), want: []string{"r"}},
	{why: "legacy append: true appends to the condition", files: []string{baseRule, `
- rule: r
  condition: or proc.name = z
  append: true`}, event: ev("evt.type", "openat", "proc.name", "z"), want: []string{"r"}},
	{why: "enabled-only entry disables an earlier rule", files: []string{baseRule, `
- rule: r
  enabled: false`}, event: ev("evt.type", "openat", "proc.name", "a")},
	{why: "override replace of enabled re-enables a disabled rule", files: []string{strings.Replace(baseRule, "tags: [t1]", "tags: [t1]\n  enabled: false", 1), `
- rule: r
  enabled: true
  override:
    enabled: replace`}, event: ev("evt.type", "openat", "proc.name", "a"), want: []string{"r"}},
	{why: "a later file redefining a rule replaces it entirely", files: []string{baseRule, strings.Replace(baseRule, "proc.name = a", "proc.name = b", 1)}, event: ev("evt.type", "openat", "proc.name", "a")},
	{why: "a later macro override changes a rule of an earlier file", files: []string{`
- macro: m
  condition: proc.name = a
- rule: r
  desc: d
  condition: evt.type = openat and m
  output: x
  priority: INFO`, `
- macro: m
  condition: proc.name = b
  override:
    condition: replace`}, event: ev("evt.type", "openat", "proc.name", "b"), want: []string{"r"}},
	{why: "a later list append changes a rule of an earlier file", files: []string{`
- list: l
  items: [a]
- rule: r
  desc: d
  condition: evt.type = openat and proc.name in (l)
  output: x
  priority: INFO`, `
- list: l
  items: [b]
  override:
    items: append`}, event: ev("evt.type", "openat", "proc.name", "b"), want: []string{"r"}},
	{why: "exception with a single field: field in (values)", files: []string{baseRule + `  exceptions:
    - name: e
      fields: proc.pname
      values: [sshd, cron]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "cron")},
	{why: "exception with a single field does not hide others", files: []string{baseRule + `  exceptions:
    - name: e
      fields: proc.pname
      values: [sshd, cron]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "bash"), want: []string{"r"}},
	{why: "exception with field tuples and default = comps", files: []string{baseRule + `  exceptions:
    - name: e
      fields: [proc.pname, fd.name]
      values:
        - [sshd, /etc/x]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "sshd", "fd.name", "/etc/x")},
	{why: "exception tuple needs every field to match", files: []string{baseRule + `  exceptions:
    - name: e
      fields: [proc.pname, fd.name]
      values:
        - [sshd, /etc/x]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "sshd", "fd.name", "/etc/y"), want: []string{"r"}},
	{why: "exception comps per field", files: []string{baseRule + `  exceptions:
    - name: e
      fields: [proc.pname, fd.name]
      comps: [=, startswith]
      values:
        - [sshd, /etc/]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "sshd", "fd.name", "/etc/y")},
	{why: "exception value may be a list for an in comp", files: []string{baseRule + `  exceptions:
    - name: e
      fields: [proc.pname, fd.name]
      comps: [in, =]
      values:
        - [[sshd, cron], /etc/x]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "cron", "fd.name", "/etc/x")},
	{why: "exception value naming a list for an in comp", files: []string{`
- list: daemons
  items: [sshd, cron]
` + baseRule + `  exceptions:
    - name: e
      fields: [proc.pname]
      comps: [in]
      values:
        - [daemons]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "cron")},
	{why: "exception with no values adds nothing", files: []string{baseRule + `  exceptions:
    - name: e
      fields: [proc.pname]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "cron"), want: []string{"r"}},
	{why: "exception values appended by a later override", files: []string{baseRule + `  exceptions:
    - name: e
      fields: [proc.pname]
`, `
- rule: r
  exceptions:
    - name: e
      values: [[cron]]
  override:
    exceptions: append`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "cron")},
	{why: "exception values appended with legacy append: true", files: []string{baseRule + `  exceptions:
    - name: e
      fields: [proc.pname]
`, `
- rule: r
  exceptions:
    - name: e
      values: [[cron]]
  append: true`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.pname", "cron")},
	{why: "exception value with a space is quoted", files: []string{baseRule + `  exceptions:
    - name: e
      fields: [proc.cmdline]
      values: [[sh -c ls]]`}, event: ev("evt.type", "openat", "proc.name", "a", "proc.cmdline", "sh -c ls")},
	{why: "rule_matching first stops at the first match", files: []string{baseRule, strings.Replace(baseRule, "rule: r", "rule: r2", 1)}, event: ev("evt.type", "openat", "proc.name", "a"), want: []string{"r"}},
	{why: "rule_matching all reports every match in load order", opts: Options{Matching: MatchAll}, files: []string{baseRule, strings.Replace(baseRule, "rule: r", "rule: r2", 1)}, event: ev("evt.type", "openat", "proc.name", "a"), want: []string{"r", "r2"}},
	{why: "skip-if-unknown-filter skips a rule with an unknown field", files: []string{baseRule, `
- rule: u
  desc: d
  condition: evt.type = openat and nosuch.field = 1
  output: x
  priority: INFO
  skip-if-unknown-filter: true`}, opts: Options{Matching: MatchAll}, event: ev("evt.type", "openat", "proc.name", "a"), want: []string{"r"}},
	{why: "macros may be defined in a file before the rule that uses them, in any earlier file", files: []string{"- macro: m\n  condition: proc.name = a\n", "- rule: r\n  desc: d\n  condition: evt.type = openat and m\n  output: x\n  priority: INFO\n"}, event: ev("evt.type", "openat", "proc.name", "a"), want: []string{"r"}},
	{why: "required_engine_version and required_plugin_versions are accepted", files: []string{"- required_engine_version: 0.31.0\n- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n" + baseRule}, event: ev("evt.type", "openat", "proc.name", "a"), want: []string{"r"}},
	{why: "a rule with no evt.type applies to every event type", files: []string{"- rule: r\n  desc: d\n  condition: proc.name = a\n  output: x\n  priority: INFO\n"}, event: ev("evt.type", "execve", "proc.name", "a"), want: []string{"r"}},
}

func filesOf(srcs []string) []File {
	var out []File
	for i, s := range srcs {
		out = append(out, File{Name: fmt.Sprintf("f%d.yaml", i), Data: []byte(s)})
	}
	return out
}

func TestRuleFiles(t *testing.T) {
	for i, tc := range fileCases {
		t.Run(fmt.Sprintf("%02d_%s", i, tc.why), func(t *testing.T) {
			e, err := Compile(filesOf(tc.files), tc.opts)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			var got []string
			e.Eval(&fields.Ctx{Flat: tc.event}, func(r *Rule) { got = append(got, r.Name) })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: matches (-want +got):\n%s", tc.why, diff)
			}
		})
	}
}

// errCase is a rule file that must fail with the given issues.
type errCase struct {
	why  string
	file string
	want []string // "line:col: message substring" of each issue, in order
}

var errCases = []errCase{
	{why: "malformed YAML names the line", file: "- rule: r\n  desc: [unclosed\n", want: []string{"1:1: invalid YAML"}},
	{why: "top level must be a list", file: "rule: r\n", want: []string{"1:1: rules content is not a YAML array"}},
	{why: "unknown field names file, line, column and the field", file: "- rule: r\n  desc: d\n  condition: evt.type = open and proc.nosuch = x\n  output: x\n  priority: INFO\n",
		want: []string{"3:34: rule r: field proc.nosuch: unknown field"}},
	{why: "undefined macro", file: "- rule: r\n  desc: d\n  condition: evt.type = open and nosuch_macro\n  output: x\n  priority: INFO\n",
		want: []string{"3:34: rule r: undefined macro 'nosuch_macro'"}},
	{why: "type mismatch proc.pid = abc", file: "- rule: r\n  desc: d\n  condition: evt.type = open and proc.pid = abc\n  output: x\n  priority: INFO\n",
		want: []string{"3:45: rule r: field proc.pid: bad literal \"abc\""}},
	{why: "bad operator for type", file: "- rule: r\n  desc: d\n  condition: evt.type = open and proc.pid contains 1\n  output: x\n  priority: INFO\n",
		want: []string{"3:34: rule r: operator 'contains' is not supported by field proc.pid"}},
	{why: "syntax error points at the token", file: "- rule: r\n  desc: d\n  condition: evt.type = open and proc.name ~ x\n  output: x\n  priority: INFO\n",
		want: []string{"3:44: rule r: expected a valid check operator"}},
	{why: "unbalanced parenthesis", file: "- rule: r\n  desc: d\n  condition: (evt.type = open\n  output: x\n  priority: INFO\n",
		want: []string{"3:30: rule r: expected a ')' token"}},
	{why: "trailing garbage", file: "- rule: r\n  desc: d\n  condition: evt.type = open proc.name = x\n  output: x\n  priority: INFO\n",
		want: []string{"3:30: rule r: unexpected token after 'open'"}},
	{why: "every issue is collected, across rules", file: "- rule: r1\n  desc: d\n  condition: proc.bad1 = x\n  output: x\n  priority: INFO\n- rule: r2\n  desc: d\n  condition: proc.bad2 = x\n  output: x\n  priority: INFO\n",
		want: []string{"3:14: rule r1: field proc.bad1", "8:14: rule r2: field proc.bad2"}},
	{why: "positions inside a folded block condition", file: "- rule: r\n  desc: d\n  condition: >\n    evt.type = open\n    and proc.bad = x\n  output: x\n  priority: INFO\n",
		want: []string{"5:9: rule r: field proc.bad"}},
	{why: "missing required key", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  priority: INFO\n", want: []string{"1:3: rule \"r\": missing required key \"output\""}},
	{why: "invalid priority", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x\n  priority: LOUD\n", want: []string{"5:13: invalid priority \"LOUD\""}},
	{why: "unknown field in output", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x=%proc.nosuch\n  priority: INFO\n", want: []string{"4:11: rule r: invalid output: field proc.nosuch"}},
	{why: "filter-only field in output", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x=%fd.ip\n  priority: INFO\n", want: []string{"4:11: rule r: invalid output: field fd.ip"}},
	{why: "append to an undefined rule", file: "- rule: r\n  condition: and x\n  append: true\n", want: []string{"1:3: rule \"r\" has 'append' key but no rule"}},
	{why: "override of an undefined macro", file: "- macro: m\n  condition: x\n  override:\n    condition: append\n", want: []string{"1:3: macro \"m\" has 'append' key or an append override"}},
	{why: "override key not in the item", file: baseRule + "- rule: r\n  desc: more\n  override:\n    condition: append\n", want: []string{"11:16: an override of \"condition\" is given but the key is not defined"}},
	{why: "key without an override entry", file: baseRule + "- rule: r\n  desc: more\n  condition: x\n  override:\n    desc: append\n", want: []string{"10:14: unexpected key \"condition\""}},
	{why: "priority cannot be appended", file: baseRule + "- rule: r\n  priority: INFO\n  override:\n    priority: append\n", want: []string{"11:15: key \"priority\" cannot be appended to"}},
	{why: "undefined macro in an unused macro is an error", file: "- macro: m\n  condition: nosuch\n", want: []string{"2:14: macro m: undefined macro 'nosuch'"}},
	{why: "macro cannot see macros defined after it", file: "- macro: a\n  condition: b\n- macro: b\n  condition: proc.name = x\n", want: []string{"2:14: macro a: undefined macro 'b'"}},
	{why: "enabled-only entry for an undefined rule", file: "- rule: r\n  enabled: false\n", want: []string{"1:3: rule \"r\" has 'enabled' key but no rule"}},
	{why: "exception fields and values length mismatch", file: baseRule + "  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      values: [[a]]\n", want: []string{"9:7: rule r: exception e: fields and values lists must have equal length"}},
	{why: "exception with a bad comparison operator", file: baseRule + "  exceptions:\n    - name: e\n      fields: [proc.name]\n      comps: [like]\n", want: []string{"11:14: exception \"e\": invalid comparison operator \"like\""}},
	{why: "exception with an unknown field", file: baseRule + "  exceptions:\n    - name: e\n      fields: [proc.nosuch]\n      values: [[a]]\n", want: []string{"9:7: rule r: exception e: field proc.nosuch"}},
	{why: "a list value with a non-list comp is a syntax error, as Falco builds 'f = (a, b)'", file: baseRule + "  exceptions:\n    - name: e\n      fields: [proc.name]\n      comps: [=]\n      values: [[[a, b]]]\n", want: []string{"9:7: rule r: exception e: expected a string value"}},
	{why: "required_engine_version newer than the engine", file: "- required_engine_version: 99.0.0\n", want: []string{"1:28: rules require engine version 99.0.0"}},
	{why: "bad regex", file: "- rule: r\n  desc: d\n  condition: proc.name regex '('\n  output: x\n  priority: INFO\n", want: []string{"3:30: rule r: invalid regular expression"}},
	{why: "bad hex for bcontains", file: "- rule: r\n  desc: d\n  condition: evt.buffer bcontains xyz\n  output: x\n  priority: INFO\n", want: []string{"3:35: rule r: field evt.buffer: operator bcontains needs a hex string"}},
	{why: "val() type mismatch", file: "- rule: r\n  desc: d\n  condition: proc.name = val(proc.pid)\n  output: x\n  priority: INFO\n", want: []string{"3:26: rule r: field proc.name has type string while the right-hand side field proc.pid has incompatible type int64"}},
	{why: "macro referring to itself", file: "- macro: m\n  condition: proc.name = a\n- macro: m\n  condition: or m\n  override:\n    condition: append\n- rule: r\n  desc: d\n  condition: m\n  output: x\n  priority: INFO\n", want: []string{"4:17: macro m: macro 'm' refers to itself"}},
	{why: "bad field argument", file: "- rule: r\n  desc: d\n  condition: proc.aname[x] = a\n  output: x\n  priority: INFO\n", want: []string{"3:25: rule r: field proc.aname[x]: bad field argument"}},
}

func TestCompileErrors(t *testing.T) {
	for i, tc := range errCases {
		t.Run(fmt.Sprintf("%02d_%s", i, tc.why), func(t *testing.T) {
			_, err := Compile([]File{{Name: "bad.yaml", Data: []byte(tc.file)}}, Options{})
			var is Issues
			if !errors.As(err, &is) {
				t.Fatalf("%s: got error %v, want Issues", tc.why, err)
			}
			if len(is) != len(tc.want) {
				t.Fatalf("%s: got %d issues, want %d:\n%v", tc.why, len(is), len(tc.want), err)
			}
			for k, want := range tc.want {
				got := fmt.Sprintf("%d:%d: %s", is[k].Line, is[k].Col, is[k].Message)
				if is[k].File != "bad.yaml" || !strings.HasPrefix(got, want) {
					t.Errorf("%s: issue %d = %s:%s, want bad.yaml:%s...", tc.why, k, is[k].File, got, want)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	e, err := Compile(filesOf([]string{`
- macro: unused
  condition: proc.name = a
- list: unused_list
  items: [a]
- rule: r
  desc: d
  condition: proc.name = a
  output: x
  priority: INFO
`}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range e.Warnings() {
		got = append(got, fmt.Sprintf("%d:%d: %s", w.Line, w.Col, w.Message))
	}
	want := []string{
		"2:3: macro not referred to by any other rule/macro",
		"4:3: list not referred to by any other rule/macro",
		"6:3: rule r: rule matches too many evt.type values; this has a significant performance penalty",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

type outCase struct {
	why    string
	output string
	event  map[string]any
	want   string
	fields map[string]any
}

var outCases = []outCase{
	{why: "%field is replaced by its value", output: "user=%user.name cmd=%proc.cmdline", event: ev("user.name", "root", "proc.cmdline", "cat /etc/shadow"),
		want: "user=root cmd=cat /etc/shadow", fields: map[string]any{"user.name": "root", "proc.cmdline": "cat /etc/shadow"}},
	{why: "a field with no value prints <NA> and is null in output_fields", output: "parent=%proc.pname", event: ev(),
		want: "parent=<NA>", fields: map[string]any{"proc.pname": nil}},
	{why: "indexed fields keep their spelling as the key", output: "gp=%proc.aname[2]", event: ev("proc.aname[2]", "sshd"),
		want: "gp=sshd", fields: map[string]any{"proc.aname[2]": "sshd"}},
	{why: "numbers are typed in output_fields", output: "pid=%proc.pid port=%fd.sport", event: ev("proc.pid", 42, "fd.sport", 443),
		want: "pid=42 port=443", fields: map[string]any{"proc.pid": int64(42), "fd.sport": uint16(443)}},
	{why: "booleans print true/false", output: "p=%container.privileged", event: ev("container.privileged", true),
		want: "p=true", fields: map[string]any{"container.privileged": true}},
	{why: "a trailing dot is not part of the field", output: "file %fd.name.", event: ev("fd.name", "/x"),
		want: "file /x.", fields: map[string]any{"fd.name": "/x"}},
	{why: "parentheses after a field are literal text", output: "(%proc.name)", event: ev("proc.name", "a"),
		want: "(a)", fields: map[string]any{"proc.name": "a"}},
	{why: "evt.arg.NAME in outputs", output: "flags=%evt.arg.flags", event: ev("evt.arg.flags", "O_RDONLY"),
		want: "flags=O_RDONLY", fields: map[string]any{"evt.arg.flags": "O_RDONLY"}},
	{why: "%container.info is removed from outputs, as Falco does since the container plugin", output: "a %container.info b", event: ev(),
		want: "a  b", fields: map[string]any{}},
	{why: "a width pads the value", output: "[%6proc.name]", event: ev("proc.name", "ab"),
		want: "[ab    ]", fields: map[string]any{"proc.name": "ab"}},
}

func TestOutputs(t *testing.T) {
	ts := time.Date(2026, 12, 1, 20, 30, 5, 123456789, time.UTC).UnixNano()
	for i, tc := range outCases {
		t.Run(fmt.Sprintf("%02d_%s", i, tc.why), func(t *testing.T) {
			e, err := compileOne(t, "", "proc.name exists or not proc.name exists", tc.output, Options{Hostname: "node1"})
			if err != nil {
				t.Fatal(err)
			}
			tc.event["evt.rawtime"] = ts
			c := &fields.Ctx{Flat: tc.event}
			a := e.Alert(e.Rules()[0], c)
			want := schema.Alert{Hostname: "node1", Output: "20:30:05.123456789: Warning " + tc.want, OutputFields: tc.fields,
				Priority: schema.PriorityWarning, Rule: "r", Source: "syscall", Tags: []string{}, Time: time.Unix(0, ts).UTC()}
			if diff := cmp.Diff(want, a); diff != "" {
				t.Errorf("%s: alert (-want +got):\n%s", tc.why, diff)
			}
		})
	}
}
