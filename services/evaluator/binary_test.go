package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func testRule(name string) string {
	return "- rule: " + name + `
  desc: test
  condition: evt.type = openat and proc.name = cat
  output: "` + name + ` (file=%fd.name)"
  priority: ERROR
`
}

// TestBinaryReloadOnSIGHUP runs the built binary, as a deployment does:
// rules from a file, reloaded on SIGHUP only (the poll is set to an hour),
// a broken edit rejected, and the outcome visible on /metrics.
func TestBinaryReloadOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	url, _ := bustest.RunServer(t)
	evaluator := evaluatorBinary(t)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, rulesFile, testRule("Rule A"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proc, addr := startProc(t, ctx, "evaluator", evaluator, "run", "--nats-url", url, "-r", rulesFile,
		"--poll-interval", "1h", "--metrics-addr", "127.0.0.1:0")
	waitReady(t, addr)

	conn, err := bus.Connect(ctx, "test", bus.WithURL(url))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	alerts, err := conn.JS.OrderedConsumer(ctx, schema.StreamAlerts, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	publishAndExpect := func(wantSubject string) {
		t.Helper()
		seq++
		b := &schema.Batch{Version: schema.Version, Node: "node1", BootID: "t", Seq: seq,
			Procs: []schema.Process{{Pid: 10, Comm: "cat", ContainerID: schema.HostContainerID}},
			Events: []schema.Event{{Type: schema.EventOpenat, Tid: 10, Proc: 0, Res: 3, Ts: time.Now().UnixNano(),
				Args: []schema.Arg{{Int: -100}, {Str: "/etc/motd"}, {}, {}, {}, {}},
				FD:   &schema.FD{Num: 3, Type: 'f', Name: "/etc/motd"}}},
		}
		data, err := schema.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		m := &nats.Msg{Subject: schema.EnrichedSubject("node1"), Data: data, Header: nats.Header{}}
		m.Header.Set(schema.HeaderMsgID, schema.BatchMsgID(b))
		if _, err := conn.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := alerts.Next(jetstream.FetchMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("no alert for batch %d: %v", seq, err)
		}
		if got.Subject() != wantSubject {
			t.Fatalf("batch %d: alert on %s, want %s", seq, got.Subject(), wantSubject)
		}
		var a schema.Alert
		if err := json.Unmarshal(got.Data(), &a); err != nil || a.Hostname != "node1" {
			t.Fatalf("alert %s: %v (hostname %q, want the event's node)", got.Data(), err, a.Hostname)
		}
	}
	hupAndWait := func(wantResult string, n int) {
		t.Helper()
		if err := proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitMetrics(t, addr, `peregrine_evaluator_rule_reloads_total{result="`+wantResult+`"} `+strconv.Itoa(n))
	}

	publishAndExpect("alerts.error.rule_a")
	writeFile(t, rulesFile, "- rule: Rule B\n  desc: x\n  condition: evt.type = openat and proc.nosuch = cat\n  output: x\n  priority: ERROR\n")
	hupAndWait("failed", 1)
	publishAndExpect("alerts.error.rule_a")
	writeFile(t, rulesFile, testRule("Rule B"))
	hupAndWait("ok", 1)
	publishAndExpect("alerts.error.rule_b")

	// The last batch is counted after its alert's ack, which the test may
	// see first: wait for the counters, boundedly.
	waitMetrics(t, addr,
		`peregrine_evaluator_alerts_total{priority="Error",rule="Rule A"} 2`,
		`peregrine_evaluator_alerts_total{priority="Error",rule="Rule B"} 1`,
		`peregrine_evaluator_events_total 3`,
		`peregrine_evaluator_batches_total{result="ok"} 3`,
		`peregrine_evaluator_ruleset_generation 2`,
	)
}

// waitMetrics polls addr's /metrics until it has every line of wants,
// for at most 30s.
func waitMetrics(t *testing.T, addr string, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := metricsText(addr, "peregrine_evaluator_")
		var missing []string
		for _, w := range wants {
			if !strings.Contains(m+"\n", w+"\n") {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q after 30s:\n%s", missing, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
