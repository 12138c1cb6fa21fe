package collector

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/probe"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
)

// The probe writes records into a batch per CPU and sends a batch when
// it is full or old, when its CPU switches tasks, and after process
// lifecycle records. These tests pin what that must not change.

// migrateOpens is how many opens the "migrate" child makes.
const migrateOpens = 40

// TestBatchOrderAcrossCPUs: a thread that moves to another CPU between
// two opens leaves the first CPU through a task switch, which flushes
// that CPU's batch, so its events arrive in the order it made them.
func TestBatchOrderAcrossCPUs(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	_, s := startCollector(t, Config{NoPublish: true})
	dir := t.TempDir()
	cmd := startCtxChild(t, "migrate", dir)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := int64(cmd.Process.Pid)
	last := -1
	for i := range migrateOpens {
		path := filepath.Join(dir, fmt.Sprintf("m%d", i))
		at, r := s.waitIndex(t, "openat "+path, func(r *schema.Record) bool {
			name, _ := argStr(r, "name")
			return r.Event.Type == schema.EventOpenat && isExit(r) && r.Proc != nil && r.Proc.Pid == pid && name == path
		})
		if at < last {
			t.Fatalf("open of m%d (cpu %d) arrived before the open before it", i, r.Event.CPU)
		}
		last = at
	}
}

// TestBatchIdleThread: a thread that makes a captured call and then
// blocks, never exiting, still has its record delivered: blocking switches
// its CPU to another task, which flushes the batch. The probe captures a
// call nothing else on the machine makes (ioprio_get), so no later record
// of another process can flush the batch for it.
func TestBatchIdleThread(t *testing.T) {
	skipUnlessRoot(t)
	p, err := probe.Load(probe.Options{RingSize: 1 << 20, Exit: []uint32{unix.SYS_IOPRIO_GET}, IgnorePID: uint32(os.Getpid())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	child := startCommandsChild(t, t.TempDir())
	child.do(t, "ioprio")
	// the child now waits on stdin until the cleanup
	pid := uint32(child.cmd.Process.Pid)
	var raw ringbuf.Record
	var rec record.Record
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); {
		err := p.ReadInto(&raw, time.Now().Add(100*time.Millisecond))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		found := false
		forEachRecord(raw.RawSample, &rec, func(r *record.Record) {
			found = found || (r.Pid == pid && r.Nr == unix.SYS_IOPRIO_GET)
		})
		if found {
			return
		}
	}
	t.Fatalf("no ioprio_get record of the idle child within %v", waitLimit)
}

// TestEnterSpilled: an open that blocks (a FIFO with no writer yet) takes
// its thread off the CPU inside the call, so its enter event goes out as
// a record of its own at that switch, before the call returns; the exit
// follows it with nothing folded in.
func TestEnterSpilled(t *testing.T) {
	_, s := startCollector(t, Config{NoPublish: true})
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	child := startCommandsChild(t, dir)
	child.send(t, "open fifo")
	pid := int64(child.cmd.Process.Pid)
	// the child is blocked in its open: the enter event must come now
	enterAt, enter := s.waitIndex(t, "openat enter "+fifo, func(r *schema.Record) bool {
		name, _ := argStr(r, "name")
		return r.Event.Type == schema.EventOpenat && !isExit(r) && r.Proc != nil && r.Proc.Pid == pid && name == fifo
	})
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // lets the child's open return
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	child.reply(t, "open fifo")
	exitAt, exit := s.waitIndex(t, "openat exit "+fifo, func(r *schema.Record) bool {
		name, _ := argStr(r, "name")
		return r.Event.Type == schema.EventOpenat && isExit(r) && r.Proc != nil && r.Proc.Pid == pid && name == fifo
	})
	if exitAt < enterAt {
		t.Errorf("exit at %d before enter at %d", exitAt, enterAt)
	}
	if enter.Event.Tid != exit.Event.Tid || enter.Event.Ts > exit.Event.Ts {
		t.Errorf("enter tid %d ts %d, exit tid %d ts %d", enter.Event.Tid, enter.Event.Ts, exit.Event.Tid, exit.Event.Ts)
	}
	if fd, _ := argInt(&exit, "fd"); fd < 0 {
		t.Errorf("exit fd %d", fd)
	}
	// no second enter: the exit had none to fold
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := enterAt + 1; i < len(s.recs); i++ {
		r := &s.recs[i]
		if name, _ := argStr(r, "name"); r.Event.Type == schema.EventOpenat && !isExit(r) && r.Proc != nil && r.Proc.Pid == pid && name == fifo {
			t.Fatalf("a second enter event at %d", i)
		}
	}
}
