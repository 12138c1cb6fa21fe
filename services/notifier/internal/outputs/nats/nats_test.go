package nats

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/natstest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

func newNATS(t *testing.T, yaml string) output.Output {
	t.Helper()
	cfg, err := output.ParseConfig("nats", "test.yaml", yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, output.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.(output.Closer).Close() })
	return o
}

func alert() *schema.Alert {
	return &schema.Alert{Rule: "Read sensitive file untrusted", Priority: schema.PriorityWarning, Source: "syscall",
		Time: time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC), Output: "x", OutputFields: map[string]any{"proc.name": "cat"}, Tags: []string{"filesystem"}}
}

func TestCorePublish(t *testing.T) {
	// A second server, not the notifier's bus.
	s := natstest.Server(t, "")
	nc, _ := natstest.Connect(t, s)
	sub, err := nc.SubscribeSync("falco.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	o := newNATS(t, "nats:\n  hostport: "+s.ClientURL()+"\n")
	if err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "alert-1"}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "falco.warning.read_sensitive_file_untrusted" {
		t.Errorf("subject %q", m.Subject)
	}
	if got := m.Header.Get(schema.HeaderMsgID); got != "alert-1" {
		t.Errorf("Nats-Msg-Id %q", got)
	}
	var got schema.Alert
	if err := json.Unmarshal(m.Data, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*alert(), got); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
}

func TestJetStreamDeduplicates(t *testing.T) {
	s := natstest.Server(t, "")
	_, js := natstest.Connect(t, s)
	ctx := context.Background()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FALCO", Subjects: []string{"sec.>"}})
	if err != nil {
		t.Fatal(err)
	}
	o := newNATS(t, "nats:\n  hostport: "+s.ClientURL()+"\n  jetstream: true\n  subjecttemplate: sec.<priority>\n")
	for range 2 { // a retry of the same alert
		if err := o.Send(ctx, output.Delivery{Alert: alert(), ID: "alert-1"}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream has %d messages, want 1", info.State.Msgs)
	}
	m, err := st.GetLastMsgForSubject(ctx, "sec.warning")
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(natsgo.MsgIdHdr) != "alert-1" {
		t.Errorf("header %v", m.Header)
	}
}

func TestDownServerErrorHidesPassword(t *testing.T) {
	s := natstest.Server(t, "")
	url := s.ClientURL()
	s.Shutdown()
	o := newNATS(t, "nats:\n  hostport: "+url+"\n  user: u\n  password: hunter2\n")
	err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "a"})
	if err == nil || output.IsPermanent(err) {
		t.Fatalf("Send = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}
