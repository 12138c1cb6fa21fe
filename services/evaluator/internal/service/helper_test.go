package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
	"github.com/peregrine-rt/peregrine/pkg/schema"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/evaluate"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/ruleset"
)

// waitLimit bounds every wait of these tests; it is a deadlock guard,
// not a timing assertion.
const waitLimit = 20 * time.Second

// ruleFor returns a rule file with one rule, named name, matching openat
// by a process called comm.
func ruleFor(name, comm string) string {
	return fmt.Sprintf(`- rule: %s
  desc: test rule
  condition: evt.type = openat and proc.name = %s
  output: "%s (proc=%%proc.name file=%%fd.name num=%%evt.num)"
  priority: WARNING
  tags: [test]
`, name, comm, name)
}

// env is one embedded server, a client connection and the standard
// streams in memory.
type env struct {
	url  string
	conn *bus.Conn
}

func newEnv(t testing.TB) *env {
	t.Helper()
	url, _ := bustest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, err := bus.Connect(ctx, "test", bus.WithURL(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	l := bus.StreamLimits{Memory: true, Duplicates: time.Minute}
	if err := conn.EnsureStreams(ctx, bus.RawStream(l), bus.EnrichedStream(l), bus.AlertsStream(l), bus.DeadLetterStream(l)); err != nil {
		t.Fatal(err)
	}
	return &env{url: url, conn: conn}
}

// svc is a running service and what a test inspects of it.
type svc struct {
	*Service
	rulesPath string
	reloads   chan error
	metrics   *metrics.Metrics
}

// build makes a service on its own connection (as a replica would) with
// rules from a temp file holding ruleText, without running it.
func (e *env) build(t *testing.T, stream, input, ruleText string) (*svc, *ruleset.Reloader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, err := bus.Connect(ctx, Stage, bus.WithURL(e.url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(ruleText), 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reloads := make(chan error, 16)
	rs, err := ruleset.New(ruleset.Source{Paths: []string{path}}, log, ruleset.Options{
		Poll:     10 * time.Millisecond,
		OnReload: func(_ *ruleset.Set, err error) { reloads <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := evaluate.New("", dropalert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	s, err := New(conn, rs, ev, m, log, Options{Stream: stream, Input: input, Consumer: "evaluator", Batch: 16, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return &svc{Service: s, rulesPath: path, reloads: reloads, metrics: m}, rs
}

// start builds a service and runs it, with its rule reloader, until the
// test ends.
func (e *env) start(t *testing.T, stream, input, ruleText string) *svc {
	t.Helper()
	s, rs := e.build(t, stream, input, ruleText)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- s.Run(ctx) }()
	go func() { done <- rs.Run(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("service: %v", err)
			}
		}
	})
	deadline := time.Now().Add(waitLimit)
	for s.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("service not ready: %v", s.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s
}

// count is the batches_total counter for result.
func (s *svc) count(result string) float64 {
	return testutil.ToFloat64(s.metrics.Batches.WithLabelValues(result))
}

// setRules rewrites the service's rule file and waits for the reload's
// outcome, which it returns.
func (s *svc) setRules(t *testing.T, text string) error {
	t.Helper()
	// Write aside and rename, as an operator (or a ConfigMap) does, so
	// the poll never sees a half-written file.
	tmp := s.rulesPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.rulesPath); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.reloads:
		return err
	case <-time.After(waitLimit):
		t.Fatal("rule file change not picked up")
		return nil
	}
}

// batch builds a batch of node whose events are openat calls of
// processes named comms[i] on /etc/file<i>.
func batch(node string, seq uint64, comms ...string) *schema.Batch {
	b := &schema.Batch{Version: schema.Version, Node: node, BootID: "boot1", Seq: seq}
	for i, comm := range comms {
		b.Procs = append(b.Procs, schema.Process{Pid: int64(100 + i), Comm: comm, Exe: comm, ExePath: "/usr/bin/" + comm,
			User: "root", ContainerID: schema.HostContainerID})
		name := fmt.Sprintf("/etc/file%d", i)
		b.Events = append(b.Events, schema.Event{
			Num: seq*1000 + uint64(i), Ts: time.Date(2026, 12, 1, 10, 0, 0, i, time.UTC).UnixNano(),
			Type: schema.EventOpenat, Tid: int64(100 + i), Proc: int32(i), Res: 3,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg(name), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0), schema.IntArg(0)},
			FD:   &schema.FD{Num: 3, Type: 'f', Name: name},
		})
	}
	return b
}

// publish puts b on subject with its batch message id and waits for the ack.
func (e *env) publish(t *testing.T, subject string, b *schema.Batch) {
	t.Helper()
	data, err := schema.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	e.publishRaw(t, subject, data, schema.BatchMsgID(b))
}

func (e *env) publishRaw(t *testing.T, subject string, data []byte, msgID string) {
	t.Helper()
	e.publishEncoded(t, subject, data, msgID, "")
}

// publishEncoded publishes data as it is, with a Peregrine-Encoding
// header when encoding is set.
func (e *env) publishEncoded(t *testing.T, subject string, data []byte, msgID, encoding string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	m.Header.Set(schema.HeaderMsgID, msgID)
	if encoding != "" {
		m.Header.Set(bus.HeaderEncoding, encoding)
	}
	if _, err := e.conn.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// received is one message read back from a stream.
type received struct {
	Subject string
	Header  nats.Header
	Data    []byte
}

// read returns the first n messages of stream matching filter, waiting
// for them up to waitLimit, then checks that no more arrive within linger.
func (e *env) read(t *testing.T, stream, filter string, n int, linger time.Duration) []received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	oc, err := e.conn.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	var out []received
	for len(out) < n {
		m, err := oc.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("%s: got %d of %d messages: %v", stream, len(out), n, err)
		}
		out = append(out, received{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
	}
	if linger > 0 {
		if m, err := oc.Next(jetstream.FetchMaxWait(linger)); err == nil {
			t.Fatalf("%s: unexpected message %d on %s: %s", stream, n+1, m.Subject(), m.Data())
		}
	}
	return out
}

func decodeAlert(t *testing.T, data []byte) schema.Alert {
	t.Helper()
	var a schema.Alert
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatalf("alert %s: %v", data, err)
	}
	return a
}

// streamMsgs is the number of messages stored in stream.
func (e *env) streamMsgs(t testing.TB, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := e.conn.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
