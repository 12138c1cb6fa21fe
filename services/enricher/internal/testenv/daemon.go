package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// daemon is a server process a test started, logging to <dir>/<name>.log.
type daemon struct {
	name    string
	logPath string
	logf    *os.File
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
}

// startDaemon starts bin in its own process group, so that stop reaches
// the children it forks (shims, helpers) too.
func startDaemon(t testing.TB, dir, name, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	var err error
	d.logf, err = os.Create(d.logPath)
	must(t, err)
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.logf, d.logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, d.cmd.Start())
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	return d
}

// stop sends SIGTERM and, after grace, SIGKILL to the whole group.
func (d *daemon) stop(grace time.Duration) {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
	d.logf.Close()
}

func (d *daemon) logTail(n int) string {
	b, _ := os.ReadFile(d.logPath)
	return tail(string(b), n)
}

// logIfFailed puts the end of the daemon's log in a failed test's output.
func (d *daemon) logIfFailed(t testing.TB) {
	if t.Failed() {
		t.Logf("%s log:\n%s", d.name, d.logTail(3000))
	}
}

// waitReady polls ready every interval until it is true; it fails t when
// the daemon exits first or after tries polls.
func (d *daemon) waitReady(t testing.TB, what string, tries int, interval time.Duration, ready func() bool) {
	t.Helper()
	for i := 0; !ready(); i++ {
		select {
		case <-d.done:
			t.Fatalf("%s exited: %s", d.name, d.logTail(2000))
		default:
		}
		if i >= tries {
			t.Fatalf("%s did not answer on %s within %v", d.name, what, time.Duration(tries)*interval)
		}
		time.Sleep(interval)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
