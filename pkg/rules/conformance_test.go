package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// ev builds a hand-written Flat event from key/value pairs.
func ev(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// condCase is one condition checked against one event.
type condCase struct {
	why   string // the Falco behaviour the case pins
	pre   string // rule-file items before the rule (lists, macros)
	cond  string
	event map[string]any
	want  bool
}

// compileOne compiles pre plus a rule with cond and output.
func compileOne(tb testing.TB, pre, cond, output string, opts Options) (*Engine, error) {
	tb.Helper()
	var b strings.Builder
	b.WriteString(pre)
	b.WriteString("\n- rule: r\n  desc: d\n  condition: ")
	b.WriteString(yamlQuote(cond))
	b.WriteString("\n  output: ")
	b.WriteString(yamlQuote(output))
	b.WriteString("\n  priority: WARNING\n  warn_evttypes: false\n")
	return Compile([]File{{Name: "case.yaml", Data: []byte(b.String())}}, opts)
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func matches(e *Engine, event map[string]any) bool {
	hit := false
	e.Eval(&fields.Ctx{Flat: event}, func(*Rule) { hit = true })
	return hit
}

var open = "openat"

var condCases = []condCase{
	// Operators on strings.
	{why: "= is exact string equality", cond: "proc.name = bash", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "= is case-sensitive", cond: "proc.name = Bash", event: ev("evt.type", open, "proc.name", "bash")},
	{why: "== is a synonym of =", cond: "proc.name == bash", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "= without blanks parses", cond: "proc.name=bash", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "!= is true for a different value", cond: "proc.name != bash", event: ev("evt.type", open, "proc.name", "sh"), want: true},
	{why: "!= is false for the same value", cond: "proc.name != bash", event: ev("evt.type", open, "proc.name", "bash")},
	{why: "!= is false when the field has no value", cond: "proc.name != bash", event: ev("evt.type", open)},
	{why: "= is false when the field has no value", cond: "proc.name = bash", event: ev("evt.type", open)},
	{why: "a present empty string compares normally", cond: `proc.args = ""`, event: ev("evt.type", open, "proc.args", ""), want: true},
	{why: "empty string is not no value: != holds", cond: `proc.args != x`, event: ev("evt.type", open, "proc.args", ""), want: true},
	{why: "< on a string field takes a number token and compares bytes", cond: "proc.name < 5", event: ev("evt.type", open, "proc.name", "12"), want: true},
	{why: "> on a string field compares bytes ('a' > '5')", cond: "proc.name > 5", event: ev("evt.type", open, "proc.name", "abc"), want: true},
	{why: "<= on equal strings", cond: "proc.name <= 42", event: ev("evt.type", open, "proc.name", "42"), want: true},
	{why: ">= on strings is byte-wise, not numeric", cond: "proc.name >= 5", event: ev("evt.type", open, "proc.name", "10")},
	{why: "contains is a substring test", cond: "fd.name contains /.ssh/", event: ev("evt.type", open, "fd.name", "/root/.ssh/id_rsa"), want: true},
	{why: "contains is case-sensitive", cond: "fd.name contains SSH", event: ev("evt.type", open, "fd.name", "/root/.ssh/id_rsa")},
	{why: "icontains ignores ASCII case", cond: "fd.name icontains SSH", event: ev("evt.type", open, "fd.name", "/root/.ssh/id_rsa"), want: true},
	{why: "icontains false when absent", cond: "fd.name icontains gpg", event: ev("evt.type", open, "fd.name", "/root/.ssh/id_rsa")},
	{why: "contains with quoted value with spaces", cond: `proc.cmdline contains "-c ls"`, event: ev("evt.type", open, "proc.cmdline", "sh -c ls"), want: true},
	{why: "startswith is a prefix test", cond: "fd.name startswith /etc", event: ev("evt.type", open, "fd.name", "/etc/shadow"), want: true},
	{why: "startswith false for other prefix", cond: "fd.name startswith /usr", event: ev("evt.type", open, "fd.name", "/etc/shadow")},
	{why: "endswith is a suffix test", cond: "fd.name endswith shadow", event: ev("evt.type", open, "fd.name", "/etc/shadow"), want: true},
	{why: "endswith false otherwise", cond: "fd.name endswith passwd", event: ev("evt.type", open, "fd.name", "/etc/shadow")},
	{why: "bstartswith compares hex-decoded bytes", cond: "evt.buffer bstartswith 7f454c46", event: ev("evt.type", "sendto", "evt.buffer", "\x7fELF\x02"), want: true},
	{why: "bcontains searches hex-decoded bytes", cond: "evt.buffer bcontains cafebabe", event: ev("evt.type", "sendto", "evt.buffer", "xx\xca\xfe\xba\xbeyy"), want: true},
	{why: "bcontains false when bytes absent", cond: "evt.buffer bcontains cafebabe", event: ev("evt.type", "sendto", "evt.buffer", "cafebabe")},
	{why: "glob * matches across / (no FNM_PATHNAME)", cond: "fd.name glob '/home/*/.ssh/*'", event: ev("evt.type", open, "fd.name", "/home/a/b/.ssh/c"), want: true},
	{why: "glob is anchored at both ends", cond: "fd.name glob '/home/*'", event: ev("evt.type", open, "fd.name", "/root/home/x")},
	{why: "glob ? matches one character", cond: "proc.name glob 'ba?h'", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "glob [..] is a character class", cond: "proc.name glob 'python[23]'", event: ev("evt.type", open, "proc.name", "python3"), want: true},
	{why: "glob [!..] negates the class", cond: "proc.name glob 'python[!23]'", event: ev("evt.type", open, "proc.name", "python3")},
	{why: "glob is case-sensitive", cond: "proc.name glob 'BA*'", event: ev("evt.type", open, "proc.name", "bash")},
	{why: "iglob ignores case", cond: "proc.name iglob 'BA*'", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "glob with ../ pattern as in upstream directory traversal macro", cond: "fd.nameraw glob '*../*../*'", event: ev("evt.type", open, "fd.nameraw", "/a/../../etc/passwd"), want: true},
	{why: "regex is anchored at both ends (RE2 ANCHOR_BOTH)", cond: "proc.name regex 'ba.h'", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "regex does not match a substring", cond: "proc.name regex 'as'", event: ev("evt.type", open, "proc.name", "bash")},
	{why: "regex alternation", cond: "proc.name regex '(ba|z)sh'", event: ev("evt.type", open, "proc.name", "zsh"), want: true},
	{why: "in is exact membership", cond: "proc.name in (bash, sh, zsh)", event: ev("evt.type", open, "proc.name", "zsh"), want: true},
	{why: "in false for non-member", cond: "proc.name in (bash, sh, zsh)", event: ev("evt.type", open, "proc.name", "dash")},
	{why: "in is not a substring test", cond: "proc.name in (bash)", event: ev("evt.type", open, "proc.name", "bas")},
	{why: "in with quoted items", cond: `proc.name in ("bash", 'sh')`, event: ev("evt.type", open, "proc.name", "sh"), want: true},
	{why: "in with a large set uses the same semantics", cond: "proc.name in (a1,a2,a3,a4,a5,a6,a7,a8,a9,bash)", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "in with a large set, non-member", cond: "proc.name in (a1,a2,a3,a4,a5,a6,a7,a8,a9,bash)", event: ev("evt.type", open, "proc.name", "bas")},
	{why: "in () is false", cond: "proc.name in ()", event: ev("evt.type", open, "proc.name", "bash")},
	{why: "not in () is true", cond: "not proc.name in ()", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "in with a bare item containing [ and : (runc:[0:PARENT])", cond: "proc.pname in (runc:[0:PARENT], runc)", event: ev("evt.type", open, "proc.pname", "runc:[0:PARENT]"), want: true},
	{why: "in false when field has no value", cond: "proc.name in (bash)", event: ev("evt.type", open)},
	{why: "not in true when field has no value", cond: "not proc.name in (bash)", event: ev("evt.type", open), want: true},
	{why: "intersects on a non-list field is in", cond: `proc.args intersects ("-V", "-l", "-h")`, event: ev("evt.type", open, "proc.args", "-l"), want: true},
	{why: "intersects on a non-list field compares the whole string", cond: `proc.args intersects ("-V", "-l", "-h")`, event: ev("evt.type", open, "proc.args", "-l -a")},
	{why: "pmatch matches the path itself", cond: "fd.name pmatch (/etc/apt)", event: ev("evt.type", open, "fd.name", "/etc/apt"), want: true},
	{why: "pmatch matches paths below", cond: "fd.name pmatch (/etc/apt)", event: ev("evt.type", open, "fd.name", "/etc/apt/sources.list"), want: true},
	{why: "pmatch compares whole components", cond: "fd.name pmatch (/etc/apt)", event: ev("evt.type", open, "fd.name", "/etc/aptx")},
	{why: "pmatch ignores empty components", cond: "fd.name pmatch (/etc//apt/)", event: ev("evt.type", open, "fd.name", "//etc/apt/x"), want: true},
	{why: "pmatch patterns may hold glob components", cond: "fd.name pmatch (/home/*/.git)", event: ev("evt.type", open, "fd.name", "/home/u/.git/config"), want: true},
	{why: "pmatch any of several patterns", cond: "fd.name pmatch (/usr/lib, /etc)", event: ev("evt.type", open, "fd.name", "/etc/x"), want: true},
	{why: "exists true when the field has a value", cond: "proc.pname exists", event: ev("evt.type", open, "proc.pname", "bash"), want: true},
	{why: "exists false when no value", cond: "proc.pname exists", event: ev("evt.type", open)},
	{why: "exists true for a present empty string", cond: "proc.pname exists", event: ev("evt.type", open, "proc.pname", ""), want: true},
	{why: "not exists for no value", cond: "not proc.pname exists", event: ev("evt.type", open), want: true},

	// Numbers, booleans, addresses.
	{why: "numeric = parses the RHS", cond: "proc.pid = 42", event: ev("evt.type", open, "proc.pid", 42), want: true},
	{why: "numeric = quoted RHS is still a number", cond: `fd.sport = "443"`, event: ev("evt.type", "connect", "fd.sport", 443), want: true},
	{why: "port accepts a service name", cond: "fd.sport = https", event: ev("evt.type", "connect", "fd.sport", 443), want: true},
	{why: "numeric != ", cond: "proc.pid != 42", event: ev("evt.type", open, "proc.pid", 43), want: true},
	{why: "numeric <", cond: "proc.pid < 100", event: ev("evt.type", open, "proc.pid", 42), want: true},
	{why: "numeric < false", cond: "proc.pid < 10", event: ev("evt.type", open, "proc.pid", 42)},
	{why: "numeric <= boundary", cond: "proc.pid <= 42", event: ev("evt.type", open, "proc.pid", 42), want: true},
	{why: "numeric >", cond: "proc.pid > 41", event: ev("evt.type", open, "proc.pid", 42), want: true},
	{why: "numeric >= boundary", cond: "evt.rawres >= 0", event: ev("evt.type", open, "evt.rawres", 0), want: true},
	{why: "numeric >= negative result", cond: "evt.rawres >= 0", event: ev("evt.type", open, "evt.rawres", -2)},
	{why: "negative number literal", cond: "evt.rawres = -2", event: ev("evt.type", open, "evt.rawres", -2), want: true},
	{why: "numeric in", cond: "proc.pid in (1, 2, 42)", event: ev("evt.type", open, "proc.pid", 42), want: true},
	{why: "numeric in false", cond: "proc.pid in (1, 2)", event: ev("evt.type", open, "proc.pid", 42)},
	{why: "uint64 compares unsigned", cond: "evt.num > 5", event: ev("evt.type", open, "evt.num", uint64(1<<63)), want: true},
	{why: "bool = true", cond: "evt.is_open_read = true", event: ev("evt.type", open, "evt.is_open_read", true), want: true},
	{why: "bool = false", cond: "evt.is_open_read = false", event: ev("evt.type", open, "evt.is_open_read", true)},
	{why: "bool != true", cond: "fd.connected != true", event: ev("evt.type", "sendto", "fd.connected", false), want: true},
	{why: "ip address equality", cond: `fd.sip = "169.254.169.254"`, event: ev("evt.type", "connect", "fd.sip", "169.254.169.254"), want: true},
	{why: "ip address inequality", cond: `fd.sip = "169.254.169.254"`, event: ev("evt.type", "connect", "fd.sip", "10.0.0.1")},
	{why: "ipv4-mapped ipv6 equals ipv4", cond: `fd.sip = 10.0.0.1`, event: ev("evt.type", "connect", "fd.sip", "::ffff:10.0.0.1"), want: true},
	{why: "ip in list", cond: `fd.sip in (1.1.1.1, 8.8.8.8)`, event: ev("evt.type", "connect", "fd.sip", "8.8.8.8"), want: true},
	{why: "ipnet field tests CIDR membership", cond: "fd.snet in (10.0.0.0/8, 192.168.0.0/16)", event: ev("evt.type", "connect", "fd.snet", "10.1.2.3"), want: true},
	{why: "ipnet not a member", cond: "fd.snet in (10.0.0.0/8, 192.168.0.0/16)", event: ev("evt.type", "connect", "fd.snet", "172.16.0.1")},
	{why: "fd.net = N true if either endpoint is in N", cond: "fd.net = 10.0.0.0/8", event: ev("evt.type", "connect", "fd.net", []string{"192.168.1.1", "10.0.0.5"}), want: true},
	{why: "fd.net != N true only if neither endpoint is in N", cond: "fd.net != 10.0.0.0/8", event: ev("evt.type", "connect", "fd.net", []string{"192.168.1.1", "10.0.0.5"})},
	{why: "fd.net != N true when no endpoint is in N", cond: "fd.net != 10.0.0.0/8", event: ev("evt.type", "connect", "fd.net", []string{"192.168.1.1", "172.16.0.5"}), want: true},
	{why: "fd.ip = X true for either endpoint", cond: "fd.ip = 1.2.3.4", event: ev("evt.type", "connect", "fd.ip", []string{"10.0.0.1", "1.2.3.4"}), want: true},
	{why: "fd.ip != X false when one endpoint is X", cond: "fd.ip != 1.2.3.4", event: ev("evt.type", "connect", "fd.ip", []string{"10.0.0.1", "1.2.3.4"})},
	{why: "fd.port = P for either endpoint", cond: "fd.port = 22", event: ev("evt.type", "connect", "fd.port", []any{51000, 22}), want: true},
	{why: "fd.port in (...)", cond: "fd.port in (80, 443)", event: ev("evt.type", "connect", "fd.port", []any{51000, 22})},
	{why: "fd.ip gives false when the fd has no endpoints", cond: "fd.ip = 1.2.3.4", event: ev("evt.type", open)},

	// Multi-valued ancestors and indexed fields.
	{why: "proc.aname = x means some ancestor is x", cond: "proc.aname = sshd", event: ev("evt.type", "execve", "proc.aname", []string{"bash", "sshd", "systemd"}), want: true},
	{why: "proc.aname in: some ancestor in the set", cond: "proc.aname in (containerd, sshd)", event: ev("evt.type", "execve", "proc.aname", []string{"bash", "sshd"}), want: true},
	{why: "proc.aname with no ancestors is false", cond: "proc.aname = sshd", event: ev("evt.type", "execve")},
	{why: "proc.aname startswith any ancestor", cond: "proc.aname startswith ssh", event: ev("evt.type", "execve", "proc.aname", []string{"bash", "sshd"}), want: true},
	{why: "proc.aname[2] is the grandparent", cond: "proc.aname[2] = sshd", event: ev("evt.type", "execve", "proc.aname[2]", "sshd"), want: true},
	{why: "proc.aname[2] none past the top", cond: "proc.aname[2] = sshd", event: ev("evt.type", "execve", "proc.aname[1]", "sshd")},
	{why: "evt.arg.NAME by parameter name", cond: "evt.arg.flags contains O_CREAT", event: ev("evt.type", open, "evt.arg.flags", "O_TRUNC|O_CREAT|O_WRONLY"), want: true},
	{why: "evt.arg[N] by index", cond: "evt.arg[1] = /etc", event: ev("evt.type", open, "evt.arg[1]", "/etc"), want: true},
	{why: "proc.env[KEY] value", cond: "proc.env[HOME] = /root", event: ev("evt.type", "execve", "proc.env[HOME]", "/root"), want: true},
	{why: "container.mount.dest[key] with a path argument", cond: "container.mount.dest[/var/run/docker.sock] exists", event: ev("evt.type", "execve", "container.mount.dest[/var/run/docker.sock]", "/var/run/docker.sock"), want: true},
	{why: "not K in (<NA>,N/A) is true when the mount is missing (no value)", cond: `not container.mount.dest[/proc*] in ("<NA>","N/A")`, event: ev("evt.type", "execve"), want: true},
	{why: "quoted field argument", cond: `proc.env["HOME"] = /root`, event: ev("evt.type", "execve", "proc.env[HOME]", "/root"), want: true},

	// Transformers.
	{why: "tolower lowers the value before comparing", cond: "tolower(proc.name) = bash", event: ev("evt.type", open, "proc.name", "BaSh"), want: true},
	{why: "toupper raises it", cond: "toupper(proc.name) = BASH", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "basename keeps the last component", cond: "basename(fd.name) = shadow", event: ev("evt.type", open, "fd.name", "/etc/shadow"), want: true},
	{why: "basename of a path ending in / is empty", cond: `basename(fd.name) = ""`, event: ev("evt.type", open, "fd.name", "/etc/"), want: true},
	{why: "b64 decodes base64", cond: "b64(proc.args) = hello", event: ev("evt.type", open, "proc.args", "aGVsbG8="), want: true},
	{why: "b64 of undecodable input gives no value", cond: "b64(proc.args) exists", event: ev("evt.type", open, "proc.args", "%%%")},
	{why: "len gives the string length as a number", cond: "len(proc.name) > 3", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "len equality", cond: "len(proc.name) = 4", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "nested transformers apply innermost first", cond: "toupper(basename(fd.name)) = SHADOW", event: ev("evt.type", open, "fd.name", "/etc/shadow"), want: true},
	{why: "transformer on a missing value is no value", cond: "tolower(proc.name) != x", event: ev("evt.type", open)},
	{why: "val() compares with another field", cond: "proc.name = val(proc.pname)", event: ev("evt.type", open, "proc.name", "bash", "proc.pname", "bash"), want: true},
	{why: "val() different values", cond: "proc.name = val(proc.pname)", event: ev("evt.type", open, "proc.name", "bash", "proc.pname", "sshd")},
	{why: "val() != ", cond: "proc.name != val(proc.pname)", event: ev("evt.type", open, "proc.name", "bash", "proc.pname", "sshd"), want: true},
	{why: "val() with a missing RHS is false", cond: "proc.name != val(proc.pname)", event: ev("evt.type", open, "proc.name", "bash")},
	{why: "val() startswith", cond: "fd.name startswith val(proc.cwd)", event: ev("evt.type", open, "fd.name", "/tmp/x", "proc.cwd", "/tmp/"), want: true},
	{why: "val() on numbers", cond: "proc.pid = val(proc.vpid)", event: ev("evt.type", open, "proc.pid", 7, "proc.vpid", 7), want: true},
	{why: "transformer on both sides", cond: "tolower(proc.name) = tolower(proc.pname)", event: ev("evt.type", open, "proc.name", "Bash", "proc.pname", "BASH"), want: true},

	// Boolean structure and grammar.
	{why: "and binds tighter than or", cond: "proc.name = a or proc.name = b and proc.pid = 1", event: ev("evt.type", open, "proc.name", "a", "proc.pid", 2), want: true},
	{why: "parentheses regroup", cond: "(proc.name = a or proc.name = b) and proc.pid = 1", event: ev("evt.type", open, "proc.name", "a", "proc.pid", 2)},
	{why: "not binds tighter than and", cond: "not proc.name = a and proc.pid = 1", event: ev("evt.type", open, "proc.name", "b", "proc.pid", 1), want: true},
	{why: "double not cancels", cond: "not not proc.name = a", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "not( without a blank", cond: "not(proc.name = a)", event: ev("evt.type", open, "proc.name", "a")},
	{why: "and( without a blank", cond: "proc.pid = 1 and(proc.name = a)", event: ev("evt.type", open, "proc.name", "a", "proc.pid", 1), want: true},
	{why: "or( without a blank", cond: "proc.pid = 2 or(proc.name = a)", event: ev("evt.type", open, "proc.name", "a", "proc.pid", 1), want: true},
	{why: "newlines are blanks", cond: "proc.name = a\nand\nproc.pid = 1", event: ev("evt.type", open, "proc.name", "a", "proc.pid", 1), want: true},
	{why: "nested parentheses", cond: "((proc.name = a))", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "quoted string escapes", cond: `proc.cmdline = "say \"hi\""`, event: ev("evt.type", open, "proc.cmdline", `say "hi"`), want: true},
	{why: "single quotes keep double quotes", cond: `proc.cmdline = 'say "hi"'`, event: ev("evt.type", open, "proc.cmdline", `say "hi"`), want: true},

	// Event types and static pruning.
	{why: "evt.type = restricts the rule", cond: "evt.type = openat and fd.name = /x", event: ev("evt.type", "openat", "fd.name", "/x"), want: true},
	{why: "event of another type is not checked", cond: "evt.type = openat and fd.name = /x", event: ev("evt.type", "open", "fd.name", "/x")},
	{why: "evt.type in (...)", cond: "evt.type in (open, openat) and fd.name = /x", event: ev("evt.type", "open", "fd.name", "/x"), want: true},
	{why: "evt.type != excludes one type", cond: "evt.type != openat and proc.name = a", event: ev("evt.type", "open", "proc.name", "a"), want: true},
	{why: "evt.type != excludes the type", cond: "evt.type != openat and proc.name = a", event: ev("evt.type", "openat", "proc.name", "a")},
	{why: "not evt.type in inverts the set", cond: "not evt.type in (openat) and proc.name = a", event: ev("evt.type", "execve", "proc.name", "a"), want: true},
	{why: "an event type the schema does not model still meets rules without evt.type", cond: "proc.name = a", event: ev("evt.type", "mprotect", "proc.name", "a"), want: true},
	{why: "an unmodelled event type meets no typed rule", cond: "evt.type = openat and proc.name = a", event: ev("evt.type", "mprotect", "proc.name", "a")},
	{why: "evt.num=0 is never true", cond: "evt.num=0", event: ev("evt.type", open, "evt.num", 0)},
	{why: "and never_true matches nothing", cond: "proc.name = a and evt.num = 0", event: ev("evt.type", open, "proc.name", "a", "evt.num", 0)},
	{why: "not never_true is a tautology", cond: "proc.name = a and not evt.num = 0", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "evt.num>=0 is always true", cond: "evt.num >= 0 and proc.name = a", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "or with never_true keeps the other branch", cond: "evt.num = 0 or proc.name = a", event: ev("evt.type", open, "proc.name", "a"), want: true},

	// Lists.
	{why: "a named list in parentheses is substituted", pre: "- list: shells\n  items: [bash, sh]", cond: "proc.name in (shells)", event: ev("evt.type", open, "proc.name", "sh"), want: true},
	{why: "a named list mixed with literals", pre: "- list: shells\n  items: [bash, sh]", cond: "proc.name in (shells, zsh)", event: ev("evt.type", open, "proc.name", "zsh"), want: true},
	{why: "a list inside a list is expanded", pre: "- list: a\n  items: [bash]\n- list: b\n  items: [a, zsh]", cond: "proc.name in (b)", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "a list referring to a later list keeps the name as an item", pre: "- list: b\n  items: [a, zsh]\n- list: a\n  items: [bash]", cond: "proc.name in (b)", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "an empty list gives in (), false", pre: "- list: none\n  items: []", cond: "proc.name in (none)", event: ev("evt.type", open, "proc.name", "bash")},
	{why: "list items with spaces are quoted", pre: "- list: cmds\n  items: [\"sh -c ls\"]", cond: "proc.cmdline in (cmds)", event: ev("evt.type", open, "proc.cmdline", "sh -c ls"), want: true},
	{why: "list items written with quotes are unquoted", pre: "- list: cmds\n  items: ['\"sh -c x\"']", cond: "proc.cmdline in (cmds)", event: ev("evt.type", open, "proc.cmdline", "sh -c x"), want: true},
	{why: "a quoted list name is a literal", pre: "- list: shells\n  items: [bash]", cond: `proc.name in ("shells")`, event: ev("evt.type", open, "proc.name", "shells"), want: true},
	{why: "a list after in without parentheses", pre: "- list: shells\n  items: [bash, sh]", cond: "proc.name in shells", event: ev("evt.type", open, "proc.name", "bash"), want: true},
	{why: "pmatch with a named list", pre: "- list: dirs\n  items: [/etc, /usr/lib]", cond: "fd.name pmatch (dirs)", event: ev("evt.type", open, "fd.name", "/usr/lib/x"), want: true},
	{why: "list appended with append: true", pre: "- list: s\n  items: [a]\n- list: s\n  items: [b]\n  append: true", cond: "proc.name in (s)", event: ev("evt.type", open, "proc.name", "b"), want: true},
	{why: "list append keeps earlier items", pre: "- list: s\n  items: [a]\n- list: s\n  items: [b]\n  append: true", cond: "proc.name in (s)", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "list override append", pre: "- list: s\n  items: [a]\n- list: s\n  items: [b]\n  override:\n    items: append", cond: "proc.name in (s)", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "list override replace drops old items", pre: "- list: s\n  items: [a]\n- list: s\n  items: [b]\n  override:\n    items: replace", cond: "proc.name in (s)", event: ev("evt.type", open, "proc.name", "a")},
	{why: "list redefinition replaces it", pre: "- list: s\n  items: [a]\n- list: s\n  items: [b]", cond: "proc.name in (s)", event: ev("evt.type", open, "proc.name", "a")},

	// Macros.
	{why: "a macro is substituted", pre: "- macro: m\n  condition: proc.name = a", cond: "m", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "not macro", pre: "- macro: m\n  condition: proc.name = a", cond: "not m", event: ev("evt.type", open, "proc.name", "a")},
	{why: "macro is parenthesised as a unit", pre: "- macro: m\n  condition: proc.name = a or proc.name = b", cond: "m and proc.pid = 1", event: ev("evt.type", open, "proc.name", "a", "proc.pid", 2)},
	{why: "macros nest", pre: "- macro: m1\n  condition: proc.name = a\n- macro: m2\n  condition: m1 and proc.pid = 1", cond: "m2", event: ev("evt.type", open, "proc.name", "a", "proc.pid", 1), want: true},
	{why: "macro append with append: true joins with a space", pre: "- macro: m\n  condition: proc.name = a\n- macro: m\n  condition: and proc.pid = 1\n  append: true", cond: "m", event: ev("evt.type", open, "proc.name", "a", "proc.pid", 2)},
	{why: "macro override append", pre: "- macro: m\n  condition: proc.name = a\n- macro: m\n  condition: or proc.name = b\n  override:\n    condition: append", cond: "m", event: ev("evt.type", open, "proc.name", "b"), want: true},
	{why: "macro override replace", pre: "- macro: m\n  condition: proc.name = a\n- macro: m\n  condition: proc.name = b\n  override:\n    condition: replace", cond: "m", event: ev("evt.type", open, "proc.name", "a")},
	{why: "macro redefinition replaces", pre: "- macro: m\n  condition: proc.name = a\n- macro: m\n  condition: proc.name = b", cond: "m", event: ev("evt.type", open, "proc.name", "b"), want: true},
	{why: "macro carries evt.type restriction", pre: "- macro: open_read\n  condition: evt.type in (open, openat)", cond: "open_read and fd.name = /x", event: ev("evt.type", "execve", "fd.name", "/x")},
	{why: "macro with list", pre: "- list: l\n  items: [a]\n- macro: m\n  condition: proc.name in (l)", cond: "m", event: ev("evt.type", open, "proc.name", "a"), want: true},
	{why: "never_true macro prunes the rule", pre: "- macro: never_true\n  condition: (evt.num=0)", cond: "proc.name = a and never_true", event: ev("evt.type", open, "proc.name", "a")},
	{why: "user_known macro pattern: not never_true is true", pre: "- macro: never_true\n  condition: (evt.num=0)\n- macro: user_known\n  condition: (never_true)", cond: "proc.name = a and not user_known", event: ev("evt.type", open, "proc.name", "a"), want: true},

	// Falco field semantics from FIELDS.md section 10.
	{why: "proc_name_exists is true with no thread info at all", pre: "- macro: proc_name_exists\n  condition: (not proc.name in (\"<NA>\",\"N/A\"))", cond: "proc_name_exists", event: ev("evt.type", "execve"), want: true},
	{why: "<NA> as a real user.name string matches in", cond: `user.name in ("<NA>")`, event: ev("evt.type", "execve", "user.name", "<NA>"), want: true},
	{why: "cwd ends in / so startswith /dev/shm/ matches cwd /dev/shm", cond: `proc.cwd startswith "/dev/shm/"`, event: ev("evt.type", "execve", "proc.cwd", "/dev/shm/"), want: true},
	{why: "container macro false when container.id has no value", pre: "- macro: container\n  condition: (container.id != host)", cond: "container", event: ev("evt.type", "execve")},
	{why: "container macro true in a container", pre: "- macro: container\n  condition: (container.id != host)", cond: "container", event: ev("evt.type", "execve", "container.id", "abcdef012345"), want: true},
	{why: "not image in (...) true on host (empty string)", cond: `not container.image.repository in (falco)`, event: ev("evt.type", "execve", "container.image.repository", ""), want: true},
	{why: "k8s.ns.name = kube-system false outside k8s", cond: "k8s.ns.name = kube-system", event: ev("evt.type", "execve")},
	{why: "evt.res != -1 always true when present", cond: "evt.res != -1", event: ev("evt.type", open, "evt.res", "ENOENT"), want: true},
	{why: "evt.res none on enter events", cond: "evt.res != -1", event: ev("evt.type", open)},
	{why: "BPF_PROG_LOAD spelling matches", cond: "evt.arg.cmd = BPF_PROG_LOAD", event: ev("evt.type", "bpf", "evt.arg.cmd", "BPF_PROG_LOAD"), want: true},
	{why: "evt.arg.cmd=5 never matches the rendered name", cond: "evt.arg.cmd = 5", event: ev("evt.type", "bpf", "evt.arg.cmd", "BPF_PROG_LOAD")},
	{why: "thread.cap_effective contains a capability", cond: "thread.cap_effective icontains sys_admin", event: ev("evt.type", "execve", "thread.cap_effective", "CAP_CHOWN CAP_SYS_ADMIN"), want: true},
	{why: "fd.typechar compares as a string", cond: "fd.typechar = 4", event: ev("evt.type", "connect", "fd.typechar", "4"), want: true},
	{why: "open_file_failed never matches legacy open (typechar o)", cond: "fd.typechar = f and evt.rawres < 0", event: ev("evt.type", "open", "fd.typechar", "o", "evt.rawres", -2)},
	{why: "proc.tty != 0 for a terminal", cond: "proc.tty != 0", event: ev("evt.type", "execve", "proc.tty", 34816), want: true},
	{why: "user.loginuid = -1 when unset", cond: "user.loginuid = -1", event: ev("evt.type", "execve", "user.loginuid", -1), want: true},
	{why: "proc.is_exe_upper_layer bool", cond: "proc.is_exe_upper_layer = true", event: ev("evt.type", "execve", "proc.is_exe_upper_layer", true), want: true},
	{why: "container.privileged none before metadata: = true false", cond: "container.privileged = true", event: ev("evt.type", "execve")},
	{why: "container.privileged none: = false also false", cond: "container.privileged = false", event: ev("evt.type", "execve")},
}

func TestConditions(t *testing.T) {
	for i, tc := range condCases {
		t.Run(fmt.Sprintf("%03d_%s", i, tc.why), func(t *testing.T) {
			e, err := compileOne(t, tc.pre, tc.cond, "x", Options{})
			if err != nil {
				t.Fatalf("compile %q: %v", tc.cond, err)
			}
			if got := matches(e, tc.event); got != tc.want {
				t.Errorf("%s\ncondition %q on %v: matched %v, want %v", tc.why, tc.cond, tc.event, got, tc.want)
			}
		})
	}
}

// outCase is one output string formatted for one event.
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
	// Falco's formatter (libsinsp eventformatter.cpp set_format and its
	// unit tests, test/events/eventformatter.ut.cpp; Falco formats.cpp).
	{why: "a leading * is the formatter's keep-going flag, never printed", output: "*start %proc.name end", event: ev("proc.name", "init"),
		want: "start init end", fields: map[string]any{"proc.name": "init"}},
	{why: "fields need no blank around them: the longest known field is taken", output: "start%proc.nameand%proc.pidend", event: ev("proc.name", "init", "proc.pid", 1),
		want: "startinitand1end", fields: map[string]any{"proc.name": "init", "proc.pid": int64(1)}},
	{why: "an indexed field followed by text", output: "start%proc.aname[2]and", event: ev("proc.aname[2]", "init"),
		want: "startinitand", fields: map[string]any{"proc.aname[2]": "init"}},
	{why: "a width shorter than the value cuts it", output: "start %2proc.name end", event: ev("proc.name", "init"),
		want: "start in end", fields: map[string]any{"proc.name": "init"}},
	{why: "a width pads <NA> too", output: "[%6proc.pname]", event: ev(),
		want: "[<NA>  ]", fields: map[string]any{"proc.pname": nil}},
	{why: "toupper in an output; output_fields has the plain field, not toupper(proc.name)", output: "start %toupper(proc.name) end", event: ev("proc.name", "init"),
		want: "start INIT end", fields: map[string]any{"proc.name": "init"}},
	{why: "tolower in an output", output: "%tolower(proc.name)", event: ev("proc.name", "InIt"),
		want: "init", fields: map[string]any{"proc.name": "InIt"}},
	{why: "nested transformers apply innermost first", output: "start %tolower(toupper(proc.name)) end", event: ev("proc.name", "Init"),
		want: "start init end", fields: map[string]any{"proc.name": "Init"}},
	{why: "a transformer around an indexed field keeps the field's key", output: "%toupper(proc.aname[2])", event: ev("proc.aname[2]", "sshd"),
		want: "SSHD", fields: map[string]any{"proc.aname[2]": "sshd"}},
	{why: "blanks inside a transformer's parentheses are allowed", output: "start %toupper( tolower( proc.name ) ) end", event: ev("proc.name", "init"),
		want: "start INIT end", fields: map[string]any{"proc.name": "init"}},
	{why: "a width applies to the transformed value (cut)", output: "start %2toupper(proc.name) end", event: ev("proc.name", "init"),
		want: "start IN end", fields: map[string]any{"proc.name": "init"}},
	{why: "a width applies to the transformed value (pad)", output: "start %10toupper(proc.name) end", event: ev("proc.name", "init"),
		want: "start INIT       end", fields: map[string]any{"proc.name": "init"}},
	{why: "basename in an output", output: "exe=%basename(proc.exepath)", event: ev("proc.exepath", "/usr/bin/cat"),
		want: "exe=cat", fields: map[string]any{"proc.exepath": "/usr/bin/cat"}},
	{why: "len in an output prints a number", output: "n=%len(proc.name)", event: ev("proc.name", "init"),
		want: "n=4", fields: map[string]any{"proc.name": "init"}},
	{why: "b64 in an output decodes", output: "%b64(proc.cmdline)", event: ev("proc.cmdline", "aGVsbG8="),
		want: "hello", fields: map[string]any{"proc.cmdline": "aGVsbG8="}},
	{why: "a transformer on a field with no value prints <NA>", output: "%toupper(proc.pname)", event: ev(),
		want: "<NA>", fields: map[string]any{"proc.pname": nil}},
	{why: "a field used plain and transformed is one key", output: "%proc.name %toupper(proc.name)", event: ev("proc.name", "init"),
		want: "init INIT", fields: map[string]any{"proc.name": "init"}},
	{why: "a transformer's closing parenthesis ends the token", output: "(%toupper(proc.name))", event: ev("proc.name", "a"),
		want: "(A)", fields: map[string]any{"proc.name": "a"}},
	{why: "an argument with a blank is quoted in its key, as libsinsp's as_string does", output: `%proc.env["MY VAR"]`, event: ev("proc.env[MY VAR]", "1"),
		want: "1", fields: map[string]any{`proc.env["MY VAR"]`: "1"}},
	{why: "proc.aname without an argument prints every ancestor, blank-separated (libsinsp ancestor_aname_no_arg)", output: "start %proc.aname end", event: ev("proc.aname", []any{"bash", "init"}),
		want: "start bash init end", fields: map[string]any{"proc.aname": "bash init"}},
	{why: "evt.time prints the time and is ns in output_fields", output: "at %evt.time", event: ev("evt.time", "20:30:05.123456789"),
		want: "at 20:30:05.123456789", fields: map[string]any{}},
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
			// Falco merges the fields of its "%evt.time: " prefix into
			// output_fields: evt.time is there for every alert.
			wantFields := map[string]any{"evt.time": ts}
			for k, v := range tc.fields {
				wantFields[k] = v
			}
			a := e.Alert(e.Rules()[0], c)
			want := schema.Alert{Hostname: "node1", Output: "20:30:05.123456789: Warning " + tc.want, OutputFields: wantFields,
				Priority: schema.PriorityWarning, Rule: "r", Source: "syscall", Tags: []string{}, Time: time.Unix(0, ts).UTC()}
			if diff := cmp.Diff(want, a); diff != "" {
				t.Errorf("%s: alert (-want +got):\n%s", tc.why, diff)
			}
		})
	}
}
