// Package grpcapi serves Falco's gRPC outputs API (falco.outputs.service
// sub and get, and falco.version.service) as Falco 0.43 defines it, with the
// generated types of github.com/falcosecurity/client-go, so existing Falco
// gRPC clients read Peregrine's alerts.
//
// Semantics, following Falco: sub is a bidirectional stream that sends each
// alert as it arrives for as long as the client keeps the stream open (the
// client's messages are keepalives and are ignored); get sends every alert
// queued since the previous get (at most BufSize, the oldest dropped first)
// and then ends the stream. Each connected sub stream receives every alert;
// a sub client too slow to keep BufSize alerts buffered loses the oldest.
// The notifier feeds the server from the ALERTS stream (see [Feed]), so
// each replica serves every alert published while it runs.
//
// Listeners: "unix:///path" (no TLS, as Falco's unix socket) and
// "host:port" over TCP with mutual TLS (server certificate chain, key and
// the root CA that signs client certificates), as Falco requires.
package grpcapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	fschema "github.com/falcosecurity/client-go/pkg/api/schema"
	"github.com/falcosecurity/client-go/pkg/api/version"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// FalcoVersion is the Falco release whose API is served; version.service
// reports it, with Build "peregrine", so clients that check it work.
const (
	FalcoVersion = "0.43.0"
	falcoMajor   = 0
	falcoMinor   = 43
	falcoPatch   = 0
)

// Server holds the alert queue and the live sub streams. Safe for
// concurrent use.
type Server struct {
	outputs.UnimplementedServiceServer

	bufSize int
	mu      sync.Mutex
	queue   []*outputs.Response // for get; oldest first
	dropped uint64
	subs    map[chan *outputs.Response]struct{}
}

// New returns a server keeping up to bufSize alerts for get and per sub
// stream (default 1000 when bufSize <= 0).
func New(bufSize int) *Server {
	if bufSize <= 0 {
		bufSize = 1000
	}
	return &Server{bufSize: bufSize, subs: map[chan *outputs.Response]struct{}{}}
}

// Response converts an alert to Falco's gRPC form. Output field values
// become text as Falco prints them (null is "<NA>").
func Response(a *schema.Alert) *outputs.Response {
	f := make(map[string]string, len(a.OutputFields))
	for k, v := range a.OutputFields {
		f[k] = output.FieldString(v)
	}
	var src fschema.Source
	switch a.Source {
	case "k8s_audit":
		src = fschema.Source_K8S_AUDIT
	case "internal":
		src = fschema.Source_INTERNAL
	case "syscall", "":
		src = fschema.Source_SYSCALL
	default:
		src = fschema.Source_PLUGIN
	}
	return &outputs.Response{
		Time:             timestamppb.New(a.Time),
		Priority:         fschema.Priority(a.Priority),
		SourceDeprecated: src,
		Rule:             a.Rule,
		Output:           a.Output,
		OutputFields:     f,
		Hostname:         a.Hostname,
		Tags:             a.Tags,
		Source:           a.Source,
	}
}

// Publish queues a for get and hands it to every sub stream. It never
// blocks.
func (s *Server) Publish(a *schema.Alert) {
	r := Response(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) >= s.bufSize {
		n := len(s.queue) - s.bufSize + 1
		s.queue = s.queue[n:]
		s.dropped += uint64(n)
	}
	s.queue = append(s.queue, r)
	for ch := range s.subs {
		select {
		case ch <- r:
		default:
			// Slow client: drop its oldest to keep the newest.
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- r:
			default:
			}
		}
	}
}

// Get sends the alerts queued since the last get, then ends the stream.
func (s *Server) Get(_ *outputs.Request, stream outputs.Service_GetServer) error {
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	for i, r := range q {
		if err := stream.Send(r); err != nil {
			// Put back what the client did not get.
			s.mu.Lock()
			s.queue = append(append([]*outputs.Response(nil), q[i:]...), s.queue...)
			if len(s.queue) > s.bufSize {
				s.queue = s.queue[len(s.queue)-s.bufSize:]
			}
			s.mu.Unlock()
			return err
		}
	}
	return nil
}

// Sub streams live alerts until the client closes its side or goes away.
func (s *Server) Sub(stream outputs.Service_SubServer) error {
	ch := make(chan *outputs.Response, s.bufSize)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()
	recvDone := make(chan error, 1)
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				recvDone <- err
				return
			}
		}
	}()
	for {
		select {
		case r := <-ch:
			if err := stream.Send(r); err != nil {
				return err
			}
		case <-recvDone:
			// The client half-closed or went away: Falco ends the call then.
			return nil
		case <-stream.Context().Done():
			return nil
		}
	}
}

// Subscribers returns the number of live sub streams.
func (s *Server) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// versionServer is falco.version.service.
type versionServer struct {
	version.UnimplementedServiceServer
}

// Version reports the Falco version whose API is served.
func (versionServer) Version(context.Context, *version.Request) (*version.Response, error) {
	return &version.Response{Version: FalcoVersion, Major: falcoMajor, Minor: falcoMinor, Patch: falcoPatch, Build: "peregrine"}, nil
}

// TLSFiles are the TCP listener's mTLS files, with Falco's key names.
type TLSFiles struct {
	CertChain, PrivateKey, RootCerts string
}

// Listen opens addr: "unix:///path" (a stale socket file is replaced) or
// "host:port" for TCP, which requires tlsFiles; it returns the listener and
// the server options for it.
func Listen(addr string, tlsFiles TLSFiles) (net.Listener, []grpc.ServerOption, error) {
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("grpc %s: %w", addr, err)
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, nil, fmt.Errorf("grpc %s: %w", addr, err)
		}
		return ln, nil, nil
	}
	if tlsFiles.CertChain == "" || tlsFiles.PrivateKey == "" || tlsFiles.RootCerts == "" {
		return nil, nil, fmt.Errorf("grpc %s: TCP needs mutual TLS: set grpc.cert_chain, grpc.private_key and grpc.root_certs", addr)
	}
	cert, err := tls.LoadX509KeyPair(tlsFiles.CertChain, tlsFiles.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("grpc %s: field cert_chain/private_key: %w", addr, err)
	}
	pem, err := os.ReadFile(tlsFiles.RootCerts)
	if err != nil {
		return nil, nil, fmt.Errorf("grpc %s: field root_certs: %w", addr, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("grpc %s: field root_certs %s: no PEM certificate", addr, tlsFiles.RootCerts)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("grpc %s: %w", addr, err)
	}
	return ln, []grpc.ServerOption{grpc.Creds(credentials.NewTLS(tc))}, nil
}

// Serve serves s on ln until ctx ends, then stops, ending open streams.
func (s *Server) Serve(ctx context.Context, ln net.Listener, opts ...grpc.ServerOption) error {
	g := grpc.NewServer(opts...)
	outputs.RegisterServiceServer(g, s)
	version.RegisterServiceServer(g, versionServer{})
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("grpc %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	g.Stop()
	<-errc
	return nil
}
