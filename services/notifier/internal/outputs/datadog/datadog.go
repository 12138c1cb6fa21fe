// Package datadog delivers alerts to Datadog's events API (POST
// /api/v1/events) as Falcosidekick does: the rule is the title, the alert
// line the text, the alert type follows the priority and the output fields
// become key:value tags.
package datadog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// DefaultHost is Datadog's US1 site; other sites set host
// (https://api.datadoghq.eu, https://api.us3.datadoghq.com, ...).
const DefaultHost = "https://api.datadoghq.com"

// Path is the events API endpoint.
const Path = "/api/v1/events"

// Config is the "datadog" section, with Falcosidekick's keys.
type Config struct {
	APIKey output.Secret `yaml:"apikey"`
	Host   string        `yaml:"host"`
}

// Validate checks the key and the host URL.
func (c *Config) Validate() error {
	if c.APIKey == "" {
		return output.Missing("apikey")
	}
	u, err := url.Parse(c.Host)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return output.Invalid("host", fmt.Errorf("%q is not an http or https URL", c.Host))
	}
	return nil
}

// Payload is one event.
type Payload struct {
	Title        string   `json:"title"`
	Text         string   `json:"text"`
	AlertType    string   `json:"alert_type"`
	SourceType   string   `json:"source_type_name"`
	Host         string   `json:"host,omitempty"`
	DateHappened int64    `json:"date_happened"`
	Tags         []string `json:"tags"`
}

// AlertType maps a priority to Datadog's alert_type as Falcosidekick does:
// error down to Error, warning for Warning, info below.
func AlertType(p schema.Priority) string {
	switch {
	case p <= schema.PriorityError:
		return "error"
	case p == schema.PriorityWarning:
		return "warning"
	}
	return "info"
}

// NewPayload builds the event; text is Delivery.Text.
func NewPayload(a *schema.Alert, text string) Payload {
	keys := make([]string, 0, len(a.OutputFields))
	for k := range a.OutputFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]string, 0, len(keys)+3+len(a.Tags))
	for _, k := range keys {
		tags = append(tags, k+":"+output.FieldString(a.OutputFields[k]))
	}
	tags = append(tags, "source:"+a.Source)
	if a.Hostname != "" {
		tags = append(tags, "hostname:"+a.Hostname)
	}
	rt := append([]string(nil), a.Tags...)
	sort.Strings(rt)
	tags = append(tags, rt...)
	return Payload{
		Title: a.Rule, Text: text, AlertType: AlertType(a.Priority), SourceType: "falco",
		Host: a.Hostname, DateHappened: a.Time.Unix(), Tags: tags,
	}
}

// Spec is the datadog output kind.
func Spec() output.Spec {
	return output.Spec{Key: "datadog", Enable: "apikey", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{Host: DefaultHost}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &Output{cfg: c, url: strings.TrimSuffix(c.Host, "/") + Path, client: env.HTTPClient}, nil
}

// Output posts events to one Datadog site. It is safe for concurrent use.
type Output struct {
	cfg    Config
	url    string
	client *http.Client
}

// Name returns "datadog".
func (o *Output) Name() string { return "datadog" }

// Send posts the event with the key in the DD-API-KEY header (never in the
// URL, where Falcosidekick puts it, so it cannot reach a log). Datadog
// answers 202 {"status":"ok",...}; 403 (bad key) is permanent.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	body, err := json.Marshal(NewPayload(d.Alert, d.Text))
	if err != nil {
		return output.Permanent(fmt.Errorf("datadog: encode event: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return output.Permanent(fmt.Errorf("datadog: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("DD-API-KEY", string(o.cfg.APIKey))
	return output.Do(o.client, req, o.cfg.APIKey)
}
