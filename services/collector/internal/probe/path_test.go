package probe

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// TestOpenPathFromEnter: an openat whose path the enter read whole sends
// it once (the exit reuses it, RF_PATH_ENTER); one whose path page was not
// present at entry (an untouched file mapping: the probe's reads do not
// fault pages in) is read again at exit, after the kernel faulted it in.
func TestOpenPathFromEnter(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	p, err := Load(Options{RingSize: 1 << 20, Exit: []uint32{sysno.Openat}, Enter: []uint32{sysno.Openat}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	const path = "/etc/hostname"

	plain := append([]byte(path), 0)
	fd1 := openatRaw(t, &plain[0])

	f := filepath.Join(t.TempDir(), "path")
	if err := os.WriteFile(f, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	mf, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	m, err := unix.Mmap(int(mf.Fd()), 0, len(plain), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	fd2 := openatRaw(t, &m[0]) // the first touch of m is the kernel's

	got := map[int64]record.Record{}
	eachRecord(t, p, 10*time.Second, false, func(b []byte) bool {
		var r record.Record
		if record.Decode(b, &r) == nil && r.Kind == record.KindSysExit && r.Pid == uint32(os.Getpid()) &&
			(r.Ret == fd1 || r.Ret == fd2) && len(r.Items) > 0 && string(r.Items[0].Data) == path {
			r.Items = append([]record.Item(nil), r.Items...) // b is reused
			r.Enter.Items = append([]record.Item(nil), r.Enter.Items...)
			got[r.Ret] = r
		}
		return len(got) == 2
	})
	r1, ok := got[fd1]
	if !ok {
		t.Fatalf("no openat exit of fd %d with path %s", fd1, path)
	}
	if !r1.Enter.Present || !r1.PathFromEnter {
		t.Errorf("path in plain memory: enter folded %v, path from enter %v; want both", r1.Enter.Present, r1.PathFromEnter)
	}
	r2, ok := got[fd2]
	if !ok {
		t.Fatalf("no openat exit of fd %d with path %s (mapped)", fd2, path)
	}
	if r2.PathFromEnter {
		t.Error("path in an untouched mapping: the exit reused the enter's read")
	}
	if !r2.Enter.Present || len(r2.Enter.Items) == 0 || r2.Enter.Items[0].Flags&1 == 0 { // IF_FAULT
		t.Errorf("path in an untouched mapping: enter items %+v, want a faulted read", r2.Enter.Items)
	}
}

// openatRaw opens the NUL-terminated path at p for reading and returns
// the fd, which it closes at the end of the test.
func openatRaw(t *testing.T, p *byte) int64 {
	t.Helper()
	atCWD := unix.AT_FDCWD // a variable: the negative constant does not convert
	fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(atCWD), uintptr(unsafe.Pointer(p)), unix.O_RDONLY, 0, 0, 0)
	if e != 0 {
		t.Fatal(e)
	}
	t.Cleanup(func() { unix.Close(int(fd)) })
	return int64(fd)
}
