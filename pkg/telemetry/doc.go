// Package telemetry gives every Peregrine service the same tracing setup and
// the same small HTTP server for Prometheus metrics and health probes.
//
// [SetupTracing] configures OpenTelemetry tracing from the standard OTEL_*
// environment variables and is off unless they ask for an exporter.
// [NewServer] serves /metrics, /healthz and /readyz. The package never logs;
// errors are returned.
package telemetry
