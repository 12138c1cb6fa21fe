package image

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplit(t *testing.T) {
	const dg = "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1"
	tests := []struct {
		name, in string
		want     Ref
	}{
		{"short", "alpine", Ref{Repo: "alpine"}},
		{"short tag", "alpine:3.20", Ref{Repo: "alpine", Tag: "3.20"}},
		{"org", "falcosecurity/falco:0.39.0", Ref{Repo: "falcosecurity/falco", Tag: "0.39.0"}},
		{"full cri form", "docker.io/library/alpine:latest", Ref{Repo: "docker.io/library/alpine", Tag: "latest"}},
		{"registry port no tag", "reg:5000/a/b", Ref{Repo: "reg:5000/a/b"}},
		{"registry port tag", "reg:5000/a/b:1", Ref{Repo: "reg:5000/a/b", Tag: "1"}},
		{"digest", "alpine@" + dg, Ref{Repo: "alpine", Digest: dg}},
		{"tag and digest", "reg:5000/a/b:1@" + dg, Ref{Repo: "reg:5000/a/b", Tag: "1", Digest: dg}},
		{"image id", dg, Ref{Digest: dg}},
		{"empty", "", Ref{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Split(tt.in)); diff != "" {
				t.Errorf("Split(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
