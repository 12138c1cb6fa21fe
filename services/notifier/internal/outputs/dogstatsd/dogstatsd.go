// Package dogstatsd counts alerts on a DogStatsD agent over UDP: one
// <namespace>falco.accepted counter per alert (the metric Falcosidekick
// sends), tagged with priority, rule and source plus the configured tags.
package dogstatsd

import (
	"context"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/statsd"
)

// Config is the "dogstatsd" section, with Falcosidekick's keys. Tags are
// "key:value" strings added to every metric.
type Config struct {
	Forwarder string   `yaml:"forwarder"`
	Namespace string   `yaml:"namespace"`
	Tags      []string `yaml:"tags"`
}

// Validate checks the forwarder address.
func (c *Config) Validate() error { return statsd.ValidateForwarder("forwarder", c.Forwarder) }

// tagEscaper keeps a value from breaking the datagram: ',' separates tags,
// '|' sections and '\n' metrics. Spaces become '_' as the Datadog agent
// would make them anyway.
var tagEscaper = strings.NewReplacer(",", "_", "|", "_", "\n", "_", "\r", "_", " ", "_")

// Metric renders the counter for one alert.
func Metric(a *schema.Alert, namespace string, tags []string) string {
	var b strings.Builder
	b.WriteString(namespace)
	b.WriteString("falco.accepted:1|c|#priority:")
	b.WriteString(a.Priority.String())
	b.WriteString(",rule:")
	b.WriteString(tagEscaper.Replace(a.Rule))
	if a.Source != "" {
		b.WriteString(",source:")
		b.WriteString(tagEscaper.Replace(a.Source))
	}
	for _, t := range tags {
		b.WriteByte(',')
		b.WriteString(tagEscaper.Replace(t))
	}
	return b.String()
}

// Spec is the dogstatsd output kind.
func Spec() output.Spec {
	return output.Spec{Key: "dogstatsd", Enable: "forwarder", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, _ output.Env) (output.Output, error) {
	c := Config{Namespace: statsd.DefaultNamespace}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &Output{cfg: c, s: statsd.NewSender(c.Forwarder)}, nil
}

// Output counts alerts on one agent. It is safe for concurrent use.
type Output struct {
	cfg Config
	s   *statsd.Sender
}

// Name returns "dogstatsd".
func (o *Output) Name() string { return "dogstatsd" }

// Send writes the counter; see [statsd.Output.Send] for what nil means.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	return o.s.Write(ctx, []byte(Metric(d.Alert, o.cfg.Namespace, o.cfg.Tags)))
}

// Close closes the socket.
func (o *Output) Close() error { return o.s.Close() }
