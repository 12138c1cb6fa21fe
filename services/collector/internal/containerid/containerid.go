// Package containerid finds the container id and runtime in a cgroup path,
// with the matchers Falco's container plugin uses for docker, CRI
// (containerd, cri-o) and podman.
package containerid

import (
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Runtime names returned by [Parse].
const (
	Docker     = "docker"
	Containerd = "containerd"
	CRIO       = "cri-o"
	Podman     = "podman"
	CRI        = "cri" // cgroupfs kubepods path: the runtime is not in the path
)

// systemd scope prefixes and their runtimes, e.g.
// /kubepods.slice/.../cri-containerd-<id>.scope.
var scopes = []struct{ prefix, runtime string }{
	{"cri-containerd-", Containerd},
	{"docker-", Docker},
	{"crio-", CRIO},
	{"libpod-", Podman},
}

// Parse returns the full container id found in cgroup path p and the
// runtime, or [schema.HostContainerID] and "" when p names no container.
// The path is one cgroup path such as "/docker/<64 hex>"; components are
// tried from the leaf up.
func Parse(p string) (id, runtime string) {
	comps := strings.Split(strings.Trim(p, "/"), "/")
	for i := len(comps) - 1; i >= 0; i-- {
		c := comps[i]
		for _, s := range scopes {
			if !strings.HasPrefix(c, s.prefix) {
				continue
			}
			rest := strings.TrimSuffix(c[len(s.prefix):], ".scope")
			if s.runtime == Podman && strings.HasPrefix(rest, "conmon-") {
				continue
			}
			if isID(rest) {
				return rest, s.runtime
			}
		}
		if !isHex64(c) || i == 0 {
			continue
		}
		parent := comps[i-1]
		switch {
		case parent == "docker":
			return c, Docker
		case strings.HasPrefix(parent, "pod") || strings.HasPrefix(comps[0], "kubepods"):
			return c, CRI
		case parent == "libpod_parent":
			return c, Podman
		}
	}
	return schema.HostContainerID, ""
}

// isID accepts the ids runtimes put in scope names: 64 hex digits (docker,
// containerd, cri-o, podman), or at least 12 for short forms.
func isID(s string) bool {
	if len(s) < 12 || len(s) > 64 {
		return false
	}
	return isHex(s)
}

func isHex64(s string) bool { return len(s) == 64 && isHex(s) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// FromProcCgroup picks the container id from the content of
// /proc/<pid>/cgroup (hybrid hierarchies list several lines): the first
// line naming a container wins. It returns the path it used (the memory
// controller's, else the first line's, when none names a container).
func FromProcCgroup(content string) (id, runtime, path string) {
	var first, memory string
	for _, line := range strings.Split(content, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if first == "" {
			first = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				memory = parts[2]
			}
		}
		if id, rt := Parse(parts[2]); id != schema.HostContainerID {
			return id, rt, parts[2]
		}
	}
	if memory != "" {
		return schema.HostContainerID, "", memory
	}
	return schema.HostContainerID, "", first
}
