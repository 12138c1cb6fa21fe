package enrich

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/cri"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/docker"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/resolve"
)

// junkServer listens on a unix socket and answers every connection with
// reply, then closes it.
func junkServer(t *testing.T, reply string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "junk.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = c.Write([]byte(reply))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return path
}

// TestBadInput: malformed cgroups, unknown runtimes and sockets answering
// garbage give batches with what is known, counted, never dropped.
func TestBadInput(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	httpJunk := junkServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"Id\":[1]")
	rawJunk := junkServer(t, "\x00\xffthis is no protocol at all\r\n\r\n")
	criJunk, err := cri.New(rawJunk, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { criJunk.Close() })
	runtimes := []resolve.Runtime{
		docker.New(httpJunk, 300*time.Millisecond),
		docker.New(rawJunk, 300*time.Millisecond),
		criJunk,
	}
	r := newRig(t, runtimes, nil, Config{Hold: 300 * time.Millisecond})

	tests := []struct {
		name     string
		proc     schema.Process
		wantID   string // process container id after enrichment
		wantCont bool
	}{
		{name: "garbage answers", proc: schema.Process{Pid: 1, Cgroup: "/docker/" + id}, wantID: id, wantCont: true},
		{name: "malformed cgroup", proc: schema.Process{Pid: 2, Cgroup: "0::/system.slice/docker-zz.scope"}, wantID: schema.HostContainerID},
		{name: "malformed cgroup, collector id kept", proc: schema.Process{Pid: 3, Cgroup: "/docker/xyz", ContainerID: id}, wantID: id, wantCont: true},
		{name: "unknown runtime layout", proc: schema.Process{Pid: 4, Cgroup: "/lxc/payload/thing", ContainerID: id}, wantID: id, wantCont: true},
		{name: "binary cgroup", proc: schema.Process{Pid: 5, Cgroup: "\x00\x01\x02\xff"}, wantID: schema.HostContainerID},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.enrich(t, batch("n", uint64(i), tt.proc, 2))
			if len(got.Events) != 2 {
				t.Fatalf("events = %d, want 2", len(got.Events))
			}
			if got.Procs[0].ContainerID != tt.wantID {
				t.Errorf("container id = %q, want %q", got.Procs[0].ContainerID, tt.wantID)
			}
			c := got.Container(tt.wantID)
			if tt.wantCont != (c != nil) || (c != nil && !c.Incomplete) {
				t.Errorf("container = %+v, want incomplete: %v", c, tt.wantCont)
			}
		})
	}
	if n := testutil.ToFloat64(r.m.BadCgroups); n != 2 {
		t.Errorf("bad cgroups = %v, want 2", n)
	}
	for _, rt := range runtimes {
		if n := testutil.ToFloat64(r.m.RuntimeErrors.WithLabelValues(rt.Name())); n == 0 {
			t.Errorf("%s: runtime errors not counted", rt.Name())
		}
	}
}
