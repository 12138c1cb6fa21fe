package statsd

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

// listen opens a UDP socket on 127.0.0.1 standing in for a StatsD daemon.
func listen(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// read returns the next datagram, failing after a bounded wait.
func read(t *testing.T, pc net.PacketConn) string {
	t.Helper()
	buf := make([]byte, 65536)
	if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(buf[:n])
}

func build(t *testing.T, yaml string) (output.Output, error) {
	t.Helper()
	cfg, err := output.ParseConfig("statsd", "config.yaml", yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Spec().New(cfg, output.Env{})
	if err == nil {
		t.Cleanup(func() { o.(output.Closer).Close() })
	}
	return o, err
}

func TestSendCountsByPriorityAndRule(t *testing.T) {
	pc := listen(t)
	tests := []struct {
		name, yaml string
		alert      schema.Alert
		want       string
	}{
		{
			name:  "default namespace",
			alert: schema.Alert{Rule: "Terminal shell in container", Priority: schema.PriorityNotice},
			want:  "falcosidekick.falco.accepted.Notice:1|c\nfalcosidekick.falco.rule.terminal_shell_in_container:1|c",
		},
		{
			name:  "own namespace",
			yaml:  "  namespace: sec.\n",
			alert: schema.Alert{Rule: "Write below /etc", Priority: schema.PriorityError},
			want:  "sec.falco.accepted.Error:1|c\nsec.falco.rule.write_below_etc:1|c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := build(t, "statsd:\n  forwarder: "+pc.LocalAddr().String()+"\n"+tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Send(context.Background(), output.Delivery{Alert: &tt.alert}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, read(t, pc)); diff != "" {
				t.Errorf("datagram (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendRefusedIsRetryableAndRedials(t *testing.T) {
	// A port with nothing bound: Linux answers the first datagram with ICMP
	// port unreachable, which a connected UDP socket reports on a later
	// write as ECONNREFUSED.
	pc := listen(t)
	addr := pc.LocalAddr().String()
	pc.Close()
	o, err := build(t, "statsd:\n  forwarder: "+addr+"\n")
	if err != nil {
		t.Fatal(err)
	}
	s := o.(*Output).s
	d := output.Delivery{Alert: &schema.Alert{Rule: "r"}}
	for i := 0; i < 20 && err == nil; i++ {
		err = o.Send(context.Background(), d)
	}
	if err == nil || output.IsPermanent(err) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want a retryable error naming %s", err, addr)
	}
	s.mu.Lock()
	dropped := s.conn == nil
	s.mu.Unlock()
	if !dropped {
		t.Error("failed socket kept; the next Send would not redial")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, yaml := range []string{"statsd:\n  namespace: x.\n", "statsd:\n  forwarder: localhost\n"} {
		if _, err := build(t, yaml); err == nil || !strings.Contains(err.Error(), "forwarder") {
			t.Errorf("%q: err = %v, want one naming forwarder", yaml, err)
		}
	}
}

// BenchmarkSend measures one datagram to a local socket; a reader drains
// it so the socket buffer never fills.
func BenchmarkSend(b *testing.B) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	s := NewSender(pc.LocalAddr().String())
	defer s.Close()
	msg := []byte(Metrics(&schema.Alert{Rule: "Terminal shell in container", Priority: schema.PriorityNotice}, DefaultNamespace))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}
