package fields

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// scriptProc is the state after execve("/tmp/deploy.sh") of a #! script
// run by /bin/sh: comm is the script's name, exe the interpreter.
func scriptProc() *schema.Process {
	p := shellProc()
	p.Pid, p.Ppid, p.Vpid, p.Pgid, p.Vpgid = 5000, 4242, 5000, 4242, 4242
	p.Comm, p.Exe, p.ExePath = "deploy.sh", "/bin/sh", "/usr/bin/dash"
	p.Args = []string{"/tmp/deploy.sh", "--force"}
	p.Cwd = "/dev/shm" // the collector should add the slash; extraction makes sure
	p.ExeFlags = schema.ExecUpperLayer | schema.ExecWritable
	p.ExeIno, p.ExeInoCtime, p.ExeInoMtime = 99, testStart-1000, testStart-2000
	p.CapEffective = 1<<0 | 1<<21 | 1<<16 // CAP_CHOWN CAP_SYS_MODULE CAP_SYS_ADMIN
	p.CapPermitted = 0
	p.CapInheritable = 1 << 40
	p.Ancestors = append([]schema.Ancestor{{Pid: 4242, Comm: "bash", Exe: "-bash", ExePath: "/usr/bin/bash",
		StartTs: testStart - 1_000_000_000}}, p.Ancestors...)
	return p
}

func TestProcFields(t *testing.T) {
	ev := schema.Event{Type: schema.EventExecve, Tid: 5000, Res: 0, Args: execveArgs(schema.ExecUpperLayer | schema.ExecWritable)}
	c := NewCtx(one(ev, scriptProc(), nil), 0, "")
	want := map[string]string{
		"proc.name": "deploy.sh", "proc.exe": "/bin/sh", "proc.exepath": "/usr/bin/dash",
		"proc.args": "/tmp/deploy.sh --force", "proc.args[0]": "/tmp/deploy.sh", "proc.args[1]": "--force",
		"proc.args[2]": NA, "proc.cmdline": "deploy.sh /tmp/deploy.sh --force",
		"proc.exeline": "/bin/sh /tmp/deploy.sh --force",
		"proc.pname":   "bash", "proc.pexe": "-bash", "proc.pexepath": "/usr/bin/bash", "proc.pcmdline": "bash",
		"proc.aname[0]": "deploy.sh", "proc.aname[1]": "bash", "proc.aname[2]": "sshd", "proc.aname[3]": "systemd",
		"proc.aname[4]": NA, "proc.aname[7]": NA, "proc.aname": "bash sshd systemd",
		"proc.aexe[2]": "sshd: alice", "proc.aexepath[2]": "/usr/sbin/sshd", "proc.acmdline[2]": "sshd -D",
		"proc.acmdline[0]": "deploy.sh /tmp/deploy.sh --force", "proc.acmdline[1]": "bash", "proc.acmdline[9]": NA,
		"proc.apid[1]": "4242", "proc.apid[3]": "1", "proc.apid[4]": NA, "proc.apid": "5000", // proc.apid is proc.apid[0] (libsinsp ancestor_apid_no_arg_defaults_to_self)
		"proc.pid": "5000", "proc.ppid": "4242", "proc.vpid": "5000", "proc.sid": "4000", "proc.vpgid": "4242",
		"proc.is_vpgid_leader": "false", "proc.vpgid.name": "bash", "proc.vpgid.exe": "-bash",
		"proc.sname": "sshd", "proc.env": "HOME=/home/alice TERM=xterm PADDED= x ",
		"proc.env[HOME]": "/home/alice", "proc.env[PADDED]": "x", "proc.env[NOPE]": "",
		"proc.cwd": "/dev/shm/", "proc.tty": "34816", "proc.duration": "5000000000",
		"proc.ppid.duration": "6000000000", "proc.loginshellid": "4242",
		"proc.is_exe_upper_layer": "true", "proc.is_exe_writable": "true", "proc.is_exe_from_memfd": "false",
		"proc.exe_ino": "99", "proc.exe_ino.ctime": "1764620780123455789", "proc.exe_ino.mtime": "1764620780123454789",
		"proc.exe_ino.ctime_duration_proc_start": "1000", "proc.is_container_healthcheck": "false",
		"thread.tid": "5000", "thread.vtid": "5000", "thread.ismain": "true",
		"thread.cap_effective":   "CAP_CHOWN CAP_SYS_MODULE CAP_SYS_ADMIN",
		"thread.cap_permitted":   "",
		"thread.cap_inheritable": "CAP_CHECKPOINT_RESTORE",
		"user.uid":               "1000", "user.name": "alice", "user.loginuid": "1000", "user.loginname": "alice",
		"group.gid": "1000", "group.name": "alice",
		"evt.arg.flags": "EXE_WRITABLE|EXE_UPPER_LAYER",
	}
	var spellings []string
	for s := range want {
		spellings = append(spellings, s)
	}
	if diff := cmp.Diff(want, render(t, c, spellings...)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bash", "sshd", "systemd"}, all(t, c, "proc.aname")); diff != "" {
		t.Errorf("proc.aname values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"4242", "4000", "1"}, all(t, c, "proc.apid")); diff != "" {
		t.Errorf("proc.apid values (-want +got):\n%s", diff)
	}
	// ExtractAll stops when told to.
	n := 0
	mustField(t, "proc.aname").ExtractAll(c, func(Value) bool { n++; return false })
	if n != 1 {
		t.Errorf("ExtractAll after false: %d calls, want 1", n)
	}
}

func TestProcEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		proc func(p *schema.Process)
		tid  int64
		vtid int64
		want map[string]string
	}{{
		name: "unknown user names",
		proc: func(p *schema.Process) {
			p.Euid, p.User, p.Egid, p.Group, p.LoginUID, p.LoginName = 1234, "", 1234, "", 4294967295, ""
		},
		want: map[string]string{"user.uid": "1234", "user.name": NA, "group.name": NA, "user.loginuid": "-1",
			"user.loginname": NA, "proc.vpid": "4242", "thread.vtid": NA, "proc.aname": "sshd systemd"},
	}, {
		name: "root without an entry",
		proc: func(p *schema.Process) {
			p.Euid, p.User, p.Egid, p.Group, p.LoginUID, p.LoginName = 0, "", 0, "", 0, ""
		},
		want: map[string]string{"user.uid": "0", "user.name": "root", "group.name": "root", "user.loginuid": "0",
			"user.loginname": "root", "proc.vpid": "4242", "thread.vtid": NA, "proc.aname": "sshd systemd"},
	}, {
		name: "secondary thread with its namespace tid",
		proc: func(p *schema.Process) {},
		tid:  4243,
		vtid: 7,
		want: map[string]string{"user.uid": "1000", "user.name": "alice", "group.name": "alice", "user.loginuid": "1000",
			"user.loginname": "alice", "proc.vpid": "4242", "thread.vtid": "7", "proc.aname": "sshd systemd"},
	}, {
		name: "no parent known, pid namespace unknown, secondary thread",
		proc: func(p *schema.Process) { p.Ancestors, p.Vpid = nil, -1 },
		tid:  4243,
		want: map[string]string{"user.uid": "1000", "user.name": "alice", "group.name": "alice", "user.loginuid": "1000",
			"user.loginname": "alice", "proc.vpid": NA, "thread.vtid": NA, "proc.aname": NA},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := shellProc()
			tt.proc(p)
			ev := schema.Event{Type: schema.EventUnlink, Tid: tt.tid, Vtid: tt.vtid, Args: []schema.Arg{schema.StrArg("/x")}}
			c := NewCtx(one(ev, p, nil), 0, "")
			var spellings []string
			for s := range tt.want {
				spellings = append(spellings, s)
			}
			if diff := cmp.Diff(tt.want, render(t, c, spellings...)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnknownThread: with no thread info every proc/user/container field
// has no value, so "not proc.name in (...)" is true (FIELDS.md 10.10).
func TestUnknownThread(t *testing.T) {
	c := NewCtx(one(schema.Event{Type: schema.EventUnlink, Args: []schema.Arg{schema.StrArg("/x")}}, nil, nil), 0, "")
	for _, s := range []string{"proc.name", "proc.cmdline", "proc.aname", "proc.aname[1]", "proc.pname", "user.name",
		"user.uid", "thread.cap_effective", "container.id", "container.image.repository", "k8s.ns.name", "proc.env[HOME]"} {
		if v, ok := mustField(t, s).Extract(c); ok {
			t.Errorf("%s = %+v, want no value", s, v)
		}
	}
	if got := render(t, c, "evt.type")["evt.type"]; got != "unlink" {
		t.Errorf("evt.type = %q", got)
	}
}

// TestProcCacheFollowsProcess: reusing a Ctx across events of different
// processes must not hand out the previous process's derived strings.
func TestProcCacheFollowsProcess(t *testing.T) {
	a, b := shellProc(), scriptProc()
	batch := &schema.Batch{Version: schema.Version, Node: "n", Seq: 7, Procs: []schema.Process{*a, *b}, Events: []schema.Event{
		{Type: schema.EventUnlink, Proc: 0}, {Type: schema.EventUnlink, Proc: 1}, {Type: schema.EventUnlink, Proc: 0},
	}}
	f := mustField(t, "proc.cmdline")
	var c Ctx
	var got []string
	for i := range batch.Events {
		c.Reset(batch, i, "")
		v, _ := f.Extract(&c)
		got = append(got, v.Str)
	}
	// The same Batch value refilled for the next message (a decoder reusing
	// its buffers) must not hit the cache either.
	batch.Seq = 8
	batch.Procs[0].Args = []string{"-c", "id"}
	c.Reset(batch, 0, "")
	v, _ := f.Extract(&c)
	got = append(got, v.Str)
	want := []string{"bash", "deploy.sh /tmp/deploy.sh --force", "bash", "bash -c id"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("proc.cmdline per event (-want +got):\n%s", diff)
	}
}
