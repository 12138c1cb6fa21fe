// Package loki pushes alerts to Grafana Loki's push API (POST
// /loki/api/v1/push), one stream per alert labelled with rule, priority,
// source, hostname, tags and the configured extra labels, as Falcosidekick
// does. The log line is Falco's text output (format text, the default) or
// the whole alert's Falco JSON (format json).
package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// DefaultEndpoint is the push API path.
const DefaultEndpoint = "/loki/api/v1/push"

// Config is the "loki" section, with Falcosidekick's keys. checkcert,
// certfile, keyfile and cacertfile set TLS; mutualtls takes the client
// certificate from the global mutualtlsclient section. ExtraLabels is
// a comma-separated list of output fields that also become labels.
type Config struct {
	HostPort        string            `yaml:"hostport"`
	Endpoint        string            `yaml:"endpoint"`
	User            string            `yaml:"user"`
	APIKey          output.Secret     `yaml:"apikey"`
	Tenant          string            `yaml:"tenant"`
	ExtraLabels     string            `yaml:"extralabels"`
	CustomHeaders   map[string]string `yaml:"customheaders"`
	MutualTLS       bool              `yaml:"mutualtls"`
	output.TLSFiles `yaml:",inline"`
	// Format is what the log line holds: "text" (the output's message, by
	// default Falco's text line) or "json" (the alert's Falco JSON).
	Format string `yaml:"format"`
}

// Log line formats.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Validate checks the host URL and the endpoint path.
func (c *Config) Validate() error {
	if c.HostPort == "" {
		return output.Missing("hostport")
	}
	u, err := url.Parse(c.HostPort)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return output.Invalid("hostport", fmt.Errorf("%q is not an http or https URL", c.HostPort))
	}
	if !strings.HasPrefix(c.Endpoint, "/") {
		return output.Invalid("endpoint", fmt.Errorf("%q does not start with /", c.Endpoint))
	}
	if c.User != "" && c.APIKey == "" {
		return output.Missing("apikey")
	}
	if c.Format != FormatText && c.Format != FormatJSON {
		return output.Invalid("format", fmt.Errorf("%q is not text or json", c.Format))
	}
	return nil
}

// Payload is the push request body.
type Payload struct {
	Streams []Stream `json:"streams"`
}

// Stream is one labelled stream with its [timestamp, line] values.
type Stream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// LabelName makes an output field name a Loki label name the way
// Falcosidekick does, dropping '.', '[' and ']' ("k8s.ns.name" becomes
// "k8snsname"), and replaces any other character Loki refuses by '_'.
func LabelName(field string) string {
	var b strings.Builder
	for i, r := range field {
		switch {
		case r == '.' || r == '[' || r == ']':
		case r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || (i > 0 && '0' <= r && r <= '9'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// NewPayload builds the push body for one alert: the line (Falco's text or
// the alert's JSON) at the alert's time in nanoseconds.
func NewPayload(a *schema.Alert, text string, extra []string) Payload {
	labels := map[string]string{"rule": a.Rule, "source": a.Source, "priority": a.Priority.String()}
	for _, f := range extra {
		if v, ok := a.OutputFields[f].(string); ok {
			labels[LabelName(f)] = strings.ReplaceAll(v, `"`, "")
		}
	}
	if a.Hostname != "" {
		labels["hostname"] = a.Hostname
	}
	if len(a.Tags) != 0 {
		tags := append([]string(nil), a.Tags...)
		sort.Strings(tags)
		labels["tags"] = strings.Join(tags, ",")
	}
	return Payload{Streams: []Stream{{
		Stream: labels,
		Values: [][2]string{{strconv.FormatInt(a.Time.UnixNano(), 10), text}},
	}}}
}

// Spec is the loki output kind.
func Spec() output.Spec {
	return output.Spec{Key: "loki", Enable: "hostport", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{Endpoint: DefaultEndpoint, Format: FormatText}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	var extra []string
	for _, f := range strings.Split(c.ExtraLabels, ",") {
		if f = strings.TrimSpace(f); f != "" {
			extra = append(extra, f)
		}
	}
	client, err := output.ClientWithMutualTLS(cfg, env, c.TLSFiles, c.MutualTLS)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", cfg.Key(), err)
	}
	return &Output{cfg: c, url: strings.TrimSuffix(c.HostPort, "/") + c.Endpoint, extra: extra, client: client}, nil
}

// Output pushes to one Loki. It is safe for concurrent use.
type Output struct {
	cfg    Config
	url    string
	extra  []string
	client *http.Client
}

// Name returns "loki".
func (o *Output) Name() string { return "loki" }

// Send pushes the alert. Loki answers 204; 400 (bad labels, entry too old)
// is permanent, 429 (rate limit) is retried.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	line := d.Text
	if o.cfg.Format == FormatJSON {
		b, err := json.Marshal(d.Alert)
		if err != nil {
			return output.Permanent(fmt.Errorf("loki: encode alert: %w", err))
		}
		line = string(b)
	}
	body, err := json.Marshal(NewPayload(d.Alert, line, o.extra))
	if err != nil {
		return output.Permanent(fmt.Errorf("loki: encode push: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return output.Permanent(fmt.Errorf("loki: %w", err))
	}
	for k, v := range o.cfg.CustomHeaders {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.cfg.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", o.cfg.Tenant)
	}
	if o.cfg.APIKey != "" {
		req.SetBasicAuth(o.cfg.User, string(o.cfg.APIKey))
	}
	return output.Do(o.client, req, o.cfg.APIKey)
}
