// Package mattermost delivers alerts to a Mattermost incoming webhook.
// Mattermost takes Slack's legacy attachments; the layout is
// Falcosidekick's, which puts the hostname right after the rule.
package mattermost

import (
	"context"
	"fmt"
	"net/http"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/slack"
)

// Config is the "mattermost" section, with Falcosidekick's keys; checkcert,
// certfile, keyfile and cacertfile set TLS for a self-hosted server.
type Config struct {
	WebhookURL      output.Secret `yaml:"webhookurl"`
	Footer          string        `yaml:"footer"`
	Icon            string        `yaml:"icon"`
	Username        string        `yaml:"username"`
	OutputFormat    string        `yaml:"outputformat"`
	output.TLSFiles `yaml:",inline"`
}

// Validate checks the webhook URL and the output format.
func (c *Config) Validate() error {
	if err := slack.ValidateWebhook("webhookurl", c.WebhookURL); err != nil {
		return err
	}
	return slack.ValidateFormat("outputformat", c.OutputFormat, slack.FormatAll, slack.FormatText, slack.FormatFields)
}

// Spec is the mattermost output kind.
func Spec() output.Spec {
	return output.Spec{Key: "mattermost", Enable: "webhookurl", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{Username: "Falcosidekick", Icon: slack.DefaultIconURL, OutputFormat: slack.FormatAll}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	client, err := c.TLSFiles.HTTPClient(env, 0)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", cfg.Key(), err)
	}
	return &Output{cfg: c, client: client}, nil
}

// Output posts to one Mattermost webhook. It is safe for concurrent use.
type Output struct {
	cfg    Config
	client *http.Client
}

// Name returns "mattermost".
func (o *Output) Name() string { return "mattermost" }

// Send posts the alert; Mattermost answers 200 "ok".
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	return slack.PostJSON(ctx, o.client, string(o.cfg.WebhookURL), NewPayload(d.Alert, d.Text, o.cfg), o.cfg.WebhookURL)
}

// NewPayload builds the message: rule, hostname, priority, source, tags,
// the output fields and the time, in Falcosidekick's order.
func NewPayload(a *schema.Alert, text string, c Config) slack.Payload {
	var att slack.Attachment
	format := c.OutputFormat
	if format == "" {
		format = slack.FormatAll
	}
	if format == slack.FormatAll || format == slack.FormatFields {
		fields := []slack.Field{{Title: "rule", Value: a.Rule, Short: true}}
		if a.Hostname != "" {
			fields = append(fields, slack.Field{Title: "hostname", Value: a.Hostname, Short: true})
		}
		fields = append(fields,
			slack.Field{Title: "priority", Value: a.Priority.String(), Short: true},
			slack.Field{Title: "source", Value: a.Source, Short: true})
		if len(a.Tags) != 0 {
			fields = append(fields, slack.Field{Title: "tags", Value: slack.Tags(a), Short: true})
		}
		fields = append(fields, slack.OutputFields(a)...)
		fields = append(fields, slack.Field{Title: "time", Value: slack.Time(a.Time)})
		att.Fields = fields
		att.Footer = slack.DefaultFooter
		if c.Footer != "" {
			att.Footer = c.Footer
		}
	}
	att.Fallback = a.Output
	if format == slack.FormatAll || format == slack.FormatText {
		att.Text = a.Output
	}
	att.Color = slack.Color(a.Priority)
	return slack.Payload{
		Text:        slack.MessageText(a, text),
		Username:    c.Username,
		IconURL:     c.Icon,
		Attachments: []slack.Attachment{att},
	}
}
