package fields

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

const testCID = "3f1a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708"

func podContainer() *schema.Container {
	return &schema.Container{
		ID: testCID, Type: "containerd", Name: "web", Image: "docker.io/library/nginx:1.27@sha256:abcd",
		ImageDigest: "sha256:abcd", ImageID: "sha256:ef01", Privileged: true,
		Mounts: []schema.Mount{
			{Source: "/var/lib/kubelet/pods/x/volumes", Dest: "/data", Mode: "", RW: true, Propagation: "rprivate"},
			{Source: "/run/containerd/containerd.sock", Dest: "/run/containerd/containerd.sock", Mode: "", RW: false, Propagation: "rprivate"},
			{Source: "/proc", Dest: "/host/proc", Mode: "ro", RW: false, Propagation: "rslave"},
		},
		StartTs: testStart, IP: "10.244.0.7",
		Labels: map[string]string{"io.kubernetes.pod.name": "web-abc", "io.kubernetes.pod.namespace": "shop", "app": "web"},
		Pod: &schema.Pod{Name: "web-abc", UID: "u-1", Namespace: "shop", IP: "10.244.0.7",
			Labels: map[string]string{"app": "web", "tier": "front"}, NSLabels: map[string]string{"team": "a"},
			ReplicaSet: "web-5d8f", Deployment: "web", Node: "node-1"},
	}
}

func TestContainerFields(t *testing.T) {
	spellings := []string{
		"container.id", "container.full_id", "container.name", "container.type", "container.image",
		"container.image.repository", "container.image.tag", "container.image.digest", "container.privileged",
		"container.mounts", "container.mount.dest[/var/run/docker.sock]", "container.mount.dest[/run/containerd/containerd.sock]",
		"container.mount.dest[/proc*]", "container.mount.dest[/]", "container.mount.dest[2]", "container.mount.source[/data]",
		"container.mount[1]", "container.start_ts", "container.duration", "container.ip", "container.label[app]",
		"container.label[nope]", "container.healthcheck",
		"k8s.ns.name", "k8s.pod.name", "k8s.pod.uid", "k8s.pod.ip", "k8s.pod.label[tier]", "k8s.pod.labels",
		"k8s.ns.labels", "k8s.ns.label[team]", "k8s.rs.name", "k8s.deployment.name", "k8s.node.name",
	}
	none := map[string]string{}
	for _, s := range spellings {
		none[s] = NA
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := make(map[string]string, len(base))
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	inCt := func() *schema.Process {
		p := shellProc()
		p.ContainerID, p.PidNSInitStartTs = testCID, testStart
		return p
	}
	host := shellProc()
	host.PidNSInitStartTs = 1000
	tests := []struct {
		name string
		proc *schema.Process
		ct   *schema.Container
		want map[string]string
	}{{
		name: "unknown thread",
		want: none,
	}, {
		name: "host process",
		proc: host,
		want: with(none, "container.id", "host", "container.full_id", "host", "container.name", "host",
			"container.type", "host", "container.image", "", "container.image.repository", "", "container.image.tag", "",
			"container.image.digest", "", "container.privileged", "false", "container.mounts", "",
			"container.start_ts", "1000", "container.duration", "1764620785123455789"),
	}, {
		name: "container before metadata",
		proc: inCt(),
		want: with(none, "container.id", "3f1a2b4c5d6e", "container.full_id", testCID,
			"container.start_ts", "1764620780123456789", "container.duration", "5000000000"),
	}, {
		name: "incomplete metadata counts as none",
		proc: inCt(),
		ct:   &schema.Container{ID: testCID, Incomplete: true},
		want: with(none, "container.id", "3f1a2b4c5d6e", "container.full_id", testCID,
			"container.start_ts", "1764620780123456789", "container.duration", "5000000000"),
	}, {
		name: "kubernetes container",
		proc: inCt(),
		ct:   podContainer(),
		want: map[string]string{
			"container.id": "3f1a2b4c5d6e", "container.full_id": testCID, "container.name": "web",
			"container.type": "containerd", "container.image": "docker.io/library/nginx:1.27@sha256:abcd",
			"container.image.repository": "docker.io/library/nginx", "container.image.tag": "1.27",
			"container.image.digest": "sha256:abcd", "container.privileged": "true",
			"container.mounts": "/var/lib/kubelet/pods/x/volumes:/data::true:rprivate," +
				"/run/containerd/containerd.sock:/run/containerd/containerd.sock::false:rprivate,/proc:/host/proc:ro:false:rslave",
			"container.mount.dest[/var/run/docker.sock]":            NA,
			"container.mount.dest[/run/containerd/containerd.sock]": "/run/containerd/containerd.sock",
			// A regex search: "/pro" then any number of "c".
			"container.mount.dest[/proc*]": "/host/proc",
			// "/" matches every absolute source: the first mount wins.
			"container.mount.dest[/]":       "/data",
			"container.mount.dest[2]":       "/host/proc",
			"container.mount.source[/data]": "/var/lib/kubelet/pods/x/volumes",
			"container.mount[1]":            "/run/containerd/containerd.sock:/run/containerd/containerd.sock::false:rprivate",
			"container.start_ts":            "1764620780123456789", "container.duration": "5000000000",
			"container.ip": "10.244.0.7", "container.label[app]": "web", "container.label[nope]": NA,
			"container.healthcheck": NA,
			"k8s.ns.name":           "shop", "k8s.pod.name": "web-abc", "k8s.pod.uid": "u-1", "k8s.pod.ip": "10.244.0.7",
			"k8s.pod.label[tier]": "front", "k8s.pod.labels": "app:web, tier:front", "k8s.ns.labels": "team:a",
			"k8s.ns.label[team]": "a", "k8s.rs.name": "web-5d8f", "k8s.deployment.name": "web", "k8s.node.name": "node-1",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCtx(one(schema.Event{Type: schema.EventUnlink, Args: []schema.Arg{schema.StrArg("/x")}}, tt.proc, tt.ct), 0, "")
			if diff := cmp.Diff(tt.want, render(t, c, spellings...)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImageSplit(t *testing.T) {
	tests := []struct{ image, repo, tag string }{
		{"alpine", "alpine", ""},
		{"alpine:3.20", "alpine", "3.20"},
		{"reg:5000/a/b:1", "reg:5000/a/b", "1"},
		{"reg:5000/a/b", "reg:5000/a/b", ""},
		{"falcosecurity/falco@sha256:0123", "falcosecurity/falco", ""},
		{"docker.io/library/nginx:1.27@sha256:abcd", "docker.io/library/nginx", "1.27"},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			repo, tag := splitImage(tt.image)
			if repo != tt.repo || tag != tt.tag {
				t.Errorf("splitImage(%q) = %q, %q; want %q, %q", tt.image, repo, tag, tt.repo, tt.tag)
			}
		})
	}
}

// TestK8sFromCRILabels: without a Pod object the CRI labels kubelet sets
// still give the namespace and pod name.
func TestK8sFromCRILabels(t *testing.T) {
	p := shellProc()
	p.ContainerID = testCID
	ct := podContainer()
	ct.Pod = nil
	c := NewCtx(one(schema.Event{Type: schema.EventUnlink, Args: []schema.Arg{schema.StrArg("/x")}}, p, ct), 0, "")
	want := map[string]string{"k8s.ns.name": "shop", "k8s.pod.name": "web-abc", "k8s.pod.uid": NA, "k8s.rs.name": NA}
	if diff := cmp.Diff(want, render(t, c, "k8s.ns.name", "k8s.pod.name", "k8s.pod.uid", "k8s.rs.name")); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestSearchLiteral(t *testing.T) {
	tests := []struct {
		expr, lit string
		ok        bool
	}{
		{"/var/run/docker.sock", "", false}, // "." is any character
		{"/etc/kubernetes", "/etc/kubernetes", true},
		{"/proc*", "/pro", true},
		{"/root*", "/roo", true},
		{"/", "/", true},
		{"/etc/(a|b)", "", false},
		{"^/etc", "", false},
		{"/ab?", "/a", true},
	}
	for _, tt := range tests {
		lit, ok := searchLiteral(tt.expr)
		if lit != tt.lit || ok != tt.ok {
			t.Errorf("searchLiteral(%q) = %q, %v; want %q, %v", tt.expr, lit, ok, tt.lit, tt.ok)
		}
	}
}
