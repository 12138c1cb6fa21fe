// Package bustest starts embedded NATS JetStream servers for tests: on
// 127.0.0.1, a random port and a store in the test's temporary directory, so
// tests need no outside server and leave nothing behind.
package bustest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long a starting server may take to accept
// connections.
const readyTimeout = 10 * time.Second

// RunServer starts a JetStream server and returns its client URL. The server
// is shut down when the test ends.
func RunServer(t testing.TB) (url string, srv *server.Server) {
	t.Helper()
	srv = start(t, -1, t.TempDir())
	return srv.ClientURL(), srv
}

// Stop shuts srv down and waits until it is gone; the returned function
// starts it again on the same port with the same store, so clients
// reconnect and find their streams and messages. Use it to test outages.
func Stop(t testing.TB, srv *server.Server) (restart func() *server.Server) {
	t.Helper()
	port := srv.Addr().(*net.TCPAddr).Port
	dir := srv.StoreDir()
	srv.Shutdown()
	srv.WaitForShutdown()
	return func() *server.Server {
		t.Helper()
		return start(t, port, dir)
	}
}

// Restart stops srv and starts it again on the same port and store.
func Restart(t testing.TB, srv *server.Server) *server.Server {
	t.Helper()
	return Stop(t, srv)()
}

func start(t testing.TB, port int, storeDir string) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("bustest: new server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		t.Fatalf("bustest: server on port %d not ready within %v", port, readyTimeout)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}
