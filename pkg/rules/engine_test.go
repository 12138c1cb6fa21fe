package rules

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Kernel open flags used by the events below.
const (
	oRDONLY = 0
	oWRONLY = 01
	oCREAT  = 0100
	oTRUNC  = 01000
)

// args returns n zero parameters (Params[1:] of a type) with some set.
func args(t schema.EventType, set map[string]schema.Arg) []schema.Arg {
	spec := t.Spec()
	out := make([]schema.Arg, len(spec.Params)-1)
	for name, a := range set {
		i := t.Param(name)
		if i < 1 {
			panic("no param " + name + " in " + spec.Name)
		}
		out[i-1] = a
	}
	return out
}

// hostProcs is a process table: 0 cat under bash, 1 find under bash, 2 ln
// under bash, 3 /dev/shm/x run by its path, 4 ./x run with cwd /dev/shm,
// 5 nginx under nginx.
func hostProcs() []schema.Process {
	bash := []schema.Ancestor{{Pid: 100, Comm: "bash", Exe: "/bin/bash", ExePath: "/usr/bin/bash"},
		{Pid: 50, Comm: "sshd", Exe: "/usr/sbin/sshd", ExePath: "/usr/sbin/sshd"},
		{Pid: 1, Comm: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd"}}
	p := func(pid int64, comm, exepath string, argv ...string) schema.Process {
		return schema.Process{Pid: pid, Ppid: 100, Vpid: pid, Comm: comm, Exe: exepath, ExePath: exepath, Args: argv,
			Cwd: "/root/", User: "root", Group: "root", LoginUID: 1000, LoginName: "alice", TTY: 34816,
			ContainerID: schema.HostContainerID, SName: "bash", Ancestors: bash}
	}
	procs := []schema.Process{
		p(200, "cat", "/usr/bin/cat", "/etc/shadow"),
		p(201, "find", "/usr/bin/find", "/", "-name", "id_rsa"),
		p(202, "ln", "/usr/bin/ln", "-s", "/etc/shadow", "/tmp/s"),
		p(203, "x", "/dev/shm/x"),
		p(204, "x", "/dev/shm/x"),
		{Pid: 300, Ppid: 290, Comm: "nginx", Exe: "nginx", ExePath: "/usr/sbin/nginx", Cwd: "/", User: "www-data",
			Group: "www-data", LoginUID: 4294967295, ContainerID: schema.HostContainerID,
			Ancestors: []schema.Ancestor{{Pid: 290, Comm: "nginx"}, {Pid: 1, Comm: "systemd"}}},
	}
	// Execution from /dev/shm keys on argv[0] (proc.exe) and cwd, not on
	// the resolved exepath.
	procs[4].Exe, procs[4].Cwd = "./x", "/dev/shm/"
	return procs
}

func openEvent(proc int32, path string, flags int64) schema.Event {
	return schema.Event{Num: 1, Ts: 1, Type: schema.EventOpenat, Proc: proc, Res: 3,
		Args: args(schema.EventOpenat, map[string]schema.Arg{"dirfd": schema.IntArg(-100), "name": schema.StrArg(path),
			"flags": schema.IntArg(flags)}),
		FD: &schema.FD{Num: 3, Type: 'f', Name: path, NameRaw: path, Flags: uint32(flags)}}
}

func execEvent(proc int32, exe string) schema.Event {
	return schema.Event{Num: 2, Ts: 2, Type: schema.EventExecve, Proc: proc, Res: 0,
		Args: args(schema.EventExecve, map[string]schema.Arg{"exe": schema.StrArg(exe), "trusted_exepath": schema.StrArg(exe),
			"filename": schema.StrArg(exe)})}
}

// TestUpstreamHandChecks runs real upstream rules on real schema events,
// the end-to-end checks the collector will reproduce.
func TestUpstreamHandChecks(t *testing.T) {
	e, err := Compile(loadUpstream(t), Options{Matching: MatchAll, Hostname: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	symlink := schema.Event{Num: 3, Ts: 3, Type: schema.EventSymlinkat, Proc: 2, Res: 0,
		Args: args(schema.EventSymlinkat, map[string]schema.Arg{"target": schema.StrArg("/etc/shadow"),
			"linkdirfd": schema.IntArg(-100), "linkpath": {Str: "/tmp/s", Resolved: "/tmp/s"}})}
	tests := []struct {
		name  string
		event schema.Event
		want  []string
	}{
		{"cat /etc/shadow under bash", openEvent(0, "/etc/shadow", oRDONLY), []string{"Read sensitive file untrusted"}},
		{"cat of an ordinary file", openEvent(0, "/etc/hostname", oRDONLY), nil},
		{"find / -name id_rsa", execEvent(1, "/usr/bin/find"), []string{"Search Private Keys or Passwords"}},
		{"symlinkat over /etc/shadow", symlink, []string{"Create Symlink Over Sensitive Files"}},
		{"execve of /dev/shm/x", execEvent(3, "/dev/shm/x"), []string{"Execution from /dev/shm"}},
		{"execve of ./x in /dev/shm", execEvent(4, "./x"), []string{"Execution from /dev/shm"}},
		{"nginx reading its config", openEvent(5, "/etc/nginx/nginx.conf", oRDONLY), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &schema.Batch{Node: "node1", Procs: hostProcs(), Events: []schema.Event{tc.event}}
			c := fields.NewCtx(b, 0, "")
			var got []string
			e.Eval(c, func(r *Rule) { got = append(got, r.Name) })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matching rules (-want +got):\n%s", diff)
			}
			for _, name := range got {
				for _, r := range e.Rules() {
					if r.Name == name {
						t.Log(e.Alert(r, c).Output)
					}
				}
			}
		})
	}
}

// benchBatch is a host-like event mix: mostly ordinary file opens and
// execs of common binaries, some connects; nothing matches.
func benchBatch() *schema.Batch {
	procs := hostProcs()
	procs = append(procs, schema.Process{Pid: 400, Ppid: 100, Comm: "ls", Exe: "ls", ExePath: "/usr/bin/ls",
		Args: []string{"-la"}, Cwd: "/home/alice/", User: "alice", Euid: 1000, LoginUID: 1000,
		ContainerID: schema.HostContainerID, Ancestors: procs[0].Ancestors})
	var evs []schema.Event
	paths := []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/ld.so.cache", "/proc/self/status",
		"/home/alice/notes.txt", "/usr/share/locale/locale.alias", "/var/log/nginx/access.log", "/etc/nginx/nginx.conf"}
	for i := 0; i < 64; i++ {
		switch i % 8 {
		case 0, 1, 2, 3, 4:
			evs = append(evs, openEvent(int32(5+i%2), paths[i%len(paths)], oRDONLY))
		case 5:
			ev := openEvent(5, "/var/log/nginx/access.log", oWRONLY|oCREAT)
			evs = append(evs, ev)
		case 6:
			evs = append(evs, execEvent(6, "/usr/bin/ls"))
		case 7:
			evs = append(evs, schema.Event{Num: 9, Ts: 9, Type: schema.EventConnect, Proc: 5, Res: 0,
				Args: args(schema.EventConnect, map[string]schema.Arg{"fd": schema.IntArg(5)}),
				FD: &schema.FD{Num: 5, Type: '4', Name: "10.0.0.2:40000->10.0.0.3:5432", Family: 2, L4: 6,
					Role: schema.RoleClient, Connected: true, ClientIP: netip.MustParseAddr("10.0.0.2"), ClientPort: 40000,
					ServerIP: netip.MustParseAddr("10.0.0.3"), ServerPort: 5432}})
		}
	}
	return &schema.Batch{Node: "node1", Procs: procs, Events: evs}
}

func TestBenchMixMatchesNothing(t *testing.T) {
	e, err := Compile(loadUpstream(t), Options{Matching: MatchAll})
	if err != nil {
		t.Fatal(err)
	}
	b := benchBatch()
	c := &fields.Ctx{}
	for i := range b.Events {
		c.Reset(b, i, "")
		e.Eval(c, func(r *Rule) { t.Errorf("event %d (%s): unexpected match %q", i, b.Events[i].Type, r.Name) })
	}
}

// TestEvalConcurrent runs one engine from several goroutines, each with
// its own Ctx, as the evaluator's workers do; run it with -race.
func TestEvalConcurrent(t *testing.T) {
	e, err := Compile(loadUpstream(t), Options{Matching: MatchAll})
	if err != nil {
		t.Fatal(err)
	}
	b := &schema.Batch{Node: "node1", Procs: hostProcs(), Events: []schema.Event{
		openEvent(0, "/etc/shadow", oRDONLY), openEvent(5, "/etc/nginx/nginx.conf", oRDONLY), execEvent(1, "/usr/bin/find")}}
	want := []int{1, 0, 1}
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func() {
			c := &fields.Ctx{}
			for n := 0; n < 300; n++ {
				i := n % len(b.Events)
				c.Reset(b, i, "")
				got := 0
				e.Eval(c, func(*Rule) { got++ })
				if got != want[i] {
					errs <- fmt.Sprintf("event %d: %d matches, want %d", i, got, want[i])
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 4; g++ {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}

// TestEvalMatchesRuleByRule checks the engine's shortcuts (macro and
// field memos shared by the rules of an event, guard skipping, conjunct
// order, per-type specialisation) against each enabled rule's generic
// predicate run alone with fresh memos, on events that match and events
// that do not.
func TestEvalMatchesRuleByRule(t *testing.T) {
	e, err := Compile(loadUpstream(t), Options{Matching: MatchAll})
	if err != nil {
		t.Fatal(err)
	}
	b := benchBatch()
	symlink := schema.Event{Num: 3, Ts: 3, Type: schema.EventSymlinkat, Proc: 2, Res: 0,
		Args: args(schema.EventSymlinkat, map[string]schema.Arg{"target": schema.StrArg("/etc/shadow"),
			"linkdirfd": schema.IntArg(-100), "linkpath": {Str: "/tmp/s", Resolved: "/tmp/s"}})}
	b.Events = append(b.Events, openEvent(0, "/etc/shadow", oRDONLY), execEvent(1, "/usr/bin/find"), symlink,
		execEvent(3, "/dev/shm/x"), execEvent(4, "./x"), openEvent(2, "/etc/passwd", oWRONLY|oTRUNC),
		openEvent(6, "/root/.bashrc", oWRONLY))
	matched := 0
	c := &fields.Ctx{}
	for i := range b.Events {
		c.Reset(b, i, "")
		var got, want []string
		e.Eval(c, func(r *Rule) { got = append(got, r.Name) })
		for _, r := range e.Rules() {
			if !r.Enabled {
				continue
			}
			s := e.states.New().(*evalState)
			s.c = c
			s.next()
			if r.match(s) {
				want = append(want, r.Name)
			}
		}
		matched += len(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event %d (%s): matching rules (-rule by rule +engine):\n%s", i, b.Events[i].Type, diff)
		}
	}
	if matched == 0 {
		t.Error("no event matched any rule: the comparison proves nothing")
	}
}

// TestEvalNoAllocs guards the hot path: evaluating the upstream rules
// on the benchmark mix allocates nothing once the Ctx is warm.
func TestEvalNoAllocs(t *testing.T) {
	e, err := Compile(loadUpstream(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := benchBatch()
	c := &fields.Ctx{}
	emit := func(*Rule) {}
	run := func() {
		for i := range b.Events {
			c.Reset(b, i, "")
			e.Eval(c, emit)
		}
	}
	run()
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("%v allocations per pass over %d events, want 0", n, len(b.Events))
	}
}
