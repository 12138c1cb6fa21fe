package bustest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
)

// TestRestartKeepsStore publishes, restarts the server and reads the
// message back through the same client, which reconnects to the same port.
func TestRestartKeepsStore(t *testing.T) {
	url, srv := bustest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	srv2 := bustest.Restart(t, srv)
	if srv2.ClientURL() != url {
		t.Errorf("restarted on %s, want %s", srv2.ClientURL(), url)
	}
	// The client reconnects by itself; the API answers once it has.
	var msg *jetstream.RawStreamMsg
	for range 500 {
		s, err := js.Stream(ctx, "S")
		if err == nil {
			if msg, err = s.GetMsg(ctx, 1); err == nil {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if msg == nil || string(msg.Data) != "kept" {
		t.Fatalf("after restart got %v, want the message published before", msg)
	}
}
