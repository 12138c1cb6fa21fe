package enrich

import (
	"strings"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/docker"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/testenv"
)

// TestPodmanContainers runs a real container under podman and enriches a
// batch built from its process's real /proc/<pid>/cgroup
// (".../libpod-<id>"), through podman's Docker-compatible API.
func TestPodmanContainers(t *testing.T) {
	p := testenv.StartPodman(t)
	p.CLI(t, "load", "-i", testenv.BusyboxArchive(t, t.TempDir(), "peregrine/busybox:t1"))
	r := newRig(t, []resolve.Runtime{docker.NewPodman(p.Socket, 2*time.Second)}, nil, Config{Hold: 2 * time.Second})

	id := p.CLI(t, "run", "-d", "--network", "none", "--name", "peregrine-podman", "--label", "app=web",
		"peregrine/busybox:t1", "-c", "cat /etc/shadow; sleep 60")
	pid := p.Pid(t, id)
	cg := testenv.Cgroup(t, pid)
	if !strings.Contains(cg, "libpod-"+id) {
		t.Fatalf("cgroup of a podman container without libpod-<id>:\n%s", cg)
	}
	got := r.enrich(t, batch("node-a", 1, schema.Process{Pid: int64(pid), Comm: "cat", Cgroup: cg}, 3))
	if got.Procs[0].ContainerID != id {
		t.Fatalf("process container id = %q, want %q", got.Procs[0].ContainerID, id)
	}
	c := got.Container(id)
	if c == nil || c.Incomplete {
		t.Fatalf("container = %+v, want complete metadata", c)
	}
	// Podman qualifies local images with "localhost/".
	image := p.CLI(t, "inspect", "-f", "{{.ImageName}}", id)
	if c.Type != "podman" || c.Name != "peregrine-podman" || c.Image != image ||
		c.ImageRepo != strings.TrimSuffix(image, ":t1") || c.ImageTag != "t1" ||
		!strings.HasPrefix(c.ImageID, "sha256:") || c.Labels["app"] != "web" || c.StartTs == 0 || c.Privileged {
		t.Errorf("container = %+v (image %q)", c, image)
	}
}
