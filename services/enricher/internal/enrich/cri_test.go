package enrich

import (
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/cri"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/testenv"
)

// TestCRIContainers creates a pod sandbox and containers through crictl
// on a real containerd and enriches batches of their processes.
func TestCRIContainers(t *testing.T) {
	c := testenv.StartContainerd(t)
	c.Ctr(t, "image", "import", testenv.BusyboxArchive(t, t.TempDir(), "docker.io/peregrine/busybox:t1"))
	client, err := cri.New(c.Socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	r := newRig(t, []resolve.Runtime{client}, nil, Config{Hold: 2 * time.Second})

	const uid = "5c3b6a1e-2d4f-4a8b-9c7d-0e1f2a3b4c5d"
	dir := t.TempDir()
	podCfg := map[string]any{
		"metadata":      map[string]any{"name": "shadow-pod", "namespace": "shop", "uid": uid, "attempt": 1},
		"log_directory": dir,
		"linux": map[string]any{
			"cgroup_parent": "/kubepods/besteffort/pod" + uid,
			// Host network: no CNI needed.
			"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}},
		},
	}
	podJSON := testenv.WriteJSON(t, dir, "pod.json", podCfg)
	podID := c.Crictl(t, "runp", podJSON)
	// Only a privileged sandbox may hold a privileged container.
	podCfg["linux"].(map[string]any)["security_context"].(map[string]any)["privileged"] = true
	podCfg["metadata"].(map[string]any)["name"] = "priv-pod"
	privPodJSON := testenv.WriteJSON(t, dir, "privpod.json", podCfg)
	privPodID := c.Crictl(t, "runp", privPodJSON)

	tests := []struct {
		name       string
		privileged bool
	}{
		{name: "reader"},
		{name: "priv", privileged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctr := map[string]any{
				"metadata": map[string]any{"name": tt.name},
				"image":    map[string]any{"image": "docker.io/peregrine/busybox:t1"},
				"command":  []string{"/bin/sh", "-c", "cat /etc/shadow; sleep 60"},
				"log_path": tt.name + ".log",
				"labels":   map[string]string{"tier": tt.name},
			}
			if tt.privileged {
				ctr["linux"] = map[string]any{"security_context": map[string]any{"privileged": true}}
			}
			ctrJSON := testenv.WriteJSON(t, dir, tt.name+".json", ctr)
			pod, pj, podName := podID, podJSON, "shadow-pod"
			if tt.privileged {
				pod, pj, podName = privPodID, privPodJSON, "priv-pod"
			}
			id := c.Crictl(t, "create", pod, ctrJSON, pj)
			c.Crictl(t, "start", id)
			pid := c.PidOf(t, id)
			p := schema.Process{Pid: int64(pid), Comm: "cat", Cgroup: testenv.Cgroup(t, pid)}
			got := r.enrich(t, batch("node-a", 1, p, 2))
			if got.Procs[0].ContainerID != id {
				t.Fatalf("process container id = %q, want %q (cgroup %q)", got.Procs[0].ContainerID, id, p.Cgroup)
			}
			ct := got.Container(id)
			if ct == nil || ct.Incomplete {
				t.Fatalf("container = %+v", ct)
			}
			if ct.Type != "containerd" || ct.Name != tt.name || ct.ImageRepo != "docker.io/peregrine/busybox" || ct.ImageTag != "t1" ||
				ct.Privileged != tt.privileged || ct.Labels["tier"] != tt.name {
				t.Errorf("container = %+v", ct)
			}
			if ct.Pod == nil || ct.Pod.UID != uid || ct.Pod.Name != podName || ct.Pod.Namespace != "shop" {
				t.Errorf("pod = %+v, want shadow-pod in shop from the sandbox", ct.Pod)
			}
		})
	}
}
