package delivery

import "github.com/prometheus/client_golang/prometheus"

// nopRegisterer accepts metrics without exposing them, for Runners built
// without a registry.
type nopRegisterer struct{}

func (nopRegisterer) Register(prometheus.Collector) error  { return nil }
func (nopRegisterer) MustRegister(...prometheus.Collector) {}
func (nopRegisterer) Unregister(prometheus.Collector) bool { return true }
