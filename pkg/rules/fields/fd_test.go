package fields

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

var sockFields = []string{
	"fd.num", "fd.typechar", "fd.type", "fd.name", "fd.sockfamily", "fd.l4proto", "fd.connected",
	"fd.cip", "fd.sip", "fd.lip", "fd.rip", "fd.cport", "fd.sport", "fd.lport", "fd.rport",
	"fd.directory", "fd.filename", "fd.sip.name", "fd.name_changed", "fd.types", "evt.arg.fd",
}

func TestSocketFields(t *testing.T) {
	connect := func(fd *schema.FD) schema.Event {
		return schema.Event{Type: schema.EventConnect, Res: 0, FD: fd, Args: []schema.Arg{
			schema.StrArg(""), schema.IntArg(fd.Num), schema.StrArg("")}}
	}
	accept := func(fd *schema.FD) schema.Event {
		return schema.Event{Type: schema.EventAccept4, Res: fd.Num, FD: fd, Args: []schema.Arg{
			schema.StrArg(""), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}}
	}
	unix := &schema.FD{Num: 9, Type: 'u', Family: schema.AFUnix, Role: schema.RoleClient,
		Name: "ffff9c7b1a1e0000->ffff9c7b1a1e0880 /run/docker.sock"}
	v6 := tcp4("", 0, "", 0, schema.RoleClient)
	v6.Type, v6.Family, v6.L4 = '6', schema.AFInet6, ipprotoUDP
	v6.ClientIP, v6.ClientPort = netip.MustParseAddr("fd00::5"), 5353
	v6.ServerIP, v6.ServerPort = netip.MustParseAddr("::ffff:8.8.8.8"), 53
	v6.Name = "fd00::5:5353->8.8.8.8:53"
	tests := []struct {
		name string
		ev   schema.Event
		want map[string]string
		ip   []string // fd.ip values
	}{{
		name: "connect client tuple",
		ev:   connect(tcp4("10.0.0.5", 40000, "1.2.3.4", 443, schema.RoleClient)),
		want: map[string]string{
			"fd.num": "4", "fd.typechar": "4", "fd.type": "ipv4", "fd.name": "10.0.0.5:40000->1.2.3.4:443",
			"fd.sockfamily": "ip", "fd.l4proto": "tcp", "fd.connected": "true",
			"fd.cip": "10.0.0.5", "fd.sip": "1.2.3.4", "fd.lip": "10.0.0.5", "fd.rip": "1.2.3.4",
			"fd.cport": "40000", "fd.sport": "443", "fd.lport": "40000", "fd.rport": "443",
			"fd.directory": NA, "fd.filename": NA, "fd.sip.name": NA, "fd.name_changed": "false", "fd.types": "(ipv4)",
			"evt.arg.fd": "<4t>10.0.0.5:40000->1.2.3.4:443",
		},
		ip: []string{"10.0.0.5", "1.2.3.4"},
	}, {
		name: "accepted server socket: local end is the server",
		ev:   accept(tcp4("1.2.3.4", 5555, "10.0.0.5", 22, schema.RoleServer)),
		want: map[string]string{
			"fd.num": "4", "fd.typechar": "4", "fd.type": "ipv4", "fd.name": "1.2.3.4:5555->10.0.0.5:22",
			"fd.sockfamily": "ip", "fd.l4proto": "tcp", "fd.connected": "true",
			"fd.cip": "1.2.3.4", "fd.sip": "10.0.0.5", "fd.lip": "10.0.0.5", "fd.rip": "1.2.3.4",
			"fd.cport": "5555", "fd.sport": "22", "fd.lport": "22", "fd.rport": "5555",
			"fd.directory": NA, "fd.filename": NA, "fd.sip.name": NA, "fd.name_changed": "false", "fd.types": "(ipv4)",
			"evt.arg.fd": "<4t>1.2.3.4:5555->10.0.0.5:22",
		},
		ip: []string{"1.2.3.4", "10.0.0.5"},
	}, {
		name: "listening socket has one end",
		ev: schema.Event{Type: schema.EventListen, Res: 0, FD: tcp4("", 0, "0.0.0.0", 8080, schema.RoleServer),
			Args: []schema.Arg{schema.IntArg(4), schema.IntArg(128)}},
		want: map[string]string{
			"fd.num": "4", "fd.typechar": "4", "fd.type": "ipv4", "fd.name": "0.0.0.0:8080",
			"fd.sockfamily": "ip", "fd.l4proto": "tcp", "fd.connected": "false",
			"fd.cip": NA, "fd.sip": "0.0.0.0", "fd.lip": "0.0.0.0", "fd.rip": NA,
			"fd.cport": NA, "fd.sport": "8080", "fd.lport": "8080", "fd.rport": NA,
			"fd.directory": NA, "fd.filename": NA, "fd.sip.name": NA, "fd.name_changed": "false", "fd.types": "(ipv4)",
			"evt.arg.fd": "<4t>0.0.0.0:8080",
		},
		ip: []string{"0.0.0.0"},
	}, {
		name: "new socket before connect",
		ev: schema.Event{Type: schema.EventSocket, Res: 4, FD: tcp4("", 0, "", 0, schema.RoleNone),
			Args: []schema.Arg{schema.IntArg(2), schema.IntArg(1), schema.IntArg(0), schema.IntArg(0)}},
		want: map[string]string{
			"fd.num": "4", "fd.typechar": "4", "fd.type": "ipv4", "fd.name": "",
			"fd.sockfamily": "ip", "fd.l4proto": NA, "fd.connected": "false",
			"fd.cip": NA, "fd.sip": NA, "fd.lip": NA, "fd.rip": NA,
			"fd.cport": NA, "fd.sport": NA, "fd.lport": NA, "fd.rport": NA,
			"fd.directory": NA, "fd.filename": NA, "fd.sip.name": NA, "fd.name_changed": "false", "fd.types": "(ipv4)",
			"evt.arg.fd": "<4t>",
		},
	}, {
		name: "ipv6 udp with a v4-mapped server",
		ev:   connect(v6),
		want: map[string]string{
			"fd.num": "4", "fd.typechar": "6", "fd.type": "ipv6", "fd.name": "fd00::5:5353->8.8.8.8:53",
			"fd.sockfamily": "ip", "fd.l4proto": "udp", "fd.connected": "false",
			"fd.cip": "fd00::5", "fd.sip": "8.8.8.8", "fd.lip": "fd00::5", "fd.rip": "8.8.8.8",
			"fd.cport": "5353", "fd.sport": "53", "fd.lport": "5353", "fd.rport": "53",
			"fd.directory": NA, "fd.filename": NA, "fd.sip.name": NA, "fd.name_changed": "false", "fd.types": "(ipv6)",
			"evt.arg.fd": "<6u>fd00::5:5353->8.8.8.8:53",
		},
		ip: []string{"fd00::5", "8.8.8.8"},
	}, {
		name: "first sendto on an unconnected udp socket changes its name",
		ev: func() schema.Event {
			fd := tcp4("10.0.0.5", 5353, "8.8.8.8", 53, schema.RoleClient)
			fd.L4, fd.Connected, fd.NameChanged = ipprotoUDP, false, true
			return schema.Event{Type: schema.EventSendto, Res: 10, FD: fd, Args: []schema.Arg{
				schema.StrArg("q"), schema.IntArg(4), schema.IntArg(10), schema.StrArg("")}}
		}(),
		want: map[string]string{
			"fd.num": "4", "fd.typechar": "4", "fd.type": "ipv4", "fd.name": "10.0.0.5:5353->8.8.8.8:53",
			"fd.sockfamily": "ip", "fd.l4proto": "udp", "fd.connected": "false",
			"fd.cip": "10.0.0.5", "fd.sip": "8.8.8.8", "fd.lip": "10.0.0.5", "fd.rip": "8.8.8.8",
			"fd.cport": "5353", "fd.sport": "53", "fd.lport": "5353", "fd.rport": "53",
			"fd.directory": NA, "fd.filename": NA, "fd.sip.name": NA, "fd.name_changed": "true", "fd.types": "(ipv4)",
			"evt.arg.fd": "<4u>10.0.0.5:5353->8.8.8.8:53",
		},
		ip: []string{"10.0.0.5", "8.8.8.8"},
	}, {
		name: "unix socket",
		ev:   connect(unix),
		want: map[string]string{
			"fd.num": "9", "fd.typechar": "u", "fd.type": "unix", "fd.name": unix.Name,
			"fd.sockfamily": "unix", "fd.l4proto": NA, "fd.connected": "false",
			"fd.cip": NA, "fd.sip": NA, "fd.lip": NA, "fd.rip": NA,
			"fd.cport": NA, "fd.sport": NA, "fd.lport": NA, "fd.rport": NA,
			"fd.directory": NA, "fd.filename": NA, "fd.sip.name": NA, "fd.name_changed": "false", "fd.types": "(unix)",
			"evt.arg.fd": "<u>" + unix.Name,
		},
	}, {
		name: "event without fd fields",
		ev:   schema.Event{Type: schema.EventRename, Res: 0, FD: unix, Args: []schema.Arg{schema.StrArg("/a"), schema.StrArg("/b")}},
		want: map[string]string{
			"fd.num": NA, "fd.typechar": NA, "fd.type": NA, "fd.name": NA,
			"fd.sockfamily": NA, "fd.l4proto": NA, "fd.connected": NA,
			"fd.cip": NA, "fd.sip": NA, "fd.lip": NA, "fd.rip": NA,
			"fd.cport": NA, "fd.sport": NA, "fd.lport": NA, "fd.rport": NA,
			"fd.directory": NA, "fd.filename": NA, "fd.sip.name": NA, "fd.name_changed": NA, "fd.types": NA,
			"evt.arg.fd": NA,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCtx(one(tt.ev, shellProc(), nil), 0, "")
			if diff := cmp.Diff(tt.want, render(t, c, sockFields...)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ip, all(t, c, "fd.ip")); diff != "" {
				t.Errorf("fd.ip values (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBothEnds: fd.ip/fd.port/fd.net are Multi and filter-only, exist
// whenever the event has an fd, and have no values on a non-socket fd.
func TestBothEnds(t *testing.T) {
	for _, s := range []string{"fd.ip", "fd.port", "fd.net"} {
		f := mustField(t, s)
		if !f.Multi() || !f.FilterOnly() {
			t.Errorf("%s: Multi %v FilterOnly %v, want both true", s, f.Multi(), f.FilterOnly())
		}
	}
	for s, want := range map[string]MultiMode{"fd.ip": MultiEndpoints, "fd.port": MultiEndpoints, "fd.net": MultiEndpoints,
		"proc.aname": MultiAny, "proc.apid": MultiAny, "fd.types": MultiList} {
		if got := mustField(t, s).MultiMode(); got != want {
			t.Errorf("%s: MultiMode %v, want %v", s, got, want)
		}
	}
	for _, s := range []string{"fd.cnet", "fd.snet", "fd.rnet", "fd.lnet"} {
		if f := mustField(t, s); f.Multi() || !f.FilterOnly() || f.Type != TIPNet {
			t.Errorf("%s: Multi %v FilterOnly %v Type %v", s, f.Multi(), f.FilterOnly(), f.Type)
		}
	}
	if f := mustField(t, "fd.sip"); f.FilterOnly() || f.Multi() {
		t.Errorf("fd.sip must be a plain output field")
	}

	file := schema.Event{Type: schema.EventOpenat, Res: 3, FD: &schema.FD{Num: 3, Type: 'f', Name: "/etc/passwd"},
		Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/etc/passwd"), schema.IntArg(0), schema.IntArg(0),
			schema.IntArg(0), schema.IntArg(0)}}
	c := NewCtx(one(file, shellProc(), nil), 0, "")
	if got := all(t, c, "fd.ip"); len(got) != 0 {
		t.Errorf("fd.ip on a file = %v, want no values", got)
	}
	if !mustField(t, "fd.ip").Exists(c) {
		t.Errorf("fd.ip exists on a file fd: got false")
	}
	noFD := NewCtx(one(schema.Event{Type: schema.EventRename, Args: []schema.Arg{schema.StrArg("/a"), schema.StrArg("/b")}},
		shellProc(), nil), 0, "")
	if mustField(t, "fd.ip").Exists(noFD) {
		t.Errorf("fd.ip exists on rename: got true")
	}

	sock := schema.Event{Type: schema.EventConnect, FD: tcp4("192.168.1.9", 40000, "10.1.2.3", 443, schema.RoleClient),
		Args: []schema.Arg{schema.StrArg(""), schema.IntArg(4), schema.StrArg("")}}
	c = NewCtx(one(sock, shellProc(), nil), 0, "")
	if diff := cmp.Diff([]string{"40000", "443"}, all(t, c, "fd.port")); diff != "" {
		t.Errorf("fd.port values (-want +got):\n%s", diff)
	}
	net := mustField(t, "fd.net")
	tenNet, err := net.ParseLiteral("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	var in []bool
	net.ExtractAll(c, func(v Value) bool { in = append(in, tenNet.Contains(v.IP)); return true })
	if diff := cmp.Diff([]bool{false, true}, in); diff != "" {
		t.Errorf("fd.net in 10.0.0.0/8 per end (-want +got):\n%s", diff)
	}
	snet := mustField(t, "fd.snet")
	v, ok := snet.Extract(c)
	if !ok || !tenNet.Contains(v.IP) {
		t.Errorf("fd.snet = %v, %v; want 10.1.2.3 inside 10.0.0.0/8", v, ok)
	}
}

func TestFileFDs(t *testing.T) {
	fields := []string{"fd.num", "fd.typechar", "fd.type", "fd.name", "fd.directory", "fd.filename", "fd.nameraw", "fd.l4proto",
		"fd.sockfamily", "fd.ino", "fd.dev"}
	tests := []struct {
		name string
		ev   schema.Event
		want map[string]string
	}{{
		name: "directory opened with O_DIRECTORY",
		ev: schema.Event{Type: schema.EventOpenat, Res: 3, FD: &schema.FD{Num: 3, Type: 'd', Name: "/etc", NameRaw: "/etc", Ino: 5, Dev: 8},
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/etc"), schema.IntArg(0200000), schema.IntArg(0),
				schema.IntArg(8), schema.IntArg(5)}},
		want: map[string]string{"fd.num": "3", "fd.typechar": "d", "fd.type": "directory", "fd.name": "/etc",
			"fd.directory": "/etc", "fd.filename": NA, "fd.nameraw": "/etc", "fd.l4proto": NA, "fd.sockfamily": NA,
			"fd.ino": "5", "fd.dev": "8"},
	}, {
		name: "file in the root directory",
		ev: schema.Event{Type: schema.EventOpenat, Res: 3, FD: &schema.FD{Num: 3, Type: 'f', Name: "/vmlinuz"},
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/vmlinuz"), schema.IntArg(0), schema.IntArg(0),
				schema.IntArg(0), schema.IntArg(0)}},
		want: map[string]string{"fd.num": "3", "fd.typechar": "f", "fd.type": "file", "fd.name": "/vmlinuz",
			"fd.directory": "/", "fd.filename": "vmlinuz", "fd.nameraw": "", "fd.l4proto": NA, "fd.sockfamily": NA,
			"fd.ino": "0", "fd.dev": "0"},
	}, {
		name: "unlinkat relative to AT_FDCWD",
		ev: schema.Event{Type: schema.EventUnlinkat, Res: 0,
			Args: []schema.Arg{schema.IntArg(-100), {Str: "x", Resolved: "/tmp/x"}, schema.IntArg(0)}},
		want: map[string]string{"fd.num": "-100", "fd.typechar": "o", "fd.type": NA, "fd.name": "",
			"fd.directory": "/", "fd.filename": NA, "fd.nameraw": NA, "fd.l4proto": NA, "fd.sockfamily": NA,
			"fd.ino": NA, "fd.dev": NA},
	}, {
		name: "pipe fd read",
		ev: schema.Event{Type: schema.EventFchmod, Res: 0, FD: &schema.FD{Num: 0, Type: 'p', Name: "pipe:[123]"},
			Args: []schema.Arg{schema.IntArg(0), schema.IntArg(0644)}},
		want: map[string]string{"fd.num": "0", "fd.typechar": "p", "fd.type": "pipe", "fd.name": "pipe:[123]",
			"fd.directory": NA, "fd.filename": NA, "fd.nameraw": "", "fd.l4proto": NA, "fd.sockfamily": NA,
			"fd.ino": "0", "fd.dev": "0"},
	}, {
		name: "userfaultfd shares typechar u with unix sockets",
		ev: schema.Event{Type: schema.EventUserfaultfd, Res: 5, FD: &schema.FD{Num: 5, Type: 'u', Name: "anon_inode:[userfaultfd]"},
			Args: []schema.Arg{schema.IntArg(0)}},
		want: map[string]string{"fd.num": "5", "fd.typechar": "u", "fd.type": "userfaultfd", "fd.name": "anon_inode:[userfaultfd]",
			"fd.directory": NA, "fd.filename": NA, "fd.nameraw": "", "fd.l4proto": NA, "fd.sockfamily": NA,
			"fd.ino": "0", "fd.dev": "0"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCtx(one(tt.ev, shellProc(), nil), 0, "")
			if diff := cmp.Diff(tt.want, render(t, c, fields...)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMatch: Match gives "=" (matched) and "!=" (present && !matched)
// semantics for Multi fields without the caller building a closure.
func TestMatch(t *testing.T) {
	sock := NewCtx(one(schema.Event{Type: schema.EventConnect, FD: tcp4("192.168.1.9", 40000, "10.1.2.3", 443, schema.RoleClient),
		Args: []schema.Arg{schema.StrArg(""), schema.IntArg(4), schema.StrArg("")}}, shellProc(), nil), 0, "")
	file := NewCtx(one(schema.Event{Type: schema.EventOpenat, Res: 3, FD: &schema.FD{Num: 3, Type: 'f', Name: "/x"},
		Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/x"), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0),
			schema.IntArg(0)}}, nil, nil), 0, "")
	flat := &Ctx{Flat: map[string]any{"proc.aname": []string{"sshd", "systemd"}}}
	ipIs := func(s string) func(Value) bool {
		want := netip.MustParseAddr(s)
		return func(v Value) bool { return v.IP == want }
	}
	strIs := func(s string) func(Value) bool { return func(v Value) bool { return v.Str == s } }
	tests := []struct {
		name             string
		c                *Ctx
		field            string
		pred             func(Value) bool
		matched, present bool
	}{
		{"fd.ip server end", sock, "fd.ip", ipIs("10.1.2.3"), true, true},
		{"fd.ip client end", sock, "fd.ip", ipIs("192.168.1.9"), true, true},
		{"fd.ip neither end", sock, "fd.ip", ipIs("8.8.8.8"), false, true},
		{"fd.ip on a file", file, "fd.ip", ipIs("8.8.8.8"), false, false},
		{"proc.aname some ancestor", sock, "proc.aname", strIs("systemd"), true, true},
		{"proc.aname self excluded", sock, "proc.aname", strIs("bash"), false, true},
		{"proc.aname unknown thread", file, "proc.aname", strIs("bash"), false, false},
		{"single field", sock, "proc.name", strIs("bash"), true, true},
		{"single field, no value", file, "proc.name", strIs("bash"), false, false},
		{"flat list", flat, "proc.aname", strIs("systemd"), true, true},
		{"flat missing", flat, "proc.name", strIs("x"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, p := mustField(t, tt.field).Match(tt.c, tt.pred)
			if m != tt.matched || p != tt.present {
				t.Errorf("Match = (%v, %v), want (%v, %v)", m, p, tt.matched, tt.present)
			}
		})
	}
}

func TestNullFDNames(t *testing.T) {
	tuple := schema.StrArg(schema.Tuple{Family: schema.AFInet, SrcIP: mustAddr("10.0.0.5"), SrcPort: 40000,
		DstIP: mustAddr("1.2.3.4"), DstPort: 443}.Bytes())
	tests := []struct {
		name string
		ev   schema.Event
		want map[string]string
	}{{
		name: "failed connect names the attempted tuple",
		ev: schema.Event{Type: schema.EventConnect, Res: -111, FD: tcp4("", 0, "", 0, schema.RoleNone),
			Args: []schema.Arg{tuple, schema.IntArg(4), schema.StrArg("")}},
		want: map[string]string{"fd.name": "10.0.0.5:40000->1.2.3.4:443", "fd.num": "4", "fd.typechar": "4",
			"fd.directory": NA, "evt.res": "ECONNREFUSED"},
	}, {
		name: "accept without fd info",
		ev:   schema.Event{Type: schema.EventAccept, Res: 5, Args: []schema.Arg{tuple, schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}},
		want: map[string]string{"fd.name": "10.0.0.5:40000->1.2.3.4:443", "fd.num": "5", "fd.typechar": "4",
			"fd.directory": "/", "evt.res": "SUCCESS"},
	}, {
		name: "failed openat relative to a dirfd uses the resolved path",
		ev: schema.Event{Type: schema.EventOpenat, Res: -2, Args: []schema.Arg{schema.IntArg(5), {Str: "a/b", Resolved: "/srv/a/b"},
			schema.IntArg(0), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)}},
		want: map[string]string{"fd.name": "/srv/a/b", "fd.num": "-1", "fd.typechar": "f", "fd.directory": "/srv/a",
			"evt.res": "ENOENT"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCtx(one(tt.ev, shellProc(), nil), 0, "")
			if diff := cmp.Diff(tt.want, render(t, c, "fd.name", "fd.num", "fd.typechar", "fd.directory", "evt.res")); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDirAndFileOf(t *testing.T) {
	tests := []struct{ name, dir, file string }{
		{"/etc/passwd", "/etc", "passwd"},
		{"/vmlinuz", "/", "vmlinuz"},
		{"/etc/", "/etc/", "/etc/"},
		{"relative", "/", "/"},
		{"", "/", "/"},
		{"/a/b/c", "/a/b", "c"},
	}
	for _, tt := range tests {
		if d, f := dirOf(tt.name), fileOf(tt.name); d != tt.dir || f != tt.file {
			t.Errorf("dirOf, fileOf(%q) = %q, %q; want %q, %q", tt.name, d, f, tt.dir, tt.file)
		}
	}
}
