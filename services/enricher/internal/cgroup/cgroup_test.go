package cgroup

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	id  = "3f4e2d1c0b9a88776655443322110ffeeddccbbaa99887766554433221100ff0"
	uid = "5c3b6a1e-2d4f-4a8b-9c7d-0e1f2a3b4c5d"
)

func TestParse(t *testing.T) {
	uu := strings.ReplaceAll(uid, "-", "_")
	tests := []struct {
		name    string
		in      string
		want    Ref
		wantErr error
	}{
		{name: "host v2", in: "0::/user.slice/user-0.slice/session-1.scope", want: Ref{}},
		{name: "host root", in: "0::/", want: Ref{}},
		{name: "empty", in: "", want: Ref{}},
		{name: "docker v1 path", in: "/docker/" + id, want: Ref{ID: id, Runtime: Docker}},
		{name: "docker v1 line", in: "12:memory:/docker/" + id, want: Ref{ID: id, Runtime: Docker}},
		{name: "docker systemd v2", in: "0::/system.slice/docker-" + id + ".scope", want: Ref{ID: id, Runtime: Docker}},
		{name: "docker v2 nested init", in: "0::/system.slice/docker-" + id + ".scope/init.scope", want: Ref{ID: id, Runtime: Docker}},
		{name: "kubepods cgroupfs qos", in: "/kubepods/burstable/pod" + uid + "/" + id, want: Ref{ID: id, Runtime: CRI, PodUID: uid}},
		{name: "kubepods cgroupfs guaranteed", in: "/kubepods/pod" + uid + "/" + id, want: Ref{ID: id, Runtime: CRI, PodUID: uid}},
		{name: "kubepods cgroupfs crio", in: "/kubepods/besteffort/pod" + uid + "/crio-" + id, want: Ref{ID: id, Runtime: CRIO, PodUID: uid}},
		{name: "kubepods systemd containerd", in: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uu + ".slice/cri-containerd-" + id + ".scope", want: Ref{ID: id, Runtime: Containerd, PodUID: uid}},
		{name: "kubepods systemd crio", in: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uu + ".slice/crio-" + id + ".scope", want: Ref{ID: id, Runtime: CRIO, PodUID: uid}},
		{name: "kubepods systemd guaranteed", in: "/kubepods.slice/kubepods-pod" + uu + ".slice/cri-containerd-" + id + ".scope", want: Ref{ID: id, Runtime: Containerd, PodUID: uid}},
		{name: "kubepods systemd docker", in: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uu + ".slice/docker-" + id + ".scope", want: Ref{ID: id, Runtime: CRI, PodUID: uid}},
		{name: "crio conmon is not the container", in: "/kubepods.slice/kubepods-pod" + uu + ".slice/crio-conmon-" + id + ".scope", want: Ref{PodUID: uid}},
		{name: "pod cgroup itself", in: "/kubepods/burstable/pod" + uid, want: Ref{PodUID: uid}},
		{name: "podman cgroupfs", in: "/libpod_parent/libpod-" + id, want: Ref{ID: id, Runtime: Podman}},
		{name: "podman systemd", in: "0::/machine.slice/libpod-" + id + ".scope/container", want: Ref{ID: id, Runtime: Podman}},
		{name: "podman conmon", in: "0::/machine.slice/libpod-conmon-" + id + ".scope", want: Ref{}},
		{name: "whole file hybrid", in: "13:misc:/\n12:memory:/docker/" + id + "\n0::/\n", want: Ref{ID: id, Runtime: Docker}},
		{name: "ctr run is not parsed", in: "/default/mycontainer", want: Ref{}},
		{name: "docker short id", in: "/docker/3f4e2d1c0b9a", wantErr: ErrMalformed},
		{name: "docker upper-case id", in: "/docker/" + strings.ToUpper(id), wantErr: ErrMalformed},
		{name: "scope with junk id", in: "0::/system.slice/docker-xyz.scope", wantErr: ErrMalformed},
		{name: "kubepods junk leaf", in: "/kubepods/burstable/pod" + uid + "/not-an-id", want: Ref{PodUID: uid}, wantErr: ErrMalformed},
		{name: "bad pod uid", in: "/kubepods/burstable/podxyz/" + id, want: Ref{}},
		{name: "garbage bytes", in: "\x00\xff::://docker//", want: Ref{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("/docker/" + id)
	f.Add("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid + ".slice/cri-containerd-" + id + ".scope")
	f.Add("12:memory:/kubepods/pod" + uid + "/" + id)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err == nil && r.ID != "" && !IsID(r.ID) {
			t.Fatalf("Parse(%q) returned invalid id %q", s, r.ID)
		}
		if r.PodUID != "" && !isUID(r.PodUID) {
			t.Fatalf("Parse(%q) returned invalid pod uid %q", s, r.PodUID)
		}
	})
}
