package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestServerEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_test_events_total", Help: "Events seen."})
	reg.MustRegister(events)
	events.Add(3)
	var notReady atomic.Pointer[error]
	srv := NewServer("127.0.0.1:0", reg, func() error {
		if p := notReady.Load(); p != nil {
			return *p
		}
		return nil
	})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	base := "http://" + srv.Addr()

	type resp struct {
		Code int
		Body string
	}
	get := func(t *testing.T, method, path string) resp {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp{res.StatusCode, string(b)}
	}
	down := errors.New("bus: disconnected")
	tests := []struct {
		name     string
		notReady error
		method   string
		path     string
		want     resp
		contains string // for /metrics, checked instead of the body
	}{
		{name: "healthz", method: "GET", path: "/healthz", want: resp{200, "ok\n"}},
		{name: "healthz while not ready", notReady: down, method: "GET", path: "/healthz", want: resp{200, "ok\n"}},
		{name: "ready", method: "GET", path: "/readyz", want: resp{200, "ok\n"}},
		{name: "not ready", notReady: down, method: "GET", path: "/readyz", want: resp{503, "not ready: bus: disconnected\n"}},
		{name: "metrics", method: "GET", path: "/metrics", want: resp{Code: 200}, contains: "peregrine_test_events_total 3\n"},
		{name: "post healthz", method: "POST", path: "/healthz", want: resp{Code: 405}, contains: ""},
		{name: "unknown path", method: "GET", path: "/nope", want: resp{Code: 404}, contains: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.notReady != nil {
				notReady.Store(&tt.notReady)
			} else {
				notReady.Store(nil)
			}
			got := get(t, tt.method, tt.path)
			if tt.want.Body == "" {
				if !strings.Contains(got.Body, tt.contains) {
					t.Errorf("body %q does not contain %q", got.Body, tt.contains)
				}
				got.Body = ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.path, diff)
			}
		})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after Run returned")
	}
}

func TestServerNilRegistryAndReady(t *testing.T) {
	srv := NewServer("127.0.0.1:0", nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Run(ctx) }()
	for _, path := range []string{"/readyz", "/metrics"} {
		res, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d %s, want 200", path, res.StatusCode, b)
		}
		// The default registry carries the Go collector.
		if path == "/metrics" && !strings.Contains(string(b), "go_goroutines") {
			t.Errorf("/metrics from the default registry lacks go_goroutines")
		}
	}
}

func TestServerBadAddress(t *testing.T) {
	srv := NewServer("127.0.0.1:notaport", nil, nil)
	err := srv.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:notaport") {
		t.Errorf("Run: got %v, want an error naming the address", err)
	}
}
