package grpcapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	fschema "github.com/falcosecurity/client-go/pkg/api/schema"
	"github.com/falcosecurity/client-go/pkg/api/version"
	"github.com/falcosecurity/client-go/pkg/client"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/certtest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/natstest"
)

func alertN(i int) *schema.Alert {
	return &schema.Alert{
		Rule: "Read sensitive file untrusted", Priority: schema.PriorityWarning, Source: "syscall", Hostname: "node-1",
		Time:         time.Date(2026, 12, 1, 20, 0, 0, i, time.UTC),
		Output:       fmt.Sprintf("20:00:00.%09d: Warning Sensitive file opened (n=%d)", i, i),
		OutputFields: map[string]any{"proc.name": "cat", "n": json.Number(strconv.Itoa(i)), "container.id": nil},
		Tags:         []string{"filesystem"},
	}
}

func wantResponse(i int) *outputs.Response {
	return &outputs.Response{
		Time: timestamppb.New(time.Date(2026, 12, 1, 20, 0, 0, i, time.UTC)), Priority: fschema.Priority_WARNING,
		Rule: "Read sensitive file untrusted", Output: fmt.Sprintf("20:00:00.%09d: Warning Sensitive file opened (n=%d)", i, i),
		OutputFields: map[string]string{"proc.name": "cat", "n": strconv.Itoa(i), "container.id": "<NA>"},
		Hostname:     "node-1", Tags: []string{"filesystem"}, Source: "syscall",
	}
}

// serve starts a bus, a Server fed from it and listeners at addrs; it
// returns the JetStream context to publish with and the server.
func serve(t *testing.T, addr string, files TLSFiles) (jetstream.JetStream, *Server, net.Listener) {
	t.Helper()
	ns := natstest.Server(t, "")
	_, js := natstest.Connect(t, ns)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := js.CreateOrUpdateStream(ctx, bus.AlertsStream(bus.StreamLimits{})); err != nil {
		t.Fatal(err)
	}
	srv := New(100)
	stop, err := Feed(ctx, js, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, opts, err := Listen(addr, files)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ctx, ln, opts...); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait(); stop() })
	return js, srv, ln
}

func publishAlerts(t *testing.T, js jetstream.JetStream, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		b, _ := json.Marshal(alertN(i))
		if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: "alerts.warning.read_sensitive_file_untrusted", Data: b}); err != nil {
			t.Fatal(err)
		}
	}
}

func waitSubscribers(t *testing.T, srv *Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); srv.Subscribers() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sub streams after 30s, want %d", srv.Subscribers(), n)
		}
	}
}

func TestSubAndGetOverUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "falco.sock")
	js, srv, _ := serve(t, "unix://"+sock, TLSFiles{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.NewForConfig(ctx, &client.Config{UnixSocketPath: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	oc, err := c.Outputs()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := oc.Sub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	waitSubscribers(t, srv, 1)
	publishAlerts(t, js, 0, 3)
	var got []*outputs.Response
	for range 3 {
		r, err := sub.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []*outputs.Response{wantResponse(0), wantResponse(1), wantResponse(2)}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("sub (-want +got):\n%s", diff)
	}
	if err := sub.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("sub after CloseSend: %v, want io.EOF", err)
	}

	// get returns what was queued since the last get, then ends.
	for _, wantN := range []int{3, 0} {
		g, err := oc.Get(ctx, &outputs.Request{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			r, err := g.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantResponse(n), r, protocmp.Transform()); diff != "" {
				t.Errorf("get %d (-want +got):\n%s", n, diff)
			}
			n++
		}
		if n != wantN {
			t.Errorf("get returned %d alerts, want %d", n, wantN)
		}
	}
}

func TestVersionAndWatchOverMutualTLS(t *testing.T) {
	certs := certtest.Make(t)
	js, srv, ln := serve(t, "127.0.0.1:0", TLSFiles{CertChain: certs.ServerCert, PrivateKey: certs.ServerKey, RootCerts: certs.CA})
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.NewForConfig(ctx, &client.Config{Hostname: "127.0.0.1", Port: uint16(port),
		CertFile: certs.ClientCert, KeyFile: certs.ClientKey, CARootFile: certs.CA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	vc, err := c.Version()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vc.Version(ctx, &version.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != FalcoVersion || v.Minor != 43 {
		t.Errorf("version = %v", v)
	}

	wctx, wcancel := context.WithCancel(ctx)
	var got []*outputs.Response
	done := make(chan error, 1)
	go func() {
		done <- c.OutputsWatch(wctx, func(r *outputs.Response) error {
			got = append(got, r)
			if len(got) == 2 {
				wcancel()
			}
			return nil
		}, time.Second)
	}()
	waitSubscribers(t, srv, 1)
	publishAlerts(t, js, 5, 7)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("OutputsWatch = %v", err)
	}
	if diff := cmp.Diff([]*outputs.Response{wantResponse(5), wantResponse(6)}, got, protocmp.Transform()); diff != "" {
		t.Errorf("watch (-want +got):\n%s", diff)
	}

	// Without a client certificate the server refuses the call.
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := version.NewServiceClient(conn).Version(ctx, &version.Request{}); err == nil {
		t.Errorf("Version without a client certificate succeeded")
	}
}

func TestListenTCPNeedsTLS(t *testing.T) {
	if _, _, err := Listen("127.0.0.1:0", TLSFiles{}); err == nil {
		t.Fatal("Listen over TCP without TLS files succeeded")
	}
}
