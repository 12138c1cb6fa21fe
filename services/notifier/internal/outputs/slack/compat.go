package slack

import (
	"context"
	"fmt"
	"net/http"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// CompatConfig is the section of an output that posts Slack's legacy
// attachments to another chat's incoming webhook (Mattermost,
// Rocket.Chat), with Falcosidekick's keys; checkcert, certfile, keyfile
// and cacertfile set TLS for a self-hosted server. Footer is only shown
// by layouts that have one (Mattermost's).
type CompatConfig struct {
	WebhookURL      output.Secret `yaml:"webhookurl"`
	Footer          string        `yaml:"footer"`
	Icon            string        `yaml:"icon"`
	Username        string        `yaml:"username"`
	OutputFormat    string        `yaml:"outputformat"`
	output.TLSFiles `yaml:",inline"`
}

// Validate checks the webhook URL and the output format.
func (c *CompatConfig) Validate() error {
	if err := ValidateWebhook("webhookurl", c.WebhookURL); err != nil {
		return err
	}
	return ValidateFormat("outputformat", c.OutputFormat, FormatAll, FormatText, FormatFields)
}

// Layout builds one chat's message for an alert from its config.
type Layout func(a *schema.Alert, text string, c CompatConfig) Payload

// CompatSpec is the output kind key (its section and its Name) that posts
// layout's messages to a Slack-compatible webhook. The defaults are
// Falcosidekick's: user "Falcosidekick", its icon, format "all".
func CompatSpec(key string, layout Layout) output.Spec {
	return output.Spec{Key: key, Enable: "webhookurl", New: func(cfg *output.Config, env output.Env) (output.Output, error) {
		c := CompatConfig{Username: "Falcosidekick", Icon: DefaultIconURL, OutputFormat: FormatAll}
		if err := cfg.Decode(&c); err != nil {
			return nil, err
		}
		client, err := c.TLSFiles.HTTPClient(env, 0)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", cfg.Key(), err)
		}
		return &compatOutput{name: key, cfg: c, layout: layout, client: client}, nil
	}}
}

// compatOutput posts to one webhook. It is safe for concurrent use.
type compatOutput struct {
	name   string
	cfg    CompatConfig
	layout Layout
	client *http.Client
}

func (o *compatOutput) Name() string { return o.name }

// Send posts the alert; the chat answers 2xx ("ok", {"success":true}).
func (o *compatOutput) Send(ctx context.Context, d output.Delivery) error {
	return PostJSON(ctx, o.client, string(o.cfg.WebhookURL), o.layout(d.Alert, d.Text, o.cfg), o.cfg.WebhookURL)
}

// CompatFields are the attachment fields Falcosidekick gives Mattermost
// and Rocket.Chat: rule, priority, source, tags, the output fields and the
// time, with the hostname right after the rule (Mattermost) or last
// (Rocket.Chat).
func CompatFields(a *schema.Alert, hostnameFirst bool) []Field {
	fields := []Field{{Title: "rule", Value: a.Rule, Short: true}}
	host := a.Hostname != ""
	if host && hostnameFirst {
		fields = append(fields, Field{Title: "hostname", Value: a.Hostname, Short: true})
	}
	fields = append(fields,
		Field{Title: "priority", Value: a.Priority.String(), Short: true},
		Field{Title: "source", Value: a.Source, Short: true})
	if len(a.Tags) != 0 {
		fields = append(fields, Field{Title: "tags", Value: Tags(a), Short: true})
	}
	fields = append(fields, OutputFields(a)...)
	fields = append(fields, Field{Title: "time", Value: Time(a.Time)})
	if host && !hostnameFirst {
		fields = append(fields, Field{Title: "hostname", Value: a.Hostname, Short: true})
	}
	return fields
}
