package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ErrConfig is wrapped by errors about OTEL_* variables.
var ErrConfig = errors.New("invalid telemetry configuration")

// The standard variables SetupTracing reads itself; the exporters and the
// SDK read the others (endpoint, headers, timeouts, sampler, batching).
const (
	envSDKDisabled    = "OTEL_SDK_DISABLED"
	envTracesExporter = "OTEL_TRACES_EXPORTER"
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// SetupTracing installs the global OpenTelemetry tracer provider and the
// W3C tracecontext and baggage propagator for serviceName.
//
// Tracing is off, and the global provider left a no-op, unless
// OTEL_TRACES_EXPORTER or an OTLP endpoint variable is set, or when
// OTEL_SDK_DISABLED is "true". OTEL_TRACES_EXPORTER may be "otlp" (the
// default when an endpoint is set), "console" (spans as JSON on stdout) or
// "none". The OTLP protocol comes from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
// OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" (default) or "grpc".
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override serviceName and
// add attributes; the SDK reads OTEL_TRACES_SAMPLER and OTEL_BSP_*.
//
// shutdown flushes buffered spans and stops the exporter; it is never nil.
// An unknown exporter or protocol returns an error wrapping [ErrConfig].
func SetupTracing(ctx context.Context, serviceName string) (shutdown func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	exp, err := newExporter(ctx)
	if err != nil || exp == nil {
		return noop, err
	}
	res, err := resource.New(ctx,
		// Later options win: the environment overrides the given name.
		resource.WithAttributes(attribute.String("service.name", serviceName)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return noop, fmt.Errorf("tracing %s: resource: %w", serviceName, err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// newExporter returns the exporter the environment asks for, or nil.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv(envSDKDisabled)), "true") {
		return nil, nil
	}
	kind := strings.ToLower(strings.TrimSpace(os.Getenv(envTracesExporter)))
	if kind == "" && (os.Getenv(envEndpoint) != "" || os.Getenv(envTracesEndpoint) != "") {
		kind = "otlp"
	}
	switch kind {
	case "", "none":
		return nil, nil
	case "console":
		exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
		if err != nil {
			return nil, fmt.Errorf("tracing: console exporter: %w", err)
		}
		return exp, nil
	case "otlp":
	default:
		return nil, fmt.Errorf("%w: %s=%q, want otlp, console or none", ErrConfig, envTracesExporter, kind)
	}
	proto, name := os.Getenv(envTracesProtocol), envTracesProtocol
	if proto == "" {
		proto, name = os.Getenv(envProtocol), envProtocol
	}
	switch strings.TrimSpace(proto) {
	case "", "http/protobuf":
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: otlp http exporter: %w", err)
		}
		return exp, nil
	case "grpc":
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: otlp grpc exporter: %w", err)
		}
		return exp, nil
	default:
		return nil, fmt.Errorf("%w: %s=%q, want http/protobuf or grpc", ErrConfig, name, proto)
	}
}
