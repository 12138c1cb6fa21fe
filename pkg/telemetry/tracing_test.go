package telemetry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// clearEnv unsets the variables SetupTracing and the exporters read, for
// the duration of the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{envSDKDisabled, envTracesExporter, envEndpoint, envTracesEndpoint, envProtocol, envTracesProtocol,
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_EXPORTER_OTLP_INSECURE"} {
		t.Setenv(k, "")
	}
}

// received collects what a real OTLP endpoint was sent.
type received struct {
	mu    sync.Mutex
	spans map[string]string // span name -> service.name of its resource
}

func (r *received) add(req *coltrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans[s.GetName()] = service
			}
		}
	}
}

func (r *received) service(span string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.spans[span]
	return s, ok
}

// emit makes one span through the global provider and flushes it.
func emit(t *testing.T, shutdown func(context.Context) error, name string) {
	t.Helper()
	_, span := otel.Tracer("telemetry-test").Start(context.Background(), name)
	if !span.IsRecording() {
		t.Fatalf("span %s is not recording: tracing is off", name)
	}
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestSetupTracingOTLPHTTP(t *testing.T) {
	clearEnv(t)
	got := &received{spans: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		req := new(coltrace.ExportTraceServiceRequest)
		if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		got.add(req)
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	t.Setenv(envEndpoint, srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "peregrine-evaluator-2")

	shutdown, err := SetupTracing(context.Background(), "evaluator")
	if err != nil {
		t.Fatal(err)
	}
	emit(t, shutdown, "evaluate-batch")
	// OTEL_SERVICE_NAME overrides the name the service gave.
	if service, ok := got.service("evaluate-batch"); !ok || service != "peregrine-evaluator-2" {
		t.Errorf("span received %t with service %q, want peregrine-evaluator-2", ok, service)
	}
}

type traceService struct {
	coltrace.UnimplementedTraceServiceServer
	got *received
}

func (s *traceService) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	s.got.add(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func TestSetupTracingOTLPGRPC(t *testing.T) {
	clearEnv(t)
	got := &received{spans: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(gs, &traceService{got: got})
	go func() { _ = gs.Serve(ln) }()
	defer gs.Stop()
	t.Setenv(envTracesExporter, "otlp")
	t.Setenv(envTracesEndpoint, "http://"+ln.Addr().String())
	t.Setenv(envTracesProtocol, "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")

	shutdown, err := SetupTracing(context.Background(), "enricher")
	if err != nil {
		t.Fatal(err)
	}
	emit(t, shutdown, "enrich-batch")
	if service, ok := got.service("enrich-batch"); !ok || service != "enricher" {
		t.Errorf("span received %t with service %q, want enricher", ok, service)
	}
}

func TestSetupTracingOff(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "no variables"},
		{name: "exporter none", env: map[string]string{envTracesExporter: "none", envEndpoint: "http://127.0.0.1:1"}},
		{name: "sdk disabled", env: map[string]string{envSDKDisabled: "true", envTracesExporter: "otlp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			// A provider from an earlier test must not leak into this one.
			prev := otel.GetTracerProvider()
			shutdown, err := SetupTracing(context.Background(), "collector")
			if err != nil {
				t.Fatal(err)
			}
			if err := shutdown(context.Background()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if otel.GetTracerProvider() != prev {
				t.Errorf("tracer provider replaced although tracing is off")
			}
		})
	}
}

func TestSetupTracingBadConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "unknown exporter", env: map[string]string{envTracesExporter: "zipkin"}},
		{name: "unknown protocol", env: map[string]string{envEndpoint: "http://127.0.0.1:1", envProtocol: "http/json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			shutdown, err := SetupTracing(context.Background(), "collector")
			if !errors.Is(err, ErrConfig) {
				t.Errorf("got %v, want %v", err, ErrConfig)
			}
			if shutdown == nil {
				t.Error("shutdown is nil")
			}
		})
	}
}
