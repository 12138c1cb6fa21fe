// Package slack delivers alerts to a Slack incoming webhook as a legacy
// message attachment colored by priority, laid out as Falcosidekick does.
// Mattermost and Rocket.Chat accept the same payload; their packages reuse
// the types and helpers here.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the "slack" section, with Falcosidekick's keys.
type Config struct {
	WebhookURL   output.Secret `yaml:"webhookurl"`
	Channel      string        `yaml:"channel"`
	Footer       string        `yaml:"footer"`
	Icon         string        `yaml:"icon"`
	Username     string        `yaml:"username"`
	OutputFormat string        `yaml:"outputformat"`
}

// Validate checks the webhook URL and the output format.
func (c *Config) Validate() error {
	if err := ValidateWebhook("webhookurl", c.WebhookURL); err != nil {
		return err
	}
	return ValidateFormat("outputformat", c.OutputFormat, FormatAll, FormatText, FormatFields)
}

// ValidateWebhook checks that u is an absolute http(s) URL without quoting
// it, since the URL is the secret.
func ValidateWebhook(field string, u output.Secret) error {
	if u == "" {
		return output.Missing(field)
	}
	p, err := url.Parse(string(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return output.Invalid(field, fmt.Errorf("want an http or https URL"))
	}
	return nil
}

// ValidateFormat checks that v is empty or one of allowed.
func ValidateFormat(field, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return output.Invalid(field, fmt.Errorf("%q is not one of %q", v, allowed))
}

// Spec is the slack output kind.
func Spec() output.Spec {
	return output.Spec{Key: "slack", Enable: "webhookurl", New: New}
}

// New builds the output from its config section. Username and icon default
// to Falcosidekick's.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{Username: "Falcosidekick", Icon: DefaultIconURL, OutputFormat: FormatAll}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &Output{cfg: c, client: env.HTTPClient}, nil
}

// Output posts to one Slack webhook. It is safe for concurrent use.
type Output struct {
	cfg    Config
	client *http.Client
}

// Name returns "slack".
func (o *Output) Name() string { return "slack" }

// Send posts the alert. Slack answers 200 "ok"; 4xx answers such as
// invalid_payload or channel_not_found are permanent.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	p := NewPayload(d.Alert, d.Text, Options{
		Username: o.cfg.Username, IconURL: o.cfg.Icon, Channel: o.cfg.Channel,
		Footer: o.cfg.Footer, OutputFormat: o.cfg.OutputFormat,
	})
	return PostJSON(ctx, o.client, string(o.cfg.WebhookURL), p, o.cfg.WebhookURL)
}

// PostJSON posts v as JSON to url with [output.Do], keeping secrets out of
// the error.
func PostJSON(ctx context.Context, client *http.Client, url string, v any, secrets ...output.Secret) error {
	body, err := json.Marshal(v)
	if err != nil {
		return output.Permanent(fmt.Errorf("encode payload: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return output.Permanent(output.Redact(fmt.Errorf("build request: %w", err), secrets...))
	}
	req.Header.Set("Content-Type", "application/json")
	return output.Do(client, req, secrets...)
}
