// Package statsd counts alerts on a StatsD server over UDP. StatsD has no
// tags, so the priority and rule go in the metric names: for each alert
// one datagram carries <namespace>falco.accepted.<Priority> (the counter
// Falcosidekick sends) and <namespace>falco.rule.<rule_slug>.
package statsd

import (
	"context"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// DefaultNamespace is Falcosidekick's metric prefix.
const DefaultNamespace = "falcosidekick."

// Config is the "statsd" section, with Falcosidekick's keys.
type Config struct {
	Forwarder string `yaml:"forwarder"`
	Namespace string `yaml:"namespace"`
}

// Validate checks the forwarder address.
func (c *Config) Validate() error { return ValidateForwarder("forwarder", c.Forwarder) }

// Metrics renders the counters for one alert, newline-separated as StatsD
// accepts several metrics in one datagram.
func Metrics(a *schema.Alert, namespace string) string {
	return namespace + "falco.accepted." + strings.ReplaceAll(a.Priority.String(), " ", "") + ":1|c\n" +
		namespace + "falco.rule." + schema.RuleSlug(a.Rule) + ":1|c"
}

// Spec is the statsd output kind.
func Spec() output.Spec {
	return output.Spec{Key: "statsd", Enable: "forwarder", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, _ output.Env) (output.Output, error) {
	c := Config{Namespace: DefaultNamespace}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &Output{ns: c.Namespace, s: NewSender(c.Forwarder)}, nil
}

// Output counts alerts on one StatsD server. It is safe for concurrent use.
type Output struct {
	ns string
	s  *Sender
}

// Name returns "statsd".
func (o *Output) Name() string { return "statsd" }

// Send writes the counters. UDP has no acknowledgement: nil means the
// datagram left, and an error (no route, refused by the last ICMP) is
// retried.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	return o.s.Write(ctx, []byte(Metrics(d.Alert, o.ns)))
}

// Close closes the socket.
func (o *Output) Close() error { return o.s.Close() }
