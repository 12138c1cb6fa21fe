package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/falcosecurity/client-go/pkg/client"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/natstest"
)

// TestFalcoPayloadReachesGRPCClient follows an alert from Falco's
// http_output through the bus to a Falco gRPC client on the unix socket.
func TestFalcoPayloadReachesGRPCClient(t *testing.T) {
	s := natstest.Server(t, "")
	sock := filepath.Join(t.TempDir(), "notifier.sock")
	cfg := writeConfig(t, "stdout:\n  enabled: false\ngrpc:\n  enabled: true\n  bind_address: unix://"+sock+"\ncustomfields:\n  cluster: test\n")
	addr, _, _ := runMain(t, s.ClientURL(), "--config", cfg)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.NewForConfig(ctx, &client.Config{UnixSocketPath: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	oc, err := c.Outputs()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := oc.Sub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile("testdata/falco_read_sensitive_file_untrusted.json")
	if err != nil {
		t.Fatal(err)
	}
	// The sub stream may open after the first post: post until it sees one,
	// a bounded number of times.
	got := make(chan *outputs.Response, 1)
	go func() {
		if r, err := sub.Recv(); err == nil {
			got <- r
		}
	}()
	var r *outputs.Response
	for i := 0; i < 100 && r == nil; i++ {
		// Trailing blanks change the body's digest, hence its Nats-Msg-Id,
		// so the bus does not drop a repeat as a duplicate.
		if code, body := post(t, "http://"+addr+"/", string(payload)+strings.Repeat(" ", i)); code != 200 {
			t.Fatalf("POST / = %d %s", code, body)
		}
		select {
		case r = <-got:
		case <-time.After(200 * time.Millisecond):
		}
	}
	if r == nil {
		t.Fatal("no alert on the sub stream")
	}
	if r.Rule != "Read sensitive file untrusted" || r.OutputFields["proc.cmdline"] != "cat /etc/shadow" ||
		r.OutputFields["cluster"] != "test" || r.OutputFields["k8s.pod.name"] != "<NA>" || r.Hostname != "worker-node-1" {
		t.Errorf("sub response %v", r)
	}
	if got := r.Time.AsTime(); !got.Equal(time.Date(2025, 12, 1, 20, 31, 56, 746609046, time.UTC)) {
		t.Errorf("time %v", got)
	}
}
