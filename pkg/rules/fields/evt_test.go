package fields

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func TestOpenFamily(t *testing.T) {
	const (
		oWronly = 01
		oCreat  = 0100
		oTrunc  = 01000
	)
	spellings := []string{
		"evt.type", "evt.res", "evt.rawres", "evt.failed", "evt.dir", "evt.num",
		"evt.is_open_read", "evt.is_open_write", "evt.is_open_exec",
		"evt.arg.fd", "evt.arg.res_or_fd", "evt.arg.dirfd", "evt.arg.name", "evt.arg.flags", "evt.arg.mode",
		"evt.rawarg.flags", "evt.arg[0]",
		"fd.num", "fd.typechar", "fd.type", "fd.name", "fd.nameraw", "fd.directory", "fd.filename",
	}
	tests := []struct {
		name string
		ev   schema.Event
		want map[string]string
	}{{
		name: "failed openat",
		ev: schema.Event{Type: schema.EventOpenat, Res: -2, Args: []schema.Arg{
			schema.IntArg(-100), schema.StrArg("/etc//shadow"), schema.IntArg(0), schema.IntArg(0),
			schema.IntArg(0), schema.IntArg(0)}},
		want: map[string]string{
			"evt.type": "openat", "evt.res": "ENOENT", "evt.rawres": "-2", "evt.failed": "true", "evt.dir": "<",
			"evt.num": "42", "evt.is_open_read": "true", "evt.is_open_write": "false", "evt.is_open_exec": "false",
			"evt.arg.fd": "ENOENT", "evt.arg.res_or_fd": "ENOENT", "evt.arg.dirfd": "AT_FDCWD",
			"evt.arg.name": "/etc//shadow", "evt.arg.flags": "O_RDONLY", "evt.arg.mode": "0",
			"evt.rawarg.flags": "0", "evt.arg[0]": "ENOENT",
			// No fd: name, nameraw, directory and typechar come from the
			// arguments (name normalized); fd.type needs real fd info.
			"fd.num": "-1", "fd.typechar": "f", "fd.type": NA, "fd.name": "/etc/shadow", "fd.nameraw": "/etc/shadow",
			"fd.directory": "/etc", "fd.filename": NA,
		},
	}, {
		name: "failed legacy open keeps the path and types it unknown",
		ev: schema.Event{Type: schema.EventOpen, Res: -13, Args: []schema.Arg{
			schema.StrArg("/etc//shadow"), schema.IntArg(oWronly), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}},
		want: map[string]string{
			"evt.type": "open", "evt.res": "EACCES", "evt.rawres": "-13", "evt.failed": "true", "evt.dir": "<",
			"evt.num": "42", "evt.is_open_read": "false", "evt.is_open_write": "true", "evt.is_open_exec": "false",
			"evt.arg.fd": "EACCES", "evt.arg.res_or_fd": "EACCES", "evt.arg.dirfd": NA,
			"evt.arg.name": "/etc//shadow", "evt.arg.flags": "O_WRONLY", "evt.arg.mode": "0",
			"evt.rawarg.flags": "1", "evt.arg[0]": "EACCES",
			"fd.num": "-1", "fd.typechar": "o", "fd.type": NA, "fd.name": "/etc//shadow", "fd.nameraw": "/etc/shadow",
			"fd.directory": "/etc/", "fd.filename": NA,
		},
	}, {
		name: "relative openat with dirfd creating a file",
		ev: schema.Event{Type: schema.EventOpenat, Res: 3, Args: []schema.Arg{
			schema.IntArg(5), {Str: "conf/../app.conf", Resolved: "/srv/app.conf"},
			schema.IntArg(oWronly | oCreat | oTrunc | schema.OpenFlagCreated), schema.IntArg(0644),
			schema.IntArg(64769), schema.IntArg(1234)},
			FD: &schema.FD{Num: 3, Type: 'f', Name: "/srv/app.conf", NameRaw: "conf/../app.conf",
				Flags: oWronly | oCreat | oTrunc | schema.OpenFlagCreated}},
		want: map[string]string{
			"evt.type": "openat", "evt.res": "SUCCESS", "evt.rawres": "3", "evt.failed": "false", "evt.dir": "<",
			"evt.num": "42", "evt.is_open_read": "false", "evt.is_open_write": "true", "evt.is_open_exec": "false",
			"evt.arg.fd": "<f>/srv/app.conf", "evt.arg.res_or_fd": "<f>/srv/app.conf", "evt.arg.dirfd": "5",
			"evt.arg.name": "/srv/app.conf", "evt.arg.flags": "O_TRUNC|O_CREAT|O_WRONLY|O_F_CREATED",
			"evt.arg.mode": "0644", "evt.rawarg.flags": "2147484225", "evt.arg[0]": "<f>/srv/app.conf",
			"fd.num": "3", "fd.typechar": "f", "fd.type": "file", "fd.name": "/srv/app.conf",
			"fd.nameraw": "conf/../app.conf", "fd.directory": "/srv", "fd.filename": "app.conf",
		},
	}, {
		name: "openat enter event",
		ev: schema.Event{Type: schema.EventOpenat, Flags: schema.FlagEnter, Args: []schema.Arg{
			schema.IntArg(-100), schema.StrArg("/etc/passwd"), schema.IntArg(0), schema.IntArg(0)}},
		want: map[string]string{
			"evt.type": "openat", "evt.res": NA, "evt.rawres": NA, "evt.failed": "false", "evt.dir": ">",
			"evt.num": "42", "evt.is_open_read": "false", "evt.is_open_write": "false", "evt.is_open_exec": "false",
			"evt.arg.fd": NA, "evt.arg.res_or_fd": NA, "evt.arg.dirfd": "AT_FDCWD",
			"evt.arg.name": "/etc/passwd", "evt.arg.flags": "O_RDONLY", "evt.arg.mode": "0",
			"evt.rawarg.flags": "0", "evt.arg[0]": NA,
			// libsinsp derives no name from an enter event.
			"fd.num": "-1", "fd.typechar": "f", "fd.type": NA, "fd.name": NA, "fd.nameraw": NA,
			"fd.directory": NA, "fd.filename": NA,
		},
	}, {
		name: "creat of an executable",
		ev: schema.Event{Type: schema.EventCreat, Res: 7, Args: []schema.Arg{
			schema.StrArg("/tmp/x"), schema.IntArg(0755), schema.IntArg(0), schema.IntArg(0),
			schema.IntArg(schema.OpenFlagCreated | schema.OpenFlagUpperLayer)},
			FD: &schema.FD{Num: 7, Type: 'f', Name: "/tmp/x", NameRaw: "/tmp/x"}},
		want: map[string]string{
			"evt.type": "creat", "evt.res": "SUCCESS", "evt.rawres": "7", "evt.failed": "false", "evt.dir": "<",
			"evt.num": "42", "evt.is_open_read": "false", "evt.is_open_write": "false", "evt.is_open_exec": "true",
			"evt.arg.fd": "<f>/tmp/x", "evt.arg.res_or_fd": "<f>/tmp/x", "evt.arg.dirfd": NA,
			"evt.arg.name": "/tmp/x", "evt.arg.flags": NA, "evt.arg.mode": "0755",
			"evt.rawarg.flags": NA, "evt.arg[0]": "<f>/tmp/x",
			"fd.num": "7", "fd.typechar": "f", "fd.type": "file", "fd.name": "/tmp/x", "fd.nameraw": "/tmp/x",
			"fd.directory": "/tmp", "fd.filename": "x",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCtx(one(tt.ev, shellProc(), nil), 0, "")
			if diff := cmp.Diff(tt.want, render(t, c, spellings...)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// TestArgRendering covers FIELDS.md section 8 table by table.
func TestArgRendering(t *testing.T) {
	proc := shellProc()
	tests := []struct {
		name  string
		ev    schema.Event
		field string
		want  string
	}{
		{"socket AF_UNIX names both aliases", schema.Event{Type: schema.EventSocket, Res: 3,
			Args: []schema.Arg{schema.IntArg(1), schema.IntArg(1), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.domain", "AF_LOCAL|AF_UNIX"},
		{"socket AF_INET", schema.Event{Type: schema.EventSocket, Res: 3,
			Args: []schema.Arg{schema.IntArg(2), schema.IntArg(1), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.domain", "AF_INET"},
		{"socket AF_NETLINK", schema.Event{Type: schema.EventSocket, Res: 3,
			Args: []schema.Arg{schema.IntArg(16), schema.IntArg(3), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.domain", "AF_ROUTE|AF_NETLINK"},
		{"socket unknown family is a number", schema.Event{Type: schema.EventSocket, Res: 3,
			Args: []schema.Arg{schema.IntArg(99), schema.IntArg(1), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.domain", "99"},
		{"socket flags 0 are O_NONE", schema.Event{Type: schema.EventSocket, Res: 3,
			Args: []schema.Arg{schema.IntArg(2), schema.IntArg(1), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.flags", "O_NONE"},
		{"socket flags", schema.Event{Type: schema.EventSocket, Res: 3,
			Args: []schema.Arg{schema.IntArg(2), schema.IntArg(1), schema.IntArg(0), schema.IntArg(04000 | 02000000)}},
			"evt.arg.flags", "O_NONBLOCK|O_CLOEXEC"},
		{"bpf cmd name wins over the number", schema.Event{Type: schema.EventBpf, Res: 5,
			Args: []schema.Arg{schema.IntArg(5)}}, "evt.arg.cmd", "BPF_PROG_LOAD"},
		{"bpf cmd raw", schema.Event{Type: schema.EventBpf, Res: 5,
			Args: []schema.Arg{schema.IntArg(5)}}, "evt.rawarg.cmd", "5"},
		{"ptrace request", schema.Event{Type: schema.EventPtrace, Res: 0,
			Args: []schema.Arg{schema.IntArg(0), schema.IntArg(0), schema.IntArg(16), schema.IntArg(4000)}},
			"evt.arg.request", "PTRACE_ATTACH"},
		{"ptrace pid of a known process is its comm", schema.Event{Type: schema.EventPtrace, Res: 0,
			Args: []schema.Arg{schema.IntArg(0), schema.IntArg(0), schema.IntArg(16), schema.IntArg(4000)}},
			"evt.arg.pid", "sshd"},
		{"ptrace pid of an unknown process is the number", schema.Event{Type: schema.EventPtrace, Res: 0,
			Args: []schema.Arg{schema.IntArg(0), schema.IntArg(0), schema.IntArg(0x4206), schema.IntArg(777)}},
			"evt.arg.pid", "777"},
		{"ptrace PTRACE_SEIZE", schema.Event{Type: schema.EventPtrace, Res: 0,
			Args: []schema.Arg{schema.IntArg(0), schema.IntArg(0), schema.IntArg(0x4206), schema.IntArg(777)}},
			"evt.arg.request", "PTRACE_SEIZE"},
		{"setuid uid is the new user's name", schema.Event{Type: schema.EventSetuid, Res: 0,
			Args: []schema.Arg{schema.IntArg(1000)}}, "evt.arg.uid", "alice"},
		{"setuid root", schema.Event{Type: schema.EventSetuid, Res: 0,
			Args: []schema.Arg{schema.IntArg(0)}}, "evt.arg.uid", "root"},
		{"setuid unknown uid", schema.Event{Type: schema.EventSetuid, Res: -1,
			Args: []schema.Arg{schema.IntArg(31337)}}, "evt.arg.uid", "<NA>"},
		{"setuid -1", schema.Event{Type: schema.EventSetuid, Res: 0,
			Args: []schema.Arg{schema.IntArg(-1)}}, "evt.arg.uid", "<NONE>"},
		{"setuid raw uid", schema.Event{Type: schema.EventSetuid, Res: 0,
			Args: []schema.Arg{schema.IntArg(1000)}}, "evt.rawarg.uid", "1000"},
		{"unlinkat flags", schema.Event{Type: schema.EventUnlinkat, Res: 0,
			Args: []schema.Arg{schema.IntArg(-100), {Str: "d", Resolved: "/home/alice/d"}, schema.IntArg(0x200)}},
			"evt.arg.flags", "AT_REMOVEDIR"},
		{"unlinkat relative name is resolved", schema.Event{Type: schema.EventUnlinkat, Res: 0,
			Args: []schema.Arg{schema.IntArg(-100), {Str: "d", Resolved: "/home/alice/d"}, schema.IntArg(0x200)}},
			"evt.arg.name", "/home/alice/d"},
		{"unlinkat no flags", schema.Event{Type: schema.EventUnlinkat, Res: 0,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/x"), schema.IntArg(0)}},
			"evt.arg.flags", "0"},
		{"linkat flags", schema.Event{Type: schema.EventLinkat, Res: 0,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/a"), schema.IntArg(-100), schema.StrArg("/b"),
				schema.IntArg(0x1400)}}, "evt.arg.flags", "AT_SYMLINK_FOLLOW|AT_EMPTY_PATH"},
		{"renameat2 flags", schema.Event{Type: schema.EventRenameat2, Res: 0,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/a"), schema.IntArg(-100), schema.StrArg("/b"),
				schema.IntArg(3)}}, "evt.arg.flags", "RENAME_NOREPLACE|RENAME_EXCHANGE"},
		{"rename absolute path as passed", schema.Event{Type: schema.EventRename, Res: 0,
			Args: []schema.Arg{schema.StrArg("/etc//a"), schema.StrArg("/b")}}, "evt.arg.oldpath", "/etc//a"},
		{"rename has no path param", schema.Event{Type: schema.EventRename, Res: 0,
			Args: []schema.Arg{schema.StrArg("/a"), schema.StrArg("/b")}}, "evt.arg.path", "<NA>"},
		{"openat2 resolve", schema.Event{Type: schema.EventOpenat2, Res: 3,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/x"), schema.IntArg(0), schema.IntArg(0),
				schema.IntArg(0x08 | 0x04), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.resolve", "RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS"},
		{"openat O_RDWR hides the other modes", schema.Event{Type: schema.EventOpenat, Res: 3,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/x"), schema.IntArg(02 | 02000000),
				schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.flags", "O_RDWR|O_CLOEXEC"},
		{"openat O_TMPFILE also names O_DIRECTORY", schema.Event{Type: schema.EventOpenat, Res: 3,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/tmp"), schema.IntArg(020200000 | 02),
				schema.IntArg(0600), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.flags", "O_DIRECTORY|O_RDWR|O_TMPFILE"},
		{"openat upper layer", schema.Event{Type: schema.EventOpenat, Res: 3,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/x"), schema.IntArg(schema.OpenFlagUpperLayer),
				schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}},
			"evt.arg.flags", "O_RDONLY|FD_UPPER_LAYER"},
		{"creat flags", schema.Event{Type: schema.EventCreat, Res: 3,
			Args: []schema.Arg{schema.StrArg("/x"), schema.IntArg(0644), schema.IntArg(0), schema.IntArg(0),
				schema.IntArg(schema.OpenFlagCreated)}}, "evt.arg.creat_flags", "O_F_CREATED"},
		{"chmod mode", schema.Event{Type: schema.EventChmod, Res: 0,
			Args: []schema.Arg{schema.StrArg("/x"), schema.IntArg(04755)}},
			"evt.arg.mode", "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"},
		{"chmod mode 0", schema.Event{Type: schema.EventChmod, Res: 0,
			Args: []schema.Arg{schema.StrArg("/x"), schema.IntArg(0)}}, "evt.arg.mode", "0"},
		{"chmod relative filename", schema.Event{Type: schema.EventChmod, Res: 0,
			Args: []schema.Arg{{Str: "x", Resolved: "/home/alice/x"}, schema.IntArg(0)}},
			"evt.arg.filename", "/home/alice/x"},
		{"mkdir mode is upper-case hex", schema.Event{Type: schema.EventMkdir, Res: 0,
			Args: []schema.Arg{schema.StrArg("/x"), schema.IntArg(0755)}}, "evt.arg.mode", "1ED"},
		{"unshare clone flags", schema.Event{Type: schema.EventUnshare, Res: 0,
			Args: []schema.Arg{schema.IntArg(0x00020000 | 0x10000000)}}, "evt.arg.flags", "CLONE_NEWNS|CLONE_NEWUSER"},
		{"setns nstype 0", schema.Event{Type: schema.EventSetns, Res: 0,
			Args: []schema.Arg{schema.IntArg(3), schema.IntArg(0)}}, "evt.arg.nstype", "0"},
		{"symlink target is raw", schema.Event{Type: schema.EventSymlink, Res: 0,
			Args: []schema.Arg{schema.StrArg("../etc/shadow"), {Str: "l", Resolved: "/home/alice/l"}}},
			"evt.arg.target", "../etc/shadow"},
		{"symlink linkpath resolved", schema.Event{Type: schema.EventSymlink, Res: 0,
			Args: []schema.Arg{schema.StrArg("../etc/shadow"), {Str: "l", Resolved: "/home/alice/l"}}},
			"evt.arg.linkpath", "/home/alice/l"},
		{"execve flags 0", schema.Event{Type: schema.EventExecve, Res: 0, Args: execveArgs(0)},
			"evt.arg.flags", "0"},
		{"execve flags", schema.Event{Type: schema.EventExecve, Res: 0,
			Args: execveArgs(schema.ExecWritable | schema.ExecUpperLayer | schema.ExecFromMemfd | schema.ExecLowerLayer)},
			"evt.arg.flags", "EXE_WRITABLE|EXE_UPPER_LAYER|EXE_FROM_MEMFD|EXE_LOWER_LAYER"},
		{"errno result", schema.Event{Type: schema.EventUnlink, Res: -1, Args: []schema.Arg{schema.StrArg("/x")}},
			"evt.arg.res", "EPERM"},
		{"unknown errno prints the number", schema.Event{Type: schema.EventUnlink, Res: -512,
			Args: []schema.Arg{schema.StrArg("/x")}}, "evt.res", "-512"},
		{"success result", schema.Event{Type: schema.EventUnlink, Res: 0, Args: []schema.Arg{schema.StrArg("/x")}},
			"evt.arg.res", "0"},
		{"evt.args", schema.Event{Type: schema.EventUnlinkat, Res: -2,
			Args: []schema.Arg{schema.IntArg(-100), {Str: "d", Resolved: "/home/alice/d"}, schema.IntArg(0x200)}},
			"evt.args", "res=-2(ENOENT) dirfd=-100(AT_FDCWD) name=d(/home/alice/d) flags=512(AT_REMOVEDIR)"},
		{"evt.arg by index", schema.Event{Type: schema.EventUnlinkat, Res: -2,
			Args: []schema.Arg{schema.IntArg(-100), {Str: "d", Resolved: "/home/alice/d"}, schema.IntArg(0x200)}},
			"evt.arg[2]", "/home/alice/d"},
		{"evt.arg index past the table", schema.Event{Type: schema.EventUnlink, Res: 0,
			Args: []schema.Arg{schema.StrArg("/x")}}, "evt.arg[9]", "<NA>"},
		{"connect tuple", schema.Event{Type: schema.EventConnect, Res: 0, Args: []schema.Arg{
			schema.StrArg(schema.Tuple{Family: schema.AFInet, SrcIP: mustAddr("10.0.0.5"), SrcPort: 40000,
				DstIP: mustAddr("1.2.3.4"), DstPort: 443}.Bytes()),
			schema.IntArg(4), schema.StrArg(schema.Sockaddr{Family: schema.AFInet, IP: mustAddr("1.2.3.4"), Port: 443}.Bytes())},
			FD: tcp4("10.0.0.5", 40000, "1.2.3.4", 443, schema.RoleClient)},
			"evt.args", "res=0 tuple=10.0.0.5:40000->1.2.3.4:443 fd=4(<4t>10.0.0.5:40000->1.2.3.4:443) addr=1.2.3.4:443"},
		{"unix tuple", schema.Event{Type: schema.EventConnect, Res: 0, Args: []schema.Arg{
			schema.StrArg(schema.Tuple{Family: schema.AFUnix, SrcPtr: 0xffff1, DstPtr: 0xffff2, Path: "/run/x.sock"}.Bytes()),
			schema.IntArg(9), schema.StrArg(schema.Sockaddr{Family: schema.AFUnix, Path: "/run/x.sock"}.Bytes())}},
			"evt.arg.tuple", "ffff1->ffff2 /run/x.sock"},
		{"sendto buffer", schema.Event{Type: schema.EventSendto, Res: 5, Args: []schema.Arg{
			schema.StrArg("hi\x00\x01!"), schema.IntArg(4), schema.IntArg(5), schema.StrArg("")}},
			"evt.buffer", "hi..!"},
		{"sendto data renders printable", schema.Event{Type: schema.EventSendto, Res: 5, Args: []schema.Arg{
			schema.StrArg("hi\x00\x01!"), schema.IntArg(4), schema.IntArg(5), schema.StrArg("")}},
			"evt.arg.data", "hi..!"},
		{"no buffer on unlink", schema.Event{Type: schema.EventUnlink, Res: 0, Args: []schema.Arg{schema.StrArg("/x")}},
			"evt.buffer", "<NA>"},
		{"evt.abspath of unlinkat", schema.Event{Type: schema.EventUnlinkat, Res: 0,
			Args: []schema.Arg{schema.IntArg(-100), {Str: "d", Resolved: "/home/alice/d"}, schema.IntArg(0)}},
			"evt.abspath", "/home/alice/d"},
		{"evt.abspath of renameat has two paths", schema.Event{Type: schema.EventRenameat, Res: 0,
			Args: []schema.Arg{schema.IntArg(3), {Str: "a", Resolved: "/srv/a"}, schema.IntArg(4), {Str: "b", Resolved: "/tmp/b"}}},
			"evt.abspath", "<NA>"},
		{"evt.abspath.src of renameat", schema.Event{Type: schema.EventRenameat, Res: 0,
			Args: []schema.Arg{schema.IntArg(3), {Str: "a", Resolved: "/srv/a"}, schema.IntArg(4), {Str: "b", Resolved: "/tmp/b"}}},
			"evt.abspath.src", "/srv/a"},
		{"evt.abspath.dst of renameat", schema.Event{Type: schema.EventRenameat, Res: 0,
			Args: []schema.Arg{schema.IntArg(3), {Str: "a", Resolved: "/srv/a"}, schema.IntArg(4), {Str: "b", Resolved: "/tmp/b"}}},
			"evt.abspath.dst", "/tmp/b"},
		{"evt.abspath.dst of symlinkat", schema.Event{Type: schema.EventSymlinkat, Res: 0,
			Args: []schema.Arg{schema.StrArg("/etc/shadow"), schema.IntArg(-100), {Str: "l", Resolved: "/tmp/l"}}},
			"evt.abspath.dst", "/tmp/l"},
		{"evt.abspath of rename (absolute paths only)", schema.Event{Type: schema.EventRename, Res: 0,
			Args: []schema.Arg{schema.StrArg("/a"), schema.StrArg("/b")}}, "evt.abspath", "<NA>"},
		{"fd.containername on host", schema.Event{Type: schema.EventOpenat, Res: 3, FD: &schema.FD{Num: 3, Type: 'f', Name: "/etc/hosts"},
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/etc/hosts"), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}},
			"fd.containername", "host:/etc/hosts"},
		{"fd.containerdirectory on host", schema.Event{Type: schema.EventOpenat, Res: 3, FD: &schema.FD{Num: 3, Type: 'f', Name: "/etc/hosts"},
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/etc/hosts"), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}},
			"fd.containerdirectory", "host:/etc"},
		{"syscall.type", schema.Event{Type: schema.EventUnlink, Res: 0, Args: []schema.Arg{schema.StrArg("/x")}},
			"syscall.type", "unlink"},
		{"syscall.type of a drop event", schema.Event{Type: schema.EventDrop},
			"syscall.type", "<NA>"},
		{"evt.hostname defaults to the node", schema.Event{Type: schema.EventDrop}, "evt.hostname", "node-1"},
		{"evt.time", schema.Event{Type: schema.EventDrop}, "evt.time", "20:26:25.123456789"},
		{"evt.time.iso8601", schema.Event{Type: schema.EventDrop}, "evt.time.iso8601", "2025-12-01T20:26:25.123456789Z"},
		{"evt.rawtime", schema.Event{Type: schema.EventDrop}, "evt.rawtime", "1764620785123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCtx(one(tt.ev, proc, nil), 0, "")
			got := render(t, c, tt.field)[tt.field]
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.field, got, tt.want)
			}
			// A second extraction reads the per-event cache and must agree.
			if again := render(t, c, tt.field)[tt.field]; again != got {
				t.Errorf("%s second extraction = %q, first %q", tt.field, again, got)
			}
		})
	}
}

// execveArgs are the parameters 1.. of an execve exit with the given flags.
func execveArgs(flags int64) []schema.Arg {
	n := len(schema.EventExecve.Spec().Params) - 1
	args := make([]schema.Arg, n)
	args[schema.EventExecve.Param("flags")-1] = schema.IntArg(flags)
	return args
}
