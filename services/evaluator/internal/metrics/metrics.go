// Package metrics declares the evaluator's Prometheus metrics on a
// registry of their own, which the telemetry server exposes.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Batch results, the values of the "result" label of Batches.
const (
	BatchOK         = "ok"
	BatchDeadLetter = "deadletter" // undecodable, sent to deadletter.evaluator
	BatchRetry      = "retry"      // alerts not acked: left for redelivery
)

// Metrics are the evaluator's collectors. Safe for concurrent use.
type Metrics struct {
	Registry *prometheus.Registry

	Events  prometheus.Counter
	Alerts  *prometheus.CounterVec // priority, rule
	Batches *prometheus.CounterVec // result
	Reloads *prometheus.CounterVec // result: ok, failed
	// EvalSeconds is the time to evaluate one batch's events against the
	// rules, publishing excluded.
	EvalSeconds prometheus.Histogram
	// BatchSeconds is the handling time of one bus message, from decode to
	// the alerts' acks.
	BatchSeconds prometheus.Histogram
	RuleSetGen   prometheus.Gauge
	Rules        prometheus.Gauge
}

// New registers the evaluator's metrics, and the Go and process
// collectors, on a new registry.
func New() *Metrics {
	const ns, sub = "peregrine", "evaluator"
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Events: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "events_total", Help: "Events evaluated."}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "alerts_total", Help: "Alerts raised, by priority and rule."}, []string{"priority", "rule"}),
		Batches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "batches_total", Help: "Bus messages handled, by result."}, []string{"result"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "rule_reloads_total", Help: "Rule reloads, by result (ok, failed)."}, []string{"result"}),
		EvalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "eval_seconds", Help: "Time to evaluate one batch against the rules.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 2.5, 12)}),
		BatchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_seconds", Help: "Time to handle one bus message, alerts acked included.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 12)}),
		RuleSetGen: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "ruleset_generation", Help: "Generation of the rule set in force; 1 at start, +1 per accepted reload."}),
		Rules: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "rules", Help: "Rules in the rule set in force."}),
	}
	m.Registry.MustRegister(m.Events, m.Alerts, m.Batches, m.Reloads, m.EvalSeconds, m.BatchSeconds,
		m.RuleSetGen, m.Rules,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Expose zero counts from the start, so a dashboard's rate() works
	// before the first failure.
	for _, r := range []string{BatchOK, BatchDeadLetter, BatchRetry} {
		m.Batches.WithLabelValues(r)
	}
	m.Reloads.WithLabelValues("ok")
	m.Reloads.WithLabelValues("failed")
	return m
}

// Reloaded counts one reload attempt.
func (m *Metrics) Reloaded(ok bool) {
	if ok {
		m.Reloads.WithLabelValues("ok").Inc()
		return
	}
	m.Reloads.WithLabelValues("failed").Inc()
}
