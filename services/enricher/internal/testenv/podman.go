package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartPodman starts `podman system service` (podman's Docker-compatible
// API) with its own storage, run and temp roots under a temporary
// directory, cgroupfs and file events (no systemd needed), and stops it by
// pid at the end of the test. It skips t when podman is missing.
func StartPodman(t testing.TB) *Engine {
	t.Helper()
	Need(t, "podman", "conmon", "runc")
	cleanHostPaths(t)
	cleanCgroups(t, "libpod_parent")
	dir, err := os.MkdirTemp("", "peregrine-podman-")
	must(t, err)
	// Podman raises RLIMIT_NOFILE and RLIMIT_NPROC of root's containers;
	// runc cannot apply that where CAP_SYS_RESOURCE is missing from the
	// bounding set (as on CI). Test containers need few of either.
	conf := filepath.Join(dir, "containers.conf")
	must(t, os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"), 0o644))
	t.Setenv("CONTAINERS_CONF", conf)
	e := &Engine{Socket: filepath.Join(dir, "podman.sock"), Dir: dir}
	e.cli = []string{"podman",
		"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--tmpdir", filepath.Join(dir, "tmp"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	svc := startDaemon(t, dir, "podman", e.cli[0], append(e.cli[1:len(e.cli):len(e.cli)], "system", "service", "--time=0", "unix://"+e.Socket)...)
	t.Cleanup(func() {
		_, _ = e.TryCLI("rm", "-af", "-t", "0")
		svc.stop(20 * time.Second)
		// Container shm mounts live under the run root.
		_ = exec.Command("umount", "-R", filepath.Join(dir, "run")).Run()
		svc.logIfFailed(t)
		_ = os.RemoveAll(dir)
	})
	svc.waitReady(t, e.Socket, 300, 100*time.Millisecond, e.ping)
	return e
}

// cleanCgroups removes, at the end of the test, the cgroup directories
// named parent that a runtime created during it: in the v2 root and in
// every v1 hierarchy.
func cleanCgroups(t testing.TB, parent string) {
	t.Helper()
	candidates := []string{filepath.Join("/sys/fs/cgroup", parent)}
	hierarchies, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hierarchies {
		if h.IsDir() {
			candidates = append(candidates, filepath.Join("/sys/fs/cgroup", h.Name(), parent))
		}
	}
	var fresh []string
	for _, p := range candidates {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			fresh = append(fresh, p)
		}
	}
	t.Cleanup(func() {
		for _, p := range fresh {
			// cgroup directories go by rmdir only, children first.
			kids, _ := os.ReadDir(p)
			for _, k := range kids {
				if k.IsDir() {
					_ = os.Remove(filepath.Join(p, k.Name()))
				}
			}
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Logf("cgroup %s left: %v", p, err)
			}
		}
	})
}
