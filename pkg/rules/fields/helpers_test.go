package fields

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Fixed test times (ns since the epoch).
const (
	testTs    = int64(1764620785123456789) // 2025-12-01T20:26:25.123456789Z
	testStart = testTs - 5_000_000_000
)

// one builds a batch holding a single event of proc (nil: unknown
// thread) with container metadata ct (nil: none).
func one(ev schema.Event, proc *schema.Process, ct *schema.Container) *schema.Batch {
	b := &schema.Batch{Version: schema.Version, Node: "node-1", Seq: 1}
	ev.Proc = -1
	if proc != nil {
		b.Procs = append(b.Procs, *proc)
		ev.Proc = 0
	}
	if ct != nil {
		b.Containers = append(b.Containers, *ct)
	}
	if ev.Ts == 0 {
		ev.Ts = testTs
	}
	if ev.Num == 0 {
		ev.Num = 42
	}
	b.Events = append(b.Events, ev)
	return b
}

// render extracts every spelling from c and returns the output text of
// each, NA for no value.
func render(t *testing.T, c *Ctx, spellings ...string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(spellings))
	for _, s := range spellings {
		f := mustField(t, s)
		v, ok := f.Extract(c)
		if !ok {
			out[s] = NA
			continue
		}
		out[s] = f.Format(v)
	}
	return out
}

// all collects the output text of every value of a Multi field.
func all(t *testing.T, c *Ctx, spelling string) []string {
	t.Helper()
	f := mustField(t, spelling)
	var out []string
	f.ExtractAll(c, func(v Value) bool {
		out = append(out, f.Format(v))
		return true
	})
	return out
}

func mustField(t *testing.T, spelling string) *Field {
	t.Helper()
	name, arg, hasArg := Split(spelling)
	f, err := Lookup(name, arg, hasArg)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", spelling, err)
	}
	return f
}

// shellProc is bash in a terminal, child of sshd, child of systemd.
func shellProc() *schema.Process {
	return &schema.Process{
		Pid: 4242, Ppid: 4000, Vpid: 4242, Pgid: 4242, Vpgid: 4242, Sid: 4000,
		Uid: 1000, Euid: 1000, Gid: 1000, Egid: 1000, LoginUID: 1000,
		User: "alice", Group: "alice", LoginName: "alice",
		Comm: "bash", Exe: "-bash", ExePath: "/usr/bin/bash", Args: []string{},
		Env: []string{"HOME=/home/alice", "TERM=xterm", "PADDED= x "}, Cwd: "/home/alice/",
		TTY: 34816, SName: "sshd", StartTs: testStart, ContainerID: schema.HostContainerID,
		Ancestors: []schema.Ancestor{
			{Pid: 4000, Comm: "sshd", Exe: "sshd: alice", ExePath: "/usr/sbin/sshd", Args: []string{"-D"}},
			{Pid: 1, Comm: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd", Args: []string{"splash"}},
		},
	}
}

func tcp4(client string, cport uint16, server string, sport uint16, role uint8) *schema.FD {
	fd := &schema.FD{Num: 4, Type: '4', Family: schema.AFInet, L4: ipprotoTCP, Role: role,
		ClientPort: cport, ServerPort: sport}
	if client != "" {
		fd.ClientIP = netip.MustParseAddr(client)
	}
	if server != "" {
		fd.ServerIP = netip.MustParseAddr(server)
	}
	switch {
	case client != "" && server != "":
		fd.Name = client + ":" + itoa(cport) + "->" + server + ":" + itoa(sport)
		fd.Connected = true
	case server != "":
		fd.Name = server + ":" + itoa(sport)
	}
	return fd
}

func itoa(n uint16) string { return strconv.Itoa(int(n)) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
