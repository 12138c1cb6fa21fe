package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/bus/bustest"
)

// TestConnectWaitsForServer starts a stage before its server: Connect
// returns once the server is up.
func TestConnectWaitsForServer(t *testing.T) {
	url, srv := bustest.RunServer(t)
	restart := bustest.Stop(t, srv)
	type result struct {
		conn *Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Connect(testContext(t), "early", WithURL(url), WithReconnectWait(20*time.Millisecond))
		done <- result{c, err}
	}()
	// Let it fail a few times before the server comes.
	time.Sleep(200 * time.Millisecond)
	restart()
	r := <-done
	if r.err != nil {
		t.Fatalf("Connect: %v", r.err)
	}
	defer r.conn.Close()
	if !r.conn.NC.IsConnected() || r.conn.URL() != url {
		t.Errorf("connected %t to %s, want connected to %s", r.conn.NC.IsConnected(), r.conn.URL(), url)
	}
	if err := r.conn.EnsureStreams(testContext(t), RawStream(StreamLimits{Memory: true})); err != nil {
		t.Errorf("EnsureStreams after a late start: %v", err)
	}
}

func TestConnectGivesUpWithContext(t *testing.T) {
	url, srv := bustest.RunServer(t)
	bustest.Stop(t, srv) // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, "lonely", WithURL(url))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect: got %v, want %v", err, context.DeadlineExceeded)
	}
}

func TestConnectURLFromEnv(t *testing.T) {
	url, _ := bustest.RunServer(t)
	t.Setenv(EnvURL, url)
	c, err := Connect(testContext(t), "env")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.URL() != url {
		t.Errorf("URL %s, want %s from %s", c.URL(), url, EnvURL)
	}
}

func TestConnectInvalidOption(t *testing.T) {
	for _, opt := range []Option{WithURL(""), WithReconnectWait(0)} {
		if _, err := Connect(context.Background(), "x", opt); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("got %v, want %v", err, ErrInvalidOption)
		}
	}
}
