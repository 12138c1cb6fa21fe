package probe

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// ia32 read(0, 0, 0) is syscall 3, which is close on x86_64: the probe must
// count it, not report a close.
const compatProg = `.globl _start
_start:
  mov $3, %eax
  xor %ebx, %ebx
  xor %ecx, %ecx
  xor %edx, %edx
  int $0x80
  mov $1, %eax
  xor %ebx, %ebx
  int $0x80
`

func TestCompatSyscallsCounted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tool := range []string{"as", "ld"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s to build a 32-bit program", tool)
		}
	}
	dir := t.TempDir()
	src, obj, bin := filepath.Join(dir, "c.s"), filepath.Join(dir, "c.o"), filepath.Join(dir, "c32")
	if err := os.WriteFile(src, []byte(compatProg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("as", "--32", "-o", obj, src).CombinedOutput(); err != nil {
		t.Skipf("as --32: %v %s", err, out)
	}
	if out, err := exec.Command("ld", "-m", "elf_i386", "-o", bin, obj).CombinedOutput(); err != nil {
		t.Skipf("ld -m elf_i386: %v %s", err, out)
	}
	p, err := Load(Options{RingSize: 1 << 20, Exit: []uint32{sysno.Close}, IgnorePID: uint32(os.Getpid())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cmd := exec.Command(bin)
	if err := cmd.Run(); err != nil {
		t.Skipf("32-bit program does not run here: %v", err)
	}
	pid := uint32(cmd.Process.Pid)
	n, err := p.CompatSyscalls()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("no compat syscall counted")
	}
	// header: kind u16, nr u16, size u32, ts, ret, args[6], cpu, pid
	eachRecord(t, p, 10*time.Second, true, func(b []byte) bool {
		if len(b) >= 80 && binary.LittleEndian.Uint32(b[76:]) == pid && binary.LittleEndian.Uint16(b[2:]) == sysno.Close {
			t.Fatalf("the ia32 read was reported as close")
		}
		return false
	})
}
