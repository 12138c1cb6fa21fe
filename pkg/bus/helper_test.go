package bus

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// testTimeout bounds every wait in these tests so a bug fails the test
// instead of hanging it.
const testTimeout = 30 * time.Second

// testEnv is an embedded server with a connection to it.
type testEnv struct {
	url  string
	srv  *server.Server
	conn *Conn
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	url, srv := bustest.RunServer(t)
	conn, err := Connect(testContext(t), "test", WithURL(url), WithReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return &testEnv{url: url, srv: srv, conn: conn}
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// ensureStreams creates the standard streams in memory.
func (e *testEnv) ensureStreams(t testing.TB) {
	t.Helper()
	mem := StreamLimits{Memory: true}
	err := e.conn.EnsureStreams(testContext(t), RawStream(mem), EnrichedStream(mem), AlertsStream(mem), DeadLetterStream(mem))
	if err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) streamMsgs(t testing.TB, name string) uint64 {
	t.Helper()
	s, err := e.conn.JS.Stream(testContext(t), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// waitStreamMsgs polls until stream holds want messages; acks are
// asynchronous, so a work queue empties shortly after its consumer acks.
func (e *testEnv) waitStreamMsgs(t testing.TB, name string, want uint64) {
	t.Helper()
	var got uint64
	for range 200 {
		if got = e.streamMsgs(t, name); got == want {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("stream %s holds %d messages, want %d", name, got, want)
}

// publishSync publishes n messages with ids id-0, id-1, ... and waits for
// every ack.
func (e *testEnv) publishSync(t testing.TB, subject string, n int, id string) {
	t.Helper()
	ctx := testContext(t)
	for k := range n {
		data := []byte(fmt.Sprintf("%s-%d", id, k))
		if _, err := e.conn.JS.Publish(ctx, subject, data, jetstream.WithMsgID(string(data))); err != nil {
			t.Fatal(err)
		}
	}
}

// testBatch is a valid batch of n events, like a collector's.
func testBatch(node string, seq uint64, n int) *schema.Batch {
	b := &schema.Batch{Node: node, Seq: seq, BootID: "boot-1"}
	b.Procs = []schema.Process{{
		Pid: 4242, Ppid: 1, Vpid: 4242, Uid: 1000, Euid: 1000, User: "alice",
		Comm: "cat", Exe: "cat", ExePath: "/usr/bin/cat", Args: []string{"/etc/shadow"},
		Cwd: "/home/alice", ContainerID: schema.HostContainerID,
	}}
	for k := range n {
		b.Events = append(b.Events, schema.Event{
			Num: uint64(k), Ts: 1_700_000_000_000_000_000 + int64(k), Type: schema.EventOpenat,
			Tid: 4242, Proc: 0, Res: 3,
			Args: []schema.Arg{schema.IntArg(-100), schema.StrArg("/etc/shadow"), schema.IntArg(0), schema.IntArg(0)},
			FD:   &schema.FD{Num: 3, Type: 'f', Name: "/etc/shadow"},
		})
	}
	return b
}

// waitABit is the pause of the tests' bounded polling loops.
func waitABit() { time.Sleep(10 * time.Millisecond) }

func sortStrings(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
