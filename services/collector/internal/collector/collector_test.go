package collector

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/procfs"
)

func run(t *testing.T, name string, args ...string) int64 {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out.String())
	}
	return int64(cmd.Process.Pid)
}

func selfComm(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestOpenatShadow(t *testing.T) {
	skipUnlessRoot(t)
	checkNoGoroutineLeak(t)
	_, s := startCollector(t, Config{NoPublish: true})
	pid := run(t, "cat", "/etc/shadow")
	r := s.wait(t, "openat /etc/shadow", func(r *schema.Record) bool {
		name, _ := argStr(r, "name")
		return r.Event.Type == schema.EventOpenat && isExit(r) && r.Proc != nil && r.Proc.Pid == pid && name == "/etc/shadow"
	})
	if r.Event.Res < 0 {
		t.Errorf("res %d, want an fd", r.Event.Res)
	}
	flags, _ := argInt(&r, "flags")
	if flags&3 != 0 { // O_RDONLY
		t.Errorf("flags %#o, want read-only", flags)
	}
	if r.Event.FD == nil || r.Event.FD.Num < 0 || r.Event.FD.Name != "/etc/shadow" || r.Event.FD.Type != 'f' {
		t.Errorf("fd %+v", r.Event.FD)
	}
	p := r.Proc
	if p.Comm != "cat" {
		t.Errorf("proc.name %q, want cat", p.Comm)
	}
	if len(p.Ancestors) == 0 || p.Ancestors[0].Pid != int64(os.Getpid()) || p.Ancestors[0].Comm != selfComm(t) {
		t.Fatalf("ancestors %+v, want the test (%d %s) first", p.Ancestors, os.Getpid(), selfComm(t))
	}
	if p.Ppid != int64(os.Getpid()) {
		t.Errorf("ppid %d", p.Ppid)
	}
	if p.User != "root" || p.ContainerID != schema.HostContainerID {
		t.Errorf("user %q container %q", p.User, p.ContainerID)
	}
	if len(p.Ancestors) < 2 {
		t.Errorf("only %d ancestors", len(p.Ancestors))
	}
	// the enter event comes first, with fd -1
	s.wait(t, "openat enter", func(r *schema.Record) bool {
		name, _ := argStr(r, "name")
		return r.Event.Type == schema.EventOpenat && !isExit(r) && r.Proc != nil && r.Proc.Pid == pid &&
			name == "/etc/shadow" && r.Event.FD != nil && r.Event.FD.Num == -1
	})
}

// TestEnterFolded: the probe folds an open's enter event into its exit
// record and user space emits it just before the exit, with the enter's
// own time and arguments. A path too long to fold in task storage goes
// out as an enter record of its own; both must look the same.
func TestEnterFolded(t *testing.T) {
	skipUnlessRoot(t)
	_, s := startCollector(t, Config{NoPublish: true})
	dir := t.TempDir()
	long := dir
	for len(long) < 700 { // more than the probe's 512 bytes of room
		long = filepath.Join(long, strings.Repeat("d", 60))
	}
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "short"), filepath.Join(long, "f")} {
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		pid := run(t, "cat", path)
		open := func(exit bool) func(*schema.Record) bool {
			return func(r *schema.Record) bool {
				name, _ := argStr(r, "name")
				return r.Event.Type == schema.EventOpenat && isExit(r) == exit && r.Proc != nil && r.Proc.Pid == pid && name == path
			}
		}
		ie, enter := s.waitIndex(t, "openat enter", open(false))
		ix, exit := s.waitIndex(t, "openat exit", open(true))
		if ie > ix {
			t.Errorf("%d-byte path: enter event at %d, after its exit at %d", len(path), ie, ix)
		}
		if enter.Event.Ts > exit.Event.Ts {
			t.Errorf("%d-byte path: enter at %d, later than the exit at %d", len(path), enter.Event.Ts, exit.Event.Ts)
		}
		if enter.Event.FD == nil || enter.Event.FD.Num != -1 || exit.Event.FD == nil || exit.Event.FD.Num < 0 {
			t.Errorf("%d-byte path: fd %+v on enter, %+v on exit", len(path), enter.Event.FD, exit.Event.FD)
		}
		ef, ok1 := argInt(&enter, "flags")
		xf, ok2 := argInt(&exit, "flags")
		if !ok1 || !ok2 || ef != xf {
			t.Errorf("%d-byte path: flags %#o (%v) on enter, %#o (%v) on exit", len(path), ef, ok1, xf, ok2)
		}
		if enter.Proc.Comm != "cat" || enter.Event.Tid != exit.Event.Tid {
			t.Errorf("%d-byte path: enter proc %+v", len(path), enter.Proc)
		}
	}
}

func TestExecveArgvExe(t *testing.T) {
	_, s := startCollector(t, Config{NoPublish: true})
	marker := fmt.Sprintf("marker-%d", os.Getpid())
	pid := run(t, "/bin/echo", "hello", marker)
	r := s.wait(t, "execve echo", func(r *schema.Record) bool {
		return r.Event.Type == schema.EventExecve && r.Proc != nil && r.Proc.Pid == pid
	})
	if r.Event.Res != 0 {
		t.Errorf("res %d", r.Event.Res)
	}
	p := r.Proc
	if p.Exe != "/bin/echo" || strings.Join(p.Args, " ") != "hello "+marker || p.Comm != "echo" {
		t.Errorf("exe %q args %q comm %q", p.Exe, p.Args, p.Comm)
	}
	want, _ := filepath.EvalSymlinks("/bin/echo")
	if p.ExePath != want {
		t.Errorf("exepath %q, want %q", p.ExePath, want)
	}
	if a, _ := argStr(&r, "args"); a != "hello\x00"+marker {
		t.Errorf("args param %q", a)
	}
	if f, _ := argStr(&r, "filename"); f != "/bin/echo" {
		t.Errorf("filename %q", f)
	}
	if len(p.Ancestors) == 0 || p.Ancestors[0].Pid != int64(os.Getpid()) {
		t.Errorf("ancestors %+v", p.Ancestors)
	}
}

// listen accepts and closes connections on addr until the test ends.
func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

func TestConnectTuple(t *testing.T) {
	_, s := startCollector(t, Config{NoPublish: true})
	ln := listen(t, "tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	pid := run(t, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d", port))
	r := s.wait(t, "connect", func(r *schema.Record) bool {
		// bash may first ask nscd over a unix socket; the TCP connect is the one with an inet tuple
		tuple, _ := argStr(r, "tuple")
		return r.Event.Type == schema.EventConnect && isExit(r) && r.Proc != nil && r.Proc.Pid == pid &&
			tuple != "" && tuple[0] == schema.AFInet
	})
	if r.Event.Res != 0 {
		t.Errorf("res %d", r.Event.Res)
	}
	raw, _ := argStr(&r, "tuple")
	tu, err := schema.ParseTuple(raw)
	if err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	if tu.Family != schema.AFInet || tu.DstIP != lo || tu.DstPort != uint16(port) || tu.SrcIP != lo || tu.SrcPort == 0 {
		t.Errorf("tuple %+v", tu)
	}
	fd := r.Event.FD
	if fd == nil || fd.Type != '4' || fd.ServerPort != uint16(port) || fd.Role != schema.RoleClient ||
		fd.Name != fmt.Sprintf("127.0.0.1:%d->127.0.0.1:%d", tu.SrcPort, port) {
		t.Errorf("fd %+v", fd)
	}
	if sa, _ := argStr(&r, "addr"); sa != (schema.Sockaddr{Family: schema.AFInet, IP: lo, Port: uint16(port)}).Bytes() {
		t.Errorf("addr %q", sa)
	}
}

// dialUnixEnv makes the test binary, run as a child, connect to the unix socket it names.
const dialUnixEnv = "PEREGRINE_TEST_DIAL_UNIX"

func dialUnix(path string) int {
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.Close()
	return 0
}

func TestConnectUnix(t *testing.T) {
	_, s := startCollector(t, Config{NoPublish: true})
	path := filepath.Join(t.TempDir(), fmt.Sprintf("peregrine-%d.sock", os.Getpid()))
	listen(t, "unix", path)
	// the collector ignores its own process, so a child dials
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), dialUnixEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dial child: %v\n%s", err, out)
	}
	pid := int64(cmd.Process.Pid)
	r := s.wait(t, "unix connect", func(r *schema.Record) bool {
		tuple, _ := argStr(r, "tuple")
		tu, err := schema.ParseTuple(tuple)
		return r.Event.Type == schema.EventConnect && isExit(r) && r.Proc != nil &&
			r.Proc.Pid == pid && err == nil && tu.Path == path
	})
	raw, _ := argStr(&r, "tuple")
	tu, _ := schema.ParseTuple(raw)
	// Falco names a unix socket fd "<own sock>-><peer sock> <path>", kernel addresses in hex
	if tu.Family != schema.AFUnix || tu.SrcPtr>>48 != 0xffff || tu.DstPtr>>48 != 0xffff || tu.SrcPtr == tu.DstPtr {
		t.Errorf("tuple %+v: want two kernel socket addresses", tu)
	}
	fd := r.Event.FD
	if fd == nil || fd.Type != 'u' || fd.Name != fmt.Sprintf("%x->%x %s", tu.SrcPtr, tu.DstPtr, path) {
		t.Errorf("fd %+v", fd)
	}
}

func TestNamespaces(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	_, s := startCollector(t, Config{NoPublish: true})
	f := filepath.Join(t.TempDir(), "in-namespaces")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "unshare", "--pid", "--fork", "--mount", "--net", "cat", f)
	r := s.wait(t, "openat in namespaces", func(r *schema.Record) bool {
		name, _ := argStr(r, "name")
		return r.Event.Type == schema.EventOpenat && isExit(r) && name == f && r.Proc != nil
	})
	self, err := procfs.FS("/proc").Read(int64(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	ns := r.Proc.NS
	if ns.Pid == self.NS[0] || ns.Mnt == self.NS[1] || ns.Net == self.NS[2] {
		t.Errorf("namespaces %+v, host %v: want pid, mnt and net to differ", ns, self.NS)
	}
	if ns.User != self.NS[3] || ns.UTS != self.NS[4] {
		t.Errorf("user/uts ns %+v changed, host %v", ns, self.NS)
	}
	if r.Proc.Vpid != 1 {
		t.Errorf("vpid %d, want 1 (init of the new pid namespace)", r.Proc.Vpid)
	}
	if r.Proc.Comm != "cat" {
		t.Errorf("comm %q", r.Proc.Comm)
	}
	// cat is the namespace's init: container.start_ts is its own start
	if r.Proc.PidNSInitStartTs == 0 || r.Proc.PidNSInitStartTs != r.Proc.StartTs {
		t.Errorf("pidns init start %d, want cat's start %d", r.Proc.PidNSInitStartTs, r.Proc.StartTs)
	}
}

// TestPidNSInitStart: proc.pidns_init_start_ts (container.start_ts) is the
// start of the pid namespace's init, for a process that is not the init,
// and for host processes that of the host's pid 1.
func TestPidNSInitStart(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	_, s := startCollector(t, Config{NoPublish: true})
	f := filepath.Join(t.TempDir(), "pidns-child")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "unshare", "--pid", "--fork", "sh", "-c", "cat "+f+"; true")
	r := s.wait(t, "openat by the init's child", func(r *schema.Record) bool {
		name, _ := argStr(r, "name")
		return r.Event.Type == schema.EventOpenat && isExit(r) && name == f && r.Proc != nil
	})
	if r.Proc.Vpid == 1 {
		t.Fatalf("cat is the init (vpid 1); want sh to be")
	}
	if len(r.Proc.Ancestors) == 0 || r.Proc.Ancestors[0].Comm != "sh" {
		t.Fatalf("ancestors %+v, want sh first", r.Proc.Ancestors)
	}
	sh := s.wait(t, "the namespace's init", func(x *schema.Record) bool {
		return x.Proc != nil && x.Proc.Pid == r.Proc.Ancestors[0].Pid && x.Proc.Vpid == 1
	})
	if r.Proc.PidNSInitStartTs == 0 || r.Proc.PidNSInitStartTs != sh.Proc.StartTs {
		t.Errorf("pidns init start %d, want sh's start %d", r.Proc.PidNSInitStartTs, sh.Proc.StartTs)
	}
	// the host: pid 1 started before any of the test's processes
	pid := run(t, "cat", f)
	h := s.wait(t, "openat on the host", func(x *schema.Record) bool {
		return x.Event.Type == schema.EventOpenat && isExit(x) && x.Proc != nil && x.Proc.Pid == pid
	})
	if h.Proc.PidNSInitStartTs == 0 || h.Proc.PidNSInitStartTs > sh.Proc.StartTs {
		t.Errorf("host pidns init start %d, want pid 1's, before %d", h.Proc.PidNSInitStartTs, sh.Proc.StartTs)
	}
}
