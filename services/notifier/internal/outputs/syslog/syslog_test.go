package syslog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// rfc5424 parses "<PRI>1 TS HOST APP PROCID MSGID SD MSG".
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?[^\\]\]) (.*)$`)

type parsed struct {
	Pri                          int
	Time, Host, App, Proc, MsgID string
	SD                           string
	Alert                        schema.Alert
}

func parse(t *testing.T, msg string) parsed {
	t.Helper()
	m := rfc5424.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not RFC 5424: %q", msg)
	}
	pri, _ := strconv.Atoi(m[1])
	p := parsed{Pri: pri, Time: m[2], Host: m[3], App: m[4], Proc: m[5], MsgID: m[6], SD: m[7]}
	if _, err := time.Parse(time.RFC3339Nano, p.Time); err != nil {
		t.Errorf("timestamp %q: %v", p.Time, err)
	}
	if err := json.Unmarshal([]byte(m[8]), &p.Alert); err != nil {
		t.Fatalf("MSG %q: %v", m[8], err)
	}
	return p
}

func newSyslog(t *testing.T, env map[string]string) output.Output {
	t.Helper()
	cfg, err := output.ParseConfig("syslog", "test.yaml", "syslog:\n  facility: auth\n", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, output.Env{Hostname: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.(output.Closer).Close() })
	return o
}

func alert() *schema.Alert {
	return &schema.Alert{Rule: `Read "sensitive" file]`, Priority: schema.PriorityCritical, Source: "syscall", Hostname: "node-1",
		Time: time.Date(2026, 12, 1, 20, 31, 56, 746609046, time.UTC), Output: "Sensitive file opened",
		OutputFields: map[string]any{"fd.name": "/etc/shadow"}, Tags: []string{"filesystem"}}
}

func check(t *testing.T, msg string) {
	t.Helper()
	p := parse(t, msg)
	want := parsed{Pri: 4*8 + 2, Time: "2026-12-01T20:31:56.746609Z", Host: "node-1", App: "falco", Proc: "-", MsgID: "alert-1",
		SD: `[falco@32473 rule="Read \"sensitive\" file\]" priority="Critical" source="syscall"]`, Alert: *alert()}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

func TestUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	o := newSyslog(t, map[string]string{"SYSLOG_HOST": "127.0.0.1", "SYSLOG_PORT": strconv.Itoa(port)})
	if err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "alert-1"}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	check(t, string(buf[:n]))
}

func TestTCPOctetCounting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	msgs := make(chan string, 2)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for range 2 {
			var n int
			if _, err := fmt.Fscanf(r, "%d ", &n); err != nil {
				msgs <- "framing: " + err.Error()
				return
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				msgs <- "short frame: " + err.Error()
				return
			}
			msgs <- string(b)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	o := newSyslog(t, map[string]string{"SYSLOG_HOST": "127.0.0.1", "SYSLOG_PORT": strconv.Itoa(port), "SYSLOG_PROTOCOL": "tcp"})
	for range 2 {
		if err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "alert-1"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case m := <-msgs:
			check(t, m)
		case <-time.After(10 * time.Second):
			t.Fatal("no message in 10s")
		}
	}
}

func TestUnixDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	o := newSyslog(t, map[string]string{"SYSLOG_HOST": path, "SYSLOG_PROTOCOL": "unix"})
	if err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "alert-1"}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	check(t, string(buf[:n]))
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "field host: missing"},
		{map[string]string{"SYSLOG_HOST": "h", "SYSLOG_PROTOCOL": "smoke"}, "field protocol"},
		{map[string]string{"SYSLOG_HOST": "h", "SYSLOG_FACILITY": "nope"}, "field facility"},
	} {
		cfg, _ := output.ParseConfig("syslog", "t.yaml", "", func(k string) string { return tt.env[k] })
		if _, err := New(cfg, output.Env{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%v) = %v, want %q", tt.env, err, tt.want)
		}
	}
}
