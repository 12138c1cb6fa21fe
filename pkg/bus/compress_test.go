package bus

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// TestPublishCompressed sends an event batch and a short payload through
// a compressing publisher and a real server: the batch is stored s2
// compressed and marked, the short one as it is, and Payload gives both
// back as published.
func TestPublishCompressed(t *testing.T) {
	env := newEnv(t)
	env.ensureStreams(t)
	ctx := testContext(t)
	p := newPublisher(t, env.conn, PublisherOptions{Compress: true})
	batch, err := schema.Marshal(testBatch("node-a", 1, 512))
	if err != nil {
		t.Fatal(err)
	}
	short := []byte("short")
	subj := schema.RawSubject("node-a")
	for i, data := range [][]byte{batch, short} {
		if err := p.Publish(ctx, subj, data, string(rune('a'+i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stored := readAll(t, env.conn, schema.StreamRaw)
	if len(stored) != 2 {
		t.Fatalf("stored %d messages, want 2", len(stored))
	}
	if enc := stored[0].Header.Get(HeaderEncoding); enc != EncodingS2 || len(stored[0].Data)*3 > len(batch) {
		t.Errorf("batch of %d bytes stored as %d bytes, encoding %q: want s2, under a third", len(batch), len(stored[0].Data), enc)
	}
	if enc := stored[1].Header.Get(HeaderEncoding); enc != "" || string(stored[1].Data) != "short" {
		t.Errorf("short payload stored as %q, encoding %q: want it as it is", stored[1].Data, enc)
	}

	got := make(chan []byte, 2)
	c := newConsumer(t, env.conn, schema.StreamRaw, jetstream.ConsumerConfig{}, "enricher")
	stop := runConsumer(t, c, 8, func(_ context.Context, msgs []*Msg) error {
		for _, m := range msgs {
			data, err := m.Payload(nil)
			if err != nil {
				return err
			}
			got <- append([]byte(nil), data...)
		}
		return nil
	})
	defer stop()
	for _, want := range [][]byte{batch, short} {
		select {
		case data := <-got:
			if !cmp.Equal(want, data) {
				t.Errorf("payload of %d bytes, want the %d published", len(data), len(want))
			}
		case <-ctx.Done():
			t.Fatal("not every message arrived")
		}
	}
	b, err := schema.Unmarshal(batch)
	if err != nil || len(b.Events) != 512 {
		t.Fatalf("batch: %v", err)
	}
}

// TestPayloadErrors: a payload that does not decode, or an encoding
// nobody knows, is an error wrapping ErrEncoding (a consumer dead-letters
// it), never a panic.
func TestPayloadErrors(t *testing.T) {
	for name, m := range map[string]*Msg{
		"corrupt s2":       {Data: []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2}, Header: nats.Header{HeaderEncoding: {EncodingS2}}},
		"unknown encoding": {Data: []byte("x"), Header: nats.Header{HeaderEncoding: {"zstd"}}},
	} {
		if _, err := m.Payload(nil); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: %v, want ErrEncoding", name, err)
		}
	}
	buf := make([]byte, 0, 4)
	plain := &Msg{Data: []byte("as is")}
	if data, err := plain.Payload(buf); err != nil || string(data) != "as is" {
		t.Errorf("plain payload: %q, %v", data, err)
	}
}
