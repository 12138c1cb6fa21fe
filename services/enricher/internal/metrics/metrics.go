// Package metrics holds the enricher's Prometheus metrics, shared by its
// resolver and its enrichment stage.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the enricher's counters. The zero value is not usable; use
// [New]. Safe for concurrent use.
type Metrics struct {
	Batches        prometheus.Counter
	Events         prometheus.Counter // events sent on
	EventsNoMeta   prometheus.Counter // events sent with an incomplete container
	EventsHeld     prometheus.Gauge   // events waiting for metadata now
	CacheHits      prometheus.Counter // container lookups answered from cache
	CacheMisses    prometheus.Counter
	Lookups        *prometheus.CounterVec // runtime, result
	RuntimeErrors  *prometheus.CounterVec // runtime
	BadCgroups     prometheus.Counter     // cgroup paths that did not parse
	DeadLetters    prometheus.Counter
	PodsFound      prometheus.Counter
	PodsMissing    prometheus.Counter // a pod uid was known, the pod object was not
	RuntimeUp      *prometheus.GaugeVec
	KubeConnected  prometheus.Gauge
	PublishErrors  prometheus.Counter
	ContainersSeen prometheus.Gauge // cache entries
}

// New creates the metrics and registers them on reg when it is not nil.
func New(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "peregrine", Subsystem: "enricher", Name: name, Help: help})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "peregrine", Subsystem: "enricher", Name: name, Help: help})
	}
	m := &Metrics{
		Batches:      c("batches_total", "Batches enriched and published."),
		Events:       c("events_total", "Events enriched and published."),
		EventsNoMeta: c("events_without_metadata_total", "Events published while their container's metadata was unknown (Container.Incomplete)."),
		EventsHeld:   g("events_held", "Events held waiting for container metadata."),
		CacheHits:    c("cache_hits_total", "Container metadata answered from the cache."),
		CacheMisses:  c("cache_misses_total", "Container metadata not in the cache when a batch arrived."),
		Lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peregrine", Subsystem: "enricher", Name: "lookups_total",
			Help: "Runtime lookups by runtime and result (found, not_found, error)."}, []string{"runtime", "result"}),
		RuntimeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peregrine", Subsystem: "enricher", Name: "runtime_errors_total",
			Help: "Runtime calls that failed for another reason than not found."}, []string{"runtime"}),
		BadCgroups:  c("bad_cgroups_total", "Processes whose cgroup path did not parse."),
		DeadLetters: c("dead_letters_total", "Messages that did not decode and went to the dead-letter subject."),
		PodsFound:   c("pods_found_total", "Containers matched to a pod object."),
		PodsMissing: c("pods_missing_total", "Containers with a pod uid whose pod object was not known."),
		RuntimeUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "peregrine", Subsystem: "enricher", Name: "runtime_up",
			Help: "1 while the runtime answers."}, []string{"runtime"}),
		KubeConnected:  g("kube_synced", "1 once the Kubernetes informers have synced."),
		PublishErrors:  c("publish_errors_total", "Enriched batches whose publish failed (redelivered)."),
		ContainersSeen: g("cache_entries", "Containers in the metadata cache."),
	}
	if reg != nil {
		reg.MustRegister(m.Batches, m.Events, m.EventsNoMeta, m.EventsHeld, m.CacheHits, m.CacheMisses, m.Lookups,
			m.RuntimeErrors, m.BadCgroups, m.DeadLetters, m.PodsFound, m.PodsMissing, m.RuntimeUp, m.KubeConnected,
			m.PublishErrors, m.ContainersSeen)
	}
	return m
}
