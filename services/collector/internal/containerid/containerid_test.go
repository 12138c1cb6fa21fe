package containerid

import (
	"strings"
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func TestParse(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name, path, id, runtime string
	}{
		{"docker", "/docker/" + id, id, Docker},
		{"docker systemd", "/system.slice/docker-" + id + ".scope", id, Docker},
		{"kubepods cgroupfs", "/kubepods/besteffort/pod1234-5678/" + id, id, CRI},
		{"kubepods guaranteed", "/kubepods/pod1234-5678/" + id, id, CRI},
		{"containerd systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-" + id + ".scope", id, Containerd},
		{"crio", "/kubepods.slice/kubepods-pod12.slice/crio-" + id + ".scope", id, CRIO},
		{"podman", "/libpod_parent/libpod-" + id, id, Podman},
		{"podman conmon", "/libpod_parent/libpod-conmon-" + id, schema.HostContainerID, ""},
		{"host", "/user.slice/user-0.slice/session-1.scope", schema.HostContainerID, ""},
		{"root", "/", schema.HostContainerID, ""},
		{"ctr", "/default/mybox", schema.HostContainerID, ""},
		{"bare hex at root", "/" + id, schema.HostContainerID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotID, gotRT := Parse(tt.path)
			if gotID != tt.id || gotRT != tt.runtime {
				t.Errorf("Parse(%q) = %q, %q; want %q, %q", tt.path, gotID, gotRT, tt.id, tt.runtime)
			}
		})
	}
}

func TestFromProcCgroup(t *testing.T) {
	id := strings.Repeat("ab", 32)
	content := "13:memory:/docker/" + id + "\n12:cpu,cpuacct:/docker/" + id + "\n0::/\n"
	gotID, rt, p := FromProcCgroup(content)
	if gotID != id || rt != Docker || p != "/docker/"+id {
		t.Errorf("got %q %q %q", gotID, rt, p)
	}
	gotID, _, p = FromProcCgroup("5:memory:/user.slice\n0::/user.slice/x.scope\n")
	if gotID != schema.HostContainerID || p != "/user.slice" {
		t.Errorf("got %q %q", gotID, p)
	}
}
