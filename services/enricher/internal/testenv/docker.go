package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Engine is a Docker Engine API server started for one test: dockerd,
// or podman's compatible service.
type Engine struct {
	Socket string
	Dir    string
	cli    []string // the CLI and its global flags that reach this server
}

// hostPaths are written by the runtimes whatever their roots; a test
// removes the ones that did not exist before it.
var hostPaths = []string{"/etc/docker/key.json", "/etc/docker", "/run/docker", "/run/containerd", "/run/netns", "/var/lib/cni", "/run/runc",
	"/etc/cni/net.d/cni.lock", "/var/lib/containers", "/run/libpod", "/run/containers"}

func cleanHostPaths(t testing.TB) {
	t.Helper()
	var fresh []string
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			fresh = append(fresh, p)
		}
	}
	t.Cleanup(func() {
		for _, p := range fresh {
			_ = os.RemoveAll(p)
		}
	})
}

// StartDockerd starts dockerd with its own roots and socket under a
// temporary directory (no bridge, no iptables) and stops it by pid at the
// end of the test. It skips t when dockerd or docker is missing.
func StartDockerd(t testing.TB) *Engine {
	t.Helper()
	Need(t, "dockerd", "docker", "containerd", "runc")
	cleanHostPaths(t)
	dir, err := os.MkdirTemp("", "peregrine-dockerd-")
	must(t, err)
	d := &Engine{Socket: filepath.Join(dir, "docker.sock"), Dir: dir}
	d.cli = []string{"docker", "-H", "unix://" + d.Socket}
	dd := startDaemon(t, dir, "dockerd", "dockerd",
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", "unix://"+d.Socket,
		"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
		"--storage-driver=vfs", "--log-level=warn")
	t.Cleanup(func() {
		dd.stop(20 * time.Second)
		// vfs layers of containers can hold mounts; unmount before removing.
		_ = exec.Command("umount", "-R", filepath.Join(dir, "exec")).Run()
		dd.logIfFailed(t)
		_ = os.RemoveAll(dir)
	})
	dd.waitReady(t, d.Socket, 300, 100*time.Millisecond, d.ping)
	return d
}

// ping reports whether the engine answers its API.
func (d *Engine) ping() bool {
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.Socket)
	}}, Timeout: time.Second}
	resp, err := hc.Get("http://engine/_ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// CLI runs the engine's CLI (docker or podman) against d and returns its
// trimmed stdout.
func (d *Engine) CLI(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.TryCLI(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TryCLI is [Engine.CLI] returning the error.
func (d *Engine) TryCLI(args ...string) (string, error) {
	cmd := exec.Command(d.cli[0], append(d.cli[1:len(d.cli):len(d.cli)], args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", d.cli[0], strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// Pid returns the host pid of a running container's init process.
func (d *Engine) Pid(t testing.TB, id string) int {
	t.Helper()
	pid, err := strconv.Atoi(d.CLI(t, "inspect", "-f", "{{.State.Pid}}", id))
	must(t, err)
	return pid
}

// Cgroup returns the content of /proc/<pid>/cgroup.
func Cgroup(t testing.TB, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	must(t, err)
	return string(b)
}
