package collector

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// TestExecOverlayLayers execs a binary from an overlayfs lower layer (as
// an image's) and one written into the mount (as a container's drop):
// only the second is in the upper layer, which the stable rule "Drop and
// execute new binary in container" looks for. Both carry their inode's
// change and modification times.
func TestExecOverlayLayers(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lower", "image-true"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(dir, "merged")
	opts := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Skipf("cannot mount overlayfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(merged, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(merged, "dropped-true"), bin, 0o755); err != nil {
		t.Fatal(err)
	}

	_, s := startCollector(t, Config{NoPublish: true})
	for _, tt := range []struct {
		name string
		flag uint32
	}{
		{"image-true", schema.ExecLowerLayer},
		{"dropped-true", schema.ExecUpperLayer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(merged, tt.name)
			pid := run(t, path)
			r := s.wait(t, "execve "+tt.name, func(r *schema.Record) bool {
				return r.Event.Type == schema.EventExecve && isExit(r) && r.Proc != nil && r.Proc.Pid == pid
			})
			p := r.Proc
			if got := p.ExeFlags & (schema.ExecUpperLayer | schema.ExecLowerLayer); got != tt.flag {
				t.Errorf("exe flags %#x, want layer bits %#x", p.ExeFlags, tt.flag)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(path, &st); err != nil {
				t.Fatal(err)
			}
			if p.ExeInoMtime != st.Mtim.Nano() || p.ExeInoCtime != st.Ctim.Nano() {
				t.Errorf("exe inode mtime %d ctime %d, want %d %d", p.ExeInoMtime, p.ExeInoCtime, st.Mtim.Nano(), st.Ctim.Nano())
			}
			// the execve exit's flags, exe_ino_ctime and exe_ino_mtime params
			if f, _ := argInt(&r, "flags"); uint32(f)&tt.flag == 0 {
				t.Errorf("execve flags param %#x lacks %#x", f, tt.flag)
			}
			if c, _ := argInt(&r, "exe_ino_ctime"); c != st.Ctim.Nano() {
				t.Errorf("exe_ino_ctime param %d, want %d", c, st.Ctim.Nano())
			}
		})
	}
}
