// Package alertmanager posts alerts to Prometheus Alertmanager's v2 API
// (POST /api/v2/alerts, a JSON array of postable alerts), like
// Falcosidekick's alertmanager output.
//
// Each Falco alert becomes one Alertmanager alert:
//
//	labels:      alertname=<rule>, rule, priority, severity, source="falco",
//	             eventsource=<source>, hostname, tags (comma-joined), every
//	             non-null output field with its name made a valid label name
//	             (proc.aname[2] becomes proc_aname_2_), extralabels
//	annotations: summary=<rule>, description=<output text>, info=<output
//	             text>, extraannotations
//	startsAt:    the alert's time; endsAt startsAt+expiresafter when set
//
// Alertmanager deduplicates by label set, so a retried alert is stored once.
//
// Config (section "alertmanager", env ALERTMANAGER_*): hostport (enables
// it; "http://host:9093"), endpoint (default /api/v2/alerts), expiresafter
// (seconds), extralabels, extraannotations, customseveritymap (priority to
// severity), customheaders, checkcert, certfile, keyfile, cacertfile.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the alertmanager section.
type Config struct {
	HostPort          string            `yaml:"hostport"`
	Endpoint          string            `yaml:"endpoint"`
	ExpiresAfter      int               `yaml:"expiresafter"`
	ExtraLabels       map[string]string `yaml:"extralabels"`
	ExtraAnnotations  map[string]string `yaml:"extraannotations"`
	CustomSeverityMap map[string]string `yaml:"customseveritymap"`
	CustomHeaders     map[string]string `yaml:"customheaders"`
	output.TLSFiles   `yaml:",inline"`

	severity map[schema.Priority]string
}

// Validate checks the fields and fills the defaults.
func (c *Config) Validate() error {
	if c.HostPort == "" {
		return output.Missing("hostport")
	}
	u, err := url.Parse(c.HostPort)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return output.Invalid("hostport", fmt.Errorf("want an http or https URL"))
	}
	if c.Endpoint == "" {
		c.Endpoint = "/api/v2/alerts"
	}
	if c.ExpiresAfter < 0 {
		return output.Invalid("expiresafter", fmt.Errorf("%d: want seconds >= 0", c.ExpiresAfter))
	}
	c.severity = map[schema.Priority]string{
		schema.PriorityEmergency: "critical", schema.PriorityAlert: "critical", schema.PriorityCritical: "critical",
		schema.PriorityError: "error", schema.PriorityWarning: "warning", schema.PriorityNotice: "warning",
		schema.PriorityInformational: "information", schema.PriorityDebug: "information",
	}
	for k, v := range c.CustomSeverityMap {
		p, err := schema.ParsePriority(k)
		if err != nil {
			return output.Invalid("customseveritymap", err)
		}
		c.severity[p] = v
	}
	for k := range c.ExtraLabels {
		if LabelName(k) != k {
			return output.Invalid("extralabels", fmt.Errorf("%q is not a label name", k))
		}
	}
	return nil
}

// Spec registers the output.
func Spec() output.Spec { return output.Spec{Key: "alertmanager", Enable: "hostport", New: New} }

// Alertmanager is the output. Safe for concurrent use.
type Alertmanager struct {
	cfg    Config
	url    string
	client *http.Client
}

// New builds the output.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	client, err := c.TLSFiles.HTTPClient(env, 0)
	if err != nil {
		return nil, fmt.Errorf("output alertmanager: %w", err)
	}
	return &Alertmanager{cfg: c, url: strings.TrimRight(c.HostPort, "/") + c.Endpoint, client: client}, nil
}

// Name returns "alertmanager".
func (am *Alertmanager) Name() string { return "alertmanager" }

// Alert is Alertmanager's postableAlert.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Payload builds the request body for a.
func (am *Alertmanager) Payload(a *schema.Alert, text string) []Alert {
	labels := make(map[string]string, len(a.OutputFields)+8)
	for k, v := range a.OutputFields {
		if v == nil {
			continue
		}
		if s := output.FieldString(v); s != "" {
			labels[LabelName(k)] = s
		}
	}
	for k, v := range am.cfg.ExtraLabels {
		labels[k] = v
	}
	labels["alertname"] = a.Rule
	labels["rule"] = a.Rule
	labels["priority"] = a.Priority.String()
	labels["severity"] = am.cfg.severity[a.Priority]
	labels["source"] = "falco"
	if a.Source != "" {
		labels["eventsource"] = a.Source
	}
	if a.Hostname != "" {
		labels["hostname"] = a.Hostname
	}
	if len(a.Tags) > 0 {
		labels["tags"] = strings.Join(a.Tags, ",")
	}
	ann := map[string]string{"summary": a.Rule, "description": text, "info": text}
	for k, v := range am.cfg.ExtraAnnotations {
		ann[k] = v
	}
	out := Alert{Labels: labels, Annotations: ann}
	if !a.Time.IsZero() {
		out.StartsAt = a.Time.UTC().Format(time.RFC3339Nano)
		if am.cfg.ExpiresAfter > 0 {
			out.EndsAt = a.Time.Add(time.Duration(am.cfg.ExpiresAfter) * time.Second).UTC().Format(time.RFC3339Nano)
		}
	}
	return []Alert{out}
}

// Send posts the alert.
func (am *Alertmanager) Send(ctx context.Context, d output.Delivery) error {
	body, err := json.Marshal(am.Payload(d.Alert, d.Text))
	if err != nil {
		return output.Permanent(fmt.Errorf("alertmanager: encode alert %s: %w", d.ID, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, am.url, bytes.NewReader(body))
	if err != nil {
		return output.Permanent(fmt.Errorf("alertmanager: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range am.cfg.CustomHeaders {
		req.Header.Set(k, v)
	}
	if err := output.Do(am.client, req); err != nil {
		return fmt.Errorf("alertmanager: %w", err)
	}
	return nil
}

// LabelName makes s a valid Prometheus label name: characters outside
// [a-zA-Z0-9_] become '_', and a leading digit gets a '_' before it.
func LabelName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			b[i] = '_'
		}
	}
	if len(b) == 0 || (b[0] >= '0' && b[0] <= '9') {
		return "_" + string(b)
	}
	return string(b)
}
