package dogstatsd

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

func TestSendCountsWithTags(t *testing.T) {
	// A UDP socket on 127.0.0.1 stands in for the Datadog agent.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	tests := []struct {
		name, yaml string
		env        map[string]string
		alert      schema.Alert
		want       string
	}{
		{
			name:  "defaults",
			alert: schema.Alert{Rule: "Terminal shell in container", Priority: schema.PriorityNotice, Source: "syscall"},
			want:  "falcosidekick.falco.accepted:1|c|#priority:Notice,rule:Terminal_shell_in_container,source:syscall",
		},
		{
			name:  "namespace and tags",
			yaml:  "  namespace: sec.\n  tags: [env:prod, 'team:blue|red']\n",
			alert: schema.Alert{Rule: "Write below etc, again", Priority: schema.PriorityError, Source: "syscall"},
			want:  "sec.falco.accepted:1|c|#priority:Error,rule:Write_below_etc__again,source:syscall,env:prod,team:blue_red",
		},
		{
			name:  "tags from env",
			env:   map[string]string{"DOGSTATSD_TAGS": "env:dev,cluster:c1"},
			alert: schema.Alert{Rule: "r", Priority: schema.PriorityDebug},
			want:  "falcosidekick.falco.accepted:1|c|#priority:Debug,rule:r,env:dev,cluster:c1",
		},
	}
	buf := make([]byte, 65536)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := output.ParseConfig("dogstatsd", "config.yaml", "dogstatsd:\n  forwarder: "+pc.LocalAddr().String()+"\n"+tt.yaml,
				func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			o, err := Spec().New(cfg, output.Env{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.(output.Closer).Close()
			if err := o.Send(context.Background(), output.Delivery{Alert: &tt.alert}); err != nil {
				t.Fatal(err)
			}
			if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no datagram: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(buf[:n])); diff != "" {
				t.Errorf("datagram (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigRequiresForwarder(t *testing.T) {
	cfg, err := output.ParseConfig("dogstatsd", "config.yaml", "dogstatsd:\n  namespace: x.\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Spec().New(cfg, output.Env{}); err == nil || !strings.Contains(err.Error(), "forwarder") {
		t.Fatalf("err = %v, want one naming forwarder", err)
	}
}
