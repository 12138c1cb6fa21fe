package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
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
	{why: "unknown field in output", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x=%proc.nosuch\n  priority: INFO\n", want: []string{"4:14: rule r: invalid output: field proc.nosuch"}},
	{why: "filter-only field in output", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x=%fd.ip\n  priority: INFO\n", want: []string{"4:14: rule r: invalid output: field fd.ip"}},
	{why: "output errors point at the token inside a quoted scalar", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"a=%proc.name b=%proc.bad\"\n  priority: INFO\n",
		want: []string{"4:28: rule r: invalid output: field proc.bad: unknown field"}},
	{why: "output errors point at the token of a folded block output", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: >\n    a=%proc.name\n    b=%proc.bad\n  priority: INFO\n",
		want: []string{"6:8: rule r: invalid output: field proc.bad: unknown field"}},
	{why: "an output cannot end with %", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: 100%\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: invalid formatting syntax: formatting cannot end with a %"}},
	{why: "an output cannot end with a width", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %12\n  priority: INFO\n",
		want: []string{"4:13: rule r: invalid output: invalid formatting syntax: formatting cannot end with a number"}},
	{why: "a literal % before text is an error: Falco has no escape for it", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: 100% sure\n  priority: INFO\n",
		want: []string{"4:15: rule r: invalid output: expected a field or a transformer"}},
	{why: "%% is not an escape", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: 100%%\n  priority: INFO\n",
		want: []string{"4:15: rule r: invalid output: expected a field or a transformer"}},
	{why: "%(field) is not a form libsinsp accepts", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %(proc.name)\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: expected a field or a transformer"}},
	{why: "val() is for right-hand sides only, not outputs", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %val(proc.name)\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: expected a field or a transformer"}},
	{why: "no blank between a transformer and its parenthesis", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %toupper (proc.name)\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: expected a field or a transformer"}},
	{why: "an unclosed transformer", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %toupper(proc.name\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: expected a ')' token closing the transformer"}},
	{why: "an unknown transformer", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %touper(proc.name)\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: expected a field or a transformer"}},
	{why: "a string transformer on a number field is a type error", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %toupper(proc.pid)\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: transformer toupper does not support field proc.pid of type int64"}},
	{why: "every bad output is reported, one per rule", file: "- rule: r1\n  desc: d\n  condition: evt.type = open\n  output: x %proc.bad1\n  priority: INFO\n- rule: r2\n  desc: d\n  condition: evt.type = open\n  output: y %proc.bad2\n  priority: INFO\n",
		want: []string{"4:14: rule r1: invalid output: field proc.bad1", "9:14: rule r2: invalid output: field proc.bad2"}},
	{why: "a width beyond 65536 is refused rather than padding every alert", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %99999999999proc.name\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: invalid formatting syntax: width 99999999999 is larger than 65536"}},
	{why: "%*field is not a form libsinsp accepts: * only flags a whole output", file: "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %*proc.name\n  priority: INFO\n",
		want: []string{"4:14: rule r: invalid output: expected a field or a transformer"}},
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
