package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func newPublisher(t testing.TB, conn *Conn, o PublisherOptions) *Publisher {
	t.Helper()
	p, err := NewPublisher(conn, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll reads every message stored in stream, in order, without
// consuming them.
func readAll(t testing.TB, conn *Conn, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := testContext(t)
	s, err := conn.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("stream %s: message %d: %v", stream, seq, err)
		}
		msgs = append(msgs, raw)
	}
	return msgs
}

func TestPublishDuplicateMsgIDStoredOnce(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	ctx := testContext(t)
	p := newPublisher(t, env.conn, PublisherOptions{Window: 8})
	subj := schema.RawSubject("node-a")
	for _, id := range []string{"a", "b", "a", "c", "b", "a"} {
		if err := p.Publish(ctx, subj, []byte("batch "+id), id, nats.Header{"X-Test": {id}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range readAll(t, env.conn, schema.StreamRaw) {
		got = append(got, m.Header.Get(schema.HeaderMsgID)+"="+string(m.Data))
	}
	want := []string{"a=batch a", "b=batch b", "c=batch c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	wantStats := PublisherStats{Published: 6, Duplicates: 3}
	if diff := cmp.Diff(wantStats, p.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestPublishEmptyMsgIDGetsOne checks that a message without an id still
// carries one, and that the caller's header is not modified.
func TestPublishEmptyMsgIDGetsOne(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	ctx := testContext(t)
	p := newPublisher(t, env.conn, PublisherOptions{})
	hdr := nats.Header{"X-Test": {"1"}}
	for range 2 {
		if err := p.Publish(ctx, schema.RawSubject("n"), []byte("x"), "", hdr); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(nats.Header{"X-Test": {"1"}}, hdr); diff != "" {
		t.Errorf("caller's header changed (-want +got):\n%s", diff)
	}
	msgs := readAll(t, env.conn, schema.StreamRaw)
	if len(msgs) != 2 {
		t.Fatalf("stored %d messages, want 2 with distinct generated ids", len(msgs))
	}
	for _, m := range msgs {
		if m.Header.Get(schema.HeaderMsgID) == "" || m.Header.Get("X-Test") != "1" {
			t.Errorf("stored headers %v: want a msg id and X-Test", m.Header)
		}
	}
}

// TestPublishFailureReported publishes where no stream listens: the message
// must come back from Flush and OnFailure, not vanish.
func TestPublishFailureReported(t *testing.T) {
	env := newEnv(t)
	ctx := testContext(t)
	var mu sync.Mutex
	var reported []*PublishError
	p := newPublisher(t, env.conn, PublisherOptions{MaxRetries: 1, OnFailure: func(pe *PublishError) {
		mu.Lock()
		reported = append(reported, pe)
		mu.Unlock()
	}})
	if err := p.Publish(ctx, "nostream.here", []byte("x"), "id-1", nil); err != nil {
		t.Fatal(err)
	}
	err := p.Flush(ctx)
	var pe *PublishError
	if !errors.Is(err, ErrPublishFailed) || !errors.As(err, &pe) {
		t.Fatalf("Flush: got %v, want a PublishError", err)
	}
	if pe.Subject != "nostream.here" || pe.MsgID != "id-1" || pe.Attempts != 2 {
		t.Errorf("got %+v, want subject nostream.here, id id-1, 2 attempts", pe)
	}
	if !errors.Is(pe, jetstream.ErrNoStreamResponse) {
		t.Errorf("last error %v, want %v", pe.Err, jetstream.ErrNoStreamResponse)
	}
	mu.Lock()
	if len(reported) != 1 || reported[0] != pe {
		t.Errorf("OnFailure got %v, want the error Flush returned", reported)
	}
	mu.Unlock()
	if s := p.Stats(); s.Failed != 1 || s.Pending != 0 || s.Retries != 1 {
		t.Errorf("stats %+v, want 1 failed, 1 retry, none pending", s)
	}
	// Failures are reported once.
	if err := p.Flush(ctx); err != nil {
		t.Errorf("second Flush: %v, want nil", err)
	}
}

// TestPublishWindowBlocks checks that Publish waits while the window is
// full and gives up when its context ends: with the server stopped no ack
// comes back.
func TestPublishWindowBlocks(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	p := newPublisher(t, env.conn, PublisherOptions{Window: 2})
	bustest.Stop(t, env.srv)
	ctx := testContext(t)
	for k := range 2 {
		if err := p.Publish(ctx, schema.RawSubject("n"), []byte("x"), fmt.Sprint(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Publish(cctx, schema.RawSubject("n"), []byte("x"), "2", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish into a full window: got %v, want context.Canceled", err)
	}
	if err := p.Flush(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush with the server down: got %v, want context.Canceled", err)
	}
	if s := p.Stats(); s.Pending != 2 {
		t.Errorf("pending %d, want 2", s.Pending)
	}
}

// TestPublishSurvivesRestart stops the server while a publisher has more
// to send than its window holds, restarts it on the same port and store,
// and checks that every message is stored exactly once.
func TestPublishSurvivesRestart(t *testing.T) {
	env := newEnv(t)
	ctx := testContext(t)
	// File storage: the stream must outlive the server.
	if err := env.conn.EnsureStreams(ctx, RawStream(StreamLimits{})); err != nil {
		t.Fatal(err)
	}
	const total, window = 600, 64
	p := newPublisher(t, env.conn, PublisherOptions{Window: window})
	subj := schema.RawSubject("node-a")
	data, err := schema.Marshal(testBatch("node-a", 1, 16))
	if err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) error {
		for k := from; k < to; k++ {
			if err := p.Publish(ctx, subj, data, fmt.Sprintf("node-a-boot-1-%d", k), nil); err != nil {
				return err
			}
		}
		return nil
	}
	if err := publish(0, total/3); err != nil {
		t.Fatal(err)
	}
	restart := bustest.Stop(t, env.srv)
	// The rest fills the window and then blocks until the server is back.
	done := make(chan error, 1)
	go func() { done <- publish(total/3, total) }()
	for range 400 {
		if p.Stats().Pending == window {
			break
		}
		waitABit()
	}
	if s := p.Stats(); s.Pending != window {
		t.Fatalf("pending %d while the server is down, want a full window of %d", s.Pending, window)
	}
	// Stay down long enough for many reconnect attempts and retry polls.
	time.Sleep(2 * time.Second)
	env.srv = restart()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range readAll(t, env.conn, schema.StreamRaw) {
		seen[m.Header.Get(schema.HeaderMsgID)]++
	}
	for k := range total {
		if id := fmt.Sprintf("node-a-boot-1-%d", k); seen[id] != 1 {
			t.Errorf("message %s stored %d times, want once", id, seen[id])
		}
	}
	if len(seen) != total {
		t.Errorf("stored %d distinct messages, want %d", len(seen), total)
	}
	s := p.Stats()
	// Published counts each message once, whether its ack said duplicate
	// (a retry of a message stored just before the server stopped) or not.
	if s.Failed != 0 || s.Published != total {
		t.Errorf("stats %+v: want no failures and %d published", s, total)
	}
	t.Logf("stats after the outage: %+v", s)
}

// TestPublishConnClosedReports closes the connection with messages in the
// window: each is reported as failed, none waits forever.
func TestPublishConnClosedReports(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	p := newPublisher(t, env.conn, PublisherOptions{AckTimeout: 200 * time.Millisecond})
	bustest.Stop(t, env.srv)
	ctx := testContext(t)
	for k := range 3 {
		if err := p.Publish(ctx, schema.RawSubject("n"), []byte("x"), fmt.Sprint(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	env.conn.Close()
	err := p.Flush(ctx)
	if !errors.Is(err, ErrPublishFailed) {
		t.Fatalf("Flush: got %v, want %v", err, ErrPublishFailed)
	}
	var ids []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var pe *PublishError
		if errors.As(e, &pe) {
			ids = append(ids, pe.MsgID)
		}
	}
	if diff := cmp.Diff([]string{"0", "1", "2"}, sortStrings(ids)); diff != "" {
		t.Errorf("failed ids (-want +got):\n%s", diff)
	}
	if s := p.Stats(); s.Failed != 3 || s.Pending != 0 {
		t.Errorf("stats %+v, want 3 failed, none pending", s)
	}
}
