// Package metrics holds the notifier's Prometheus metrics.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the notifier's counters, labelled by output and priority.
// Safe for concurrent use.
type Metrics struct {
	Received     *prometheus.CounterVec // alerts an output consumer received, first delivery only
	Delivered    *prometheus.CounterVec // alerts an output accepted
	Failed       *prometheus.CounterVec // failed delivery attempts
	DeadLettered *prometheus.CounterVec // alerts given up and sent to the dead-letter subject
	Filtered     *prometheus.CounterVec // alerts an output's filters skipped
	Input        *prometheus.CounterVec // alerts accepted by the HTTP input, by priority
	InputErrors  *prometheus.CounterVec // HTTP input requests refused, by reason
}

// New registers the metrics with reg.
func New(reg prometheus.Registerer) *Metrics {
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peregrine", Subsystem: "notifier", Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	return &Metrics{
		Received:     vec("alerts_received_total", "Alerts received by an output's consumer (first delivery).", "output", "priority"),
		Delivered:    vec("alerts_delivered_total", "Alerts an output's target accepted.", "output", "priority"),
		Failed:       vec("alerts_failed_total", "Failed delivery attempts.", "output", "priority"),
		DeadLettered: vec("alerts_deadlettered_total", "Alerts sent to deadletter.notifier.<output> after the last attempt.", "output", "priority"),
		Filtered:     vec("alerts_filtered_total", "Alerts an output's minimumpriority, rule or tag filter skipped.", "output", "priority"),
		Input:        vec("input_alerts_total", "Alerts accepted by the HTTP input.", "priority"),
		InputErrors:  vec("input_errors_total", "HTTP input requests refused.", "reason"),
	}
}
