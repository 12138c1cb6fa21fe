package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Containerd is a containerd with its CRI plugin started for one test.
type Containerd struct {
	Socket string
	Dir    string
	crictl string
}

// PauseImage is the sandbox image imported into every test containerd.
const PauseImage = "docker.io/peregrine/pause:t1"

// Crictl returns the path of crictl, or skips t. It looks on PATH and in
// $GOPATH/bin, where `go install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0`
// puts it.
func Crictl(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("crictl"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "crictl")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Skip("needs crictl: go install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0")
	return ""
}

// StartContainerd starts containerd with its own root, state and socket
// under a temporary directory, the CRI plugin set up for this machine
// (restrict_oom_score_adj, native snapshotter, a locally imported sandbox
// image), and stops it by pid at the end of the test, after removing the
// pods the test left.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	Need(t, "containerd", "ctr", "runc")
	crictl := Crictl(t)
	cleanHostPaths(t)
	dir, err := os.MkdirTemp("", "peregrine-containerd-")
	must(t, err)
	c := &Containerd{Socket: filepath.Join(dir, "containerd.sock"), Dir: dir, crictl: crictl}
	must(t, os.MkdirAll(filepath.Join(dir, "cni"), 0o755))
	conf := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[ttrpc]
  address = "%[3]s.ttrpc"
[debug]
  address = "%[3]s.debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[5]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Socket, PauseImage, filepath.Join(dir, "cni"))
	must(t, os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o644))
	cd := startDaemon(t, dir, "containerd", "containerd", "--config", filepath.Join(dir, "config.toml"))
	t.Cleanup(func() {
		// Pods first, so their shims exit with them.
		if out, err := c.TryCrictl("pods", "-q"); err == nil {
			for _, id := range strings.Fields(out) {
				_, _ = c.TryCrictl("rmp", "-f", id)
			}
		}
		cd.stop(20 * time.Second)
		killShims(c.Socket)
		_ = exec.Command("umount", "-R", filepath.Join(dir, "state")).Run()
		cd.logIfFailed(t)
		_ = os.RemoveAll(dir)
	})
	cd.waitReady(t, c.Socket, 300, 100*time.Millisecond, func() bool {
		_, err := c.TryCrictl("version")
		return err == nil
	})
	imgDir := t.TempDir()
	c.Ctr(t, "image", "import", BusyboxArchive(t, imgDir, PauseImage, "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"))
	return c
}

// killShims ends the shims our containerd started: their command line
// names its socket.
func killShims(socket string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), socket) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Ctr runs ctr in the k8s.io namespace against c.
func (c *Containerd) Ctr(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("ctr", append([]string{"-a", c.Socket, "-n", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Crictl runs crictl against c and returns its trimmed stdout.
func (c *Containerd) Crictl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.TryCrictl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TryCrictl is [Containerd.Crictl] returning the error.
func (c *Containerd) TryCrictl(args ...string) (string, error) {
	cmd := exec.Command(c.crictl, append([]string{"--runtime-endpoint", "unix://" + c.Socket, "--image-endpoint", "unix://" + c.Socket, "--timeout", "20s"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("crictl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// WriteJSON writes v as JSON into dir/name and returns the path.
func WriteJSON(t testing.TB, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	p := filepath.Join(dir, name)
	must(t, os.WriteFile(p, b, 0o644))
	return p
}

// PidOf returns the pid crictl inspect reports for a container.
func (c *Containerd) PidOf(t testing.TB, id string) int {
	t.Helper()
	var v struct {
		Info struct {
			Pid int `json:"pid"`
		} `json:"info"`
	}
	must(t, json.Unmarshal([]byte(c.Crictl(t, "inspect", id)), &v))
	if v.Info.Pid == 0 {
		t.Fatalf("crictl inspect %s: no pid", id)
	}
	return v.Info.Pid
}
