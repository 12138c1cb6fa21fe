package enrich

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/docker"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/testenv"
)

// startDocker starts dockerd and loads the busybox test image.
func startDocker(t testing.TB) *testenv.Engine {
	t.Helper()
	d := testenv.StartDockerd(t)
	d.CLI(t, "load", "-i", testenv.BusyboxArchive(t, t.TempDir(), "peregrine/busybox:t1"))
	return d
}

// TestDockerContainers runs real containers under dockerd and enriches
// batches built from their processes' real /proc/<pid>/cgroup.
func TestDockerContainers(t *testing.T) {
	d := startDocker(t)
	r := newRig(t, []resolve.Runtime{docker.New(d.Socket, 2*time.Second)}, nil, Config{Hold: 2 * time.Second})

	tests := []struct {
		name       string
		privileged bool
	}{
		{name: "plain"},
		{name: "priv", privileged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"run", "-d", "--network", "none", "--name", "peregrine-" + tt.name, "--label", "app=" + tt.name}
			if tt.privileged {
				// runc cannot start a privileged container where the
				// capability bounding set lacks some capabilities (as on
				// this CI machine); created, it has its full metadata.
				args = []string{"create", "--privileged", "--network", "none", "--name", "peregrine-" + tt.name, "--label", "app=" + tt.name}
			}
			id := d.CLI(t, append(args, "peregrine/busybox:t1", "-c", "cat /etc/shadow; sleep 60")...)
			t.Cleanup(func() { _, _ = d.TryCLI("rm", "-f", id) })
			var p schema.Process
			if tt.privileged {
				p = schema.Process{Pid: 1, Comm: "cat", Cgroup: "12:memory:/docker/" + id}
			} else {
				pid := d.Pid(t, id)
				p = schema.Process{Pid: int64(pid), Comm: "cat", Cgroup: testenv.Cgroup(t, pid)}
			}

			got := r.enrich(t, batch("node-a", 1, p, 3))
			if got.Procs[0].ContainerID != id {
				t.Fatalf("process container id = %q, want %q (cgroup %q)", got.Procs[0].ContainerID, id, p.Cgroup)
			}
			c := got.Container(id)
			if c == nil {
				t.Fatalf("no container %s in batch: %+v", id, got.Containers)
			}
			want := schema.Container{ID: id, Type: "docker", Name: "peregrine-" + tt.name, Image: "peregrine/busybox:t1",
				ImageRepo: "peregrine/busybox", ImageTag: "t1", Privileged: tt.privileged, Labels: map[string]string{"app": tt.name}}
			ignore := func(c schema.Container) schema.Container {
				if !strings.HasPrefix(c.ImageID, "sha256:") || (c.StartTs == 0) != tt.privileged {
					t.Errorf("ImageID %q / StartTs %d not set", c.ImageID, c.StartTs)
				}
				c.ImageID, c.StartTs, c.Mounts = "", 0, nil
				return c
			}
			if diff := cmp.Diff(want, ignore(*c)); diff != "" {
				t.Errorf("container (-want +got):\n%s", diff)
			}
		})
	}
	if n := testutil.ToFloat64(r.m.EventsNoMeta); n != 0 {
		t.Errorf("events without metadata = %v, want 0", n)
	}
}

// TestDockerFreshContainer sends the first event of a container the
// moment dockerd has started it (its command runs within 100 ms of
// starting): the cache is cold and the container new, and the batch must
// still carry its metadata.
func TestDockerFreshContainer(t *testing.T) {
	d := startDocker(t)
	r := newRig(t, []resolve.Runtime{docker.New(d.Socket, 2*time.Second)}, nil, Config{Hold: 500 * time.Millisecond})
	for i := range 5 {
		id := d.CLI(t, "create", "--network", "none", "peregrine/busybox:t1", "-c", "cat /etc/shadow")
		t.Cleanup(func() { _, _ = d.TryCLI("rm", "-f", id) })
		started := make(chan error, 1)
		go func() { _, err := d.TryCLI("start", id); started <- err }()
		// The collector would see the exec before `docker start` returns.
		p := schema.Process{Pid: 1, Comm: "cat", Cgroup: "12:memory:/docker/" + id}
		got := r.enrich(t, batch("node-a", uint64(i), p, 1))
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		c := got.Container(id)
		if c == nil || c.Incomplete || c.ImageRepo != "peregrine/busybox" || c.ImageTag != "t1" {
			t.Fatalf("run %d: container = %+v, want complete metadata", i, c)
		}
	}
}

// TestDockerAway: with dockerd stopped the batch goes out with the id
// only, marked incomplete and counted; when dockerd is back new containers
// are enriched again.
func TestDockerAway(t *testing.T) {
	d := startDocker(t)
	r := newRig(t, []resolve.Runtime{docker.New(d.Socket+".gone", 200*time.Millisecond)}, nil, Config{Hold: 300 * time.Millisecond})
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	got := r.enrich(t, batch("n", 1, schema.Process{Pid: 7, Cgroup: "/docker/" + id, PidNSInitStartTs: 42}, 4))
	want := []schema.Container{{ID: id, Type: "docker", Incomplete: true, StartTs: 42}}
	if diff := cmp.Diff(want, got.Containers); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(r.m.EventsNoMeta); n != 4 {
		t.Errorf("events without metadata = %v, want 4", n)
	}
	if n := testutil.ToFloat64(r.m.RuntimeErrors.WithLabelValues("docker:" + d.Socket + ".gone")); n == 0 {
		t.Error("runtime errors not counted")
	}
}
