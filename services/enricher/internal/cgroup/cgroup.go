// Package cgroup finds the container and pod a process belongs to from its
// cgroup path, for every layout the container runtimes and the kubelet
// write: docker, kubelet (cgroupfs and systemd drivers) over containerd,
// CRI-O or docker, podman, on cgroup v1 and v2.
//
// The collector already parses the id; the enricher parses again because a
// wrong id is worse than none: it would attach another container's
// metadata to an event.
package cgroup

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed is wrapped by [Parse] when a path names a container layout
// but the id in it is not a valid container id.
var ErrMalformed = errors.New("malformed container cgroup")

// Runtime hints, from the cgroup layout alone. The runtime that answers a
// lookup decides the final type.
const (
	Docker     = "docker"
	Containerd = "containerd"
	CRIO       = "cri-o"
	Podman     = "podman"
	// CRI is a kubelet layout that does not say which runtime runs it
	// (cgroupfs driver: /kubepods/<qos>/pod<uid>/<id>).
	CRI = "cri"
)

// Ref is what a cgroup path tells about a process's container.
type Ref struct {
	ID      string // full container id; "" for a host process
	Runtime string // one of the hints above; "" when unknown
	PodUID  string // Kubernetes pod uid with dashes; "" outside kubepods
}

// Parse reads one cgroup path ("/docker/<id>"), one line of
// /proc/<pid>/cgroup ("4:memory:/docker/<id>") or a whole such file. It
// returns the zero Ref for a host process. It returns an error wrapping
// [ErrMalformed] when the path has a container layout with a bad id; the
// Ref then still carries the pod uid when one was found.
func Parse(s string) (Ref, error) {
	var best Ref
	var firstErr error
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		r, err := parsePath(stripController(line))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			if best.PodUID == "" {
				best.PodUID = r.PodUID
			}
			continue
		}
		if r.ID != "" {
			// Hybrid hosts list the container in several controllers;
			// the first one found is as good as any.
			return r, nil
		}
		if best.PodUID == "" {
			best.PodUID = r.PodUID
		}
	}
	if firstErr != nil {
		return best, firstErr
	}
	return best, nil
}

// stripController drops the "hierarchy-id:controllers:" prefix of a
// /proc/<pid>/cgroup line. A plain path starts with '/' and is kept.
func stripController(line string) string {
	if strings.HasPrefix(line, "/") {
		return line
	}
	if i := strings.Index(line, ":/"); i >= 0 {
		// The controller list has no '/', so the first ":/" ends it.
		if j := strings.IndexByte(line, ':'); j >= 0 && j < i {
			return line[i+1:]
		}
	}
	return line
}

// scope prefixes of systemd units (and cgroupfs leaves) that hold a
// container, longest first where one is a prefix of another.
var scopes = []struct {
	prefix  string
	runtime string
}{
	{"cri-containerd-", Containerd},
	{"crio-conmon-", ""}, // the monitor, not the container
	{"crio-", CRIO},
	{"docker-", Docker},
	{"libpod-conmon-", ""},
	{"libpod-", Podman},
}

func parsePath(p string) (Ref, error) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	var ref Ref
	kube := false
	for _, c := range parts {
		if strings.HasPrefix(c, "kubepods") {
			kube = true
		}
		if uid, ok := podUID(c); ok && kube {
			ref.PodUID = uid
		}
	}
	// Walk from the leaf up: v2 hosts put processes in sub-cgroups of the
	// container's (".../docker-<id>.scope/init.scope", "libpod-<id>.scope/container").
	for i := len(parts) - 1; i >= 0; i-- {
		c := parts[i]
		base := strings.TrimSuffix(c, ".scope")
		matched := false
		for _, s := range scopes {
			if !strings.HasPrefix(base, s.prefix) {
				continue
			}
			matched = true
			if s.runtime == "" {
				return Ref{PodUID: ref.PodUID}, nil
			}
			id := base[len(s.prefix):]
			if !isID(id) {
				return Ref{PodUID: ref.PodUID}, fmt.Errorf("cgroup %q: %s id %q: %w", p, s.runtime, id, ErrMalformed)
			}
			ref.ID, ref.Runtime = id, s.runtime
			if kube && ref.Runtime == Docker {
				ref.Runtime = CRI // cri-dockerd; docker answers all the same
			}
			return ref, nil
		}
		if matched {
			break
		}
		if i == 0 {
			break
		}
		parent := parts[i-1]
		switch {
		case parent == "docker" && !kube:
			if !isID(c) {
				return ref, fmt.Errorf("cgroup %q: docker id %q: %w", p, c, ErrMalformed)
			}
			return Ref{ID: c, Runtime: Docker}, nil
		case parent == "libpod_parent" || strings.HasPrefix(parent, "libpod_parent"):
			if id, ok := strings.CutPrefix(c, "libpod-"); ok {
				if !isID(id) {
					return ref, fmt.Errorf("cgroup %q: podman id %q: %w", p, id, ErrMalformed)
				}
				return Ref{ID: id, Runtime: Podman}, nil
			}
		case kube && strings.HasPrefix(parent, "pod"):
			if _, ok := podUID(parent); ok {
				if !isID(c) {
					return ref, fmt.Errorf("cgroup %q: kubepods container id %q: %w", p, c, ErrMalformed)
				}
				ref.ID, ref.Runtime = c, CRI
				return ref, nil
			}
		}
	}
	return ref, nil
}

// podUID reads the uid of a pod cgroup: "pod<uid>" (cgroupfs) or
// "kubepods-<qos>-pod<uid_with_underscores>.slice" (systemd).
func podUID(c string) (string, bool) {
	c = strings.TrimSuffix(c, ".slice")
	i := strings.LastIndex(c, "pod")
	if i < 0 || (i > 0 && c[i-1] != '-') {
		return "", false
	}
	uid := strings.ReplaceAll(c[i+3:], "_", "-")
	if !isUID(uid) {
		return "", false
	}
	return uid, true
}

// isID reports whether s is a 64-digit lower-case hex container id.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// isUID reports whether s is an RFC 4122 uuid as Kubernetes writes them.
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// IsID reports whether s is a full container id (64 lower-case hex digits).
func IsID(s string) bool { return isID(s) }
