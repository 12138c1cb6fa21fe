package collector

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/probe"
	"github.com/peregrine-rt/peregrine/services/collector/internal/procfs"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// The probe sends a thread's process context only when it may have
// changed; these tests change it under a running thread and check every
// event still carries the right one.

// ctxChildEnv runs the test binary as a child that opens files in a
// directory around a context change: "<mode> <dir>".
const ctxChildEnv = "PEREGRINE_TEST_CTX_CHILD"

// ctxChild runs on one OS thread: creds and namespaces changed by raw
// syscalls are the thread's own, and the opens must see them.
func ctxChild(spec string) int {
	runtime.LockOSThread()
	mode, dir, _ := strings.Cut(spec, " ")
	open := func(name string) {
		// the result does not matter (nobody may not read dir): the
		// event does
		if fd, err := unix.Open(filepath.Join(dir, name), unix.O_RDONLY, 0); err == nil {
			unix.Close(fd)
		}
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch mode {
	case "setuid":
		open("before")
		if err := unix.Setresuid(65534, 65534, 65534); err != nil {
			return fail(err)
		}
		open("after")
		open("after2")
	case "unshare":
		open("before")
		if err := unix.Unshare(unix.CLONE_NEWNET | unix.CLONE_NEWUTS); err != nil {
			return fail(err)
		}
		open("after")
		// exec: the new image's records must keep the new namespaces
		err := unix.Exec("/bin/cat", []string{"cat", filepath.Join(dir, "exec")}, os.Environ())
		return fail(err)
	case "threads":
		// two threads of one process, one of them setuid nobody: each
		// event has its own thread's ids
		step := make(chan struct{})
		done := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with its creds
			// the raw call changes this thread only (unix.Setresuid
			// changes them all, as POSIX wants)
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 65534, 65534, 65534); e != 0 {
				done <- e
				return
			}
			done <- nil
			<-step
			open("b1")
			done <- nil
			<-step
			open("b2")
			done <- nil
		}()
		if err := <-done; err != nil {
			return fail(err)
		}
		for _, name := range []string{"a1", "a2"} {
			open(name)
			step <- struct{}{}
			if err := <-done; err != nil {
				return fail(err)
			}
		}
	case "commands":
		// one command a line on stdin, "ok" on stdout after each
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			cmd, arg, _ := strings.Cut(in.Text(), " ")
			switch cmd {
			case "fill":
				n, _ := strconv.Atoi(arg)
				for i := 0; i < n; i++ {
					open("fill")
				}
			case "setuid":
				if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 65534, 65534, 65534); e != 0 {
					return fail(e)
				}
			case "open":
				open(arg)
			case "ioprio":
				unix.Syscall(unix.SYS_IOPRIO_GET, 1, 0, 0) // IOPRIO_WHO_PROCESS, self
			}
			fmt.Println("ok")
		}
	case "migrate":
		// opens m0, m1, ... moving to another CPU before each: the probe
		// batches records per CPU, and a thread's must keep their order
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			return fail(err)
		}
		var cpus []int
		for i := range 1024 {
			if set.IsSet(i) {
				cpus = append(cpus, i)
			}
		}
		for i := range migrateOpens {
			var one unix.CPUSet
			one.Set(cpus[i%len(cpus)])
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				return fail(err)
			}
			open(fmt.Sprintf("m%d", i))
		}
	case "wait":
		// started before the collector: opens once told to
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return fail(err)
		}
		open("late")
	default:
		return fail(fmt.Errorf("mode %q", mode))
	}
	return 0
}

func startCtxChild(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ctxChildEnv+"="+mode+" "+dir)
	cmd.Stderr = os.Stderr
	return cmd
}

// commandsChild is a running "commands" child: send writes a command,
// reply waits for its "ok". The test's end closes its stdin and kills it,
// in case it is still blocked in a call.
type commandsChild struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies *bufio.Scanner
}

func startCommandsChild(t *testing.T, dir string) *commandsChild {
	t.Helper()
	cmd := startCtxChild(t, "commands", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	return &commandsChild{cmd: cmd, stdin: stdin, replies: bufio.NewScanner(stdout)}
}

func (c *commandsChild) send(t *testing.T, line string) {
	t.Helper()
	if _, err := fmt.Fprintln(c.stdin, line); err != nil {
		t.Fatal(err)
	}
}

func (c *commandsChild) reply(t *testing.T, line string) {
	t.Helper()
	if !c.replies.Scan() {
		t.Fatalf("child gone after %q", line)
	}
}

// do sends a command and waits until the child has carried it out.
func (c *commandsChild) do(t *testing.T, line string) {
	t.Helper()
	c.send(t, line)
	c.reply(t, line)
}

// waitOpen returns the exit (or enter) event of pid opening dir/name.
func waitOpen(t *testing.T, s *sink, pid int64, path string, exit bool) schema.Record {
	t.Helper()
	return s.wait(t, fmt.Sprintf("openat %s (exit %v)", path, exit), func(r *schema.Record) bool {
		name, _ := argStr(r, "name")
		return r.Event.Type == schema.EventOpenat && isExit(r) == exit && r.Proc != nil && r.Proc.Pid == pid && name == path
	})
}

func TestContextSetuid(t *testing.T) {
	c, s := startCollector(t, Config{NoPublish: true})
	dir := t.TempDir()
	cmd := startCtxChild(t, "setuid", dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v", err)
	}
	pid := int64(cmd.Process.Pid)
	type ids struct {
		Uid, Euid uint32
		User      string
		CapZero   bool
	}
	root := ids{0, 0, "root", false}
	nobody := ids{65534, 65534, "nobody", true}
	for _, tc := range []struct {
		name string
		want ids
	}{
		{"before", root}, {"after", nobody}, {"after2", nobody},
	} {
		for _, exit := range []bool{false, true} {
			r := waitOpen(t, s, pid, filepath.Join(dir, tc.name), exit)
			p := r.Proc
			got := ids{p.Uid, p.Euid, p.User, p.CapEffective == 0}
			if got != tc.want {
				t.Errorf("open %s (exit %v): %+v, want %+v", tc.name, exit, got, tc.want)
			}
		}
	}
	if n := c.Stats().MissingContexts; n != 0 {
		t.Errorf("%d records without a known context", n)
	}
}

func TestContextUnshareExec(t *testing.T) {
	c, s := startCollector(t, Config{NoPublish: true})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "exec"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := startCtxChild(t, "unshare", dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v", err)
	}
	pid := int64(cmd.Process.Pid)
	self, err := procfs.FS("/proc").Read(int64(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	before := waitOpen(t, s, pid, filepath.Join(dir, "before"), true).Proc
	if before.NS.Net != self.NS[2] || before.NS.UTS != self.NS[4] {
		t.Errorf("before unshare: net %d uts %d, want the host's %d %d", before.NS.Net, before.NS.UTS, self.NS[2], self.NS[4])
	}
	for _, exit := range []bool{false, true} {
		after := waitOpen(t, s, pid, filepath.Join(dir, "after"), exit).Proc
		if after.NS.Net == before.NS.Net || after.NS.UTS == before.NS.UTS || after.NS.Mnt != before.NS.Mnt {
			t.Errorf("after unshare (exit %v): ns %+v, before %+v: want new net and uts only", exit, after.NS, before.NS)
		}
		ex := waitOpen(t, s, pid, filepath.Join(dir, "exec"), exit).Proc
		if ex.Comm != "cat" || ex.NS.Net != after.NS.Net || ex.NS.UTS != after.NS.UTS {
			t.Errorf("after exec (exit %v): comm %q ns %+v, want cat in %+v", exit, ex.Comm, ex.NS, after.NS)
		}
	}
	if n := c.Stats().MissingContexts; n != 0 {
		t.Errorf("%d records without a known context", n)
	}
}

func TestContextThreads(t *testing.T) {
	c, s := startCollector(t, Config{NoPublish: true})
	dir := t.TempDir()
	cmd := startCtxChild(t, "threads", dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v", err)
	}
	pid := int64(cmd.Process.Pid)
	for _, tc := range []struct {
		name string
		uid  uint32
	}{{"a1", 0}, {"b1", 65534}, {"a2", 0}, {"b2", 65534}} {
		for _, exit := range []bool{false, true} {
			p := waitOpen(t, s, pid, filepath.Join(dir, tc.name), exit).Proc
			if p.Uid != tc.uid || p.Euid != tc.uid {
				t.Errorf("open %s (exit %v): uid %d euid %d, want %d", tc.name, exit, p.Uid, p.Euid, tc.uid)
			}
		}
	}
	if n := c.Stats().MissingContexts; n != 0 {
		t.Errorf("%d records without a known context", n)
	}
}

// TestContextPreexisting checks that a process older than the collector
// sends its context with its first record: the process table knows it
// from /proc, but the thread's context must come from the probe.
func TestContextPreexisting(t *testing.T) {
	skipUnlessRoot(t)
	dir := t.TempDir()
	cmd := startCtxChild(t, "wait", dir)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c, s := startCollector(t, Config{NoPublish: true})
	if _, err := in.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	pid := int64(cmd.Process.Pid)
	for _, exit := range []bool{false, true} {
		p := waitOpen(t, s, pid, filepath.Join(dir, "late"), exit).Proc
		if p.Uid != 0 || p.User != "root" || p.Ppid != int64(os.Getpid()) || p.Comm != filepath.Base(os.Args[0])[:min(15, len(filepath.Base(os.Args[0])))] {
			t.Errorf("open (exit %v): uid %d user %q ppid %d comm %q", exit, p.Uid, p.User, p.Ppid, p.Comm)
		}
	}
	if n := c.Stats().MissingContexts; n != 0 {
		t.Errorf("%d records without a known context", n)
	}
}

// TestContextAfterDrop checks that a record the full ring dropped does
// not leave user space with a stale context: the probe must send the
// context again with the thread's next record.
func TestContextAfterDrop(t *testing.T) {
	skipUnlessRoot(t)
	p, err := probe.Load(probe.Options{RingSize: 64 << 10, Exit: []uint32{sysno.Openat}, IgnorePID: uint32(os.Getpid())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	dir := t.TempDir()
	child := startCommandsChild(t, dir)
	cmd := child.cmd
	do := func(c string) { t.Helper(); child.do(t, c) }
	// nobody reads: 2000 records of 100+ bytes overflow 64 KiB
	do("fill 2000")
	d0, _ := p.KernelDrops()
	if d0 == 0 {
		t.Fatal("ring did not overflow")
	}
	do("setuid")
	do("open dropped") // its record, the first with the new creds, is dropped
	// with its CPU's batch, when that CPU next switches tasks
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(time.Millisecond) {
		if d1, _ := p.KernelDrops(); d1 > d0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the record after setuid was not dropped")
		}
	}

	ctxs := record.NewContexts()
	pid := uint32(cmd.Process.Pid)
	found := make(chan record.Header, 1)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var raw ringbuf.Record
		var rec record.Record
		for {
			select {
			case <-stop:
				return
			default:
			}
			err := p.ReadInto(&raw, time.Now().Add(20*time.Millisecond))
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue
				}
				return
			}
			hit := false
			forEachRecord(raw.RawSample, &rec, func(rec *record.Record) {
				ctxs.Complete(rec)
				if !hit && rec.Pid == pid && len(rec.Items) > 0 && string(rec.Items[0].Data) == filepath.Join(dir, "after") {
					found <- rec.Header
					hit = true
				}
			})
			if hit {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-readerDone })
	// the ring must have room again, or the next record is dropped too
	for deadline := time.Now().Add(waitLimit); p.Pending() > 16<<10; {
		if time.Now().After(deadline) {
			t.Fatalf("ring not drained: %d bytes pending", p.Pending())
		}
		time.Sleep(10 * time.Millisecond)
	}
	do("open after")
	select {
	case h := <-found:
		if h.Partial || h.Uid != 65534 || h.Euid != 65534 {
			t.Errorf("record after the drop: partial %v uid %d euid %d, want the new uid 65534", h.Partial, h.Uid, h.Euid)
		}
	case <-time.After(waitLimit):
		t.Fatal("no record of the open after the drop")
	}
}
