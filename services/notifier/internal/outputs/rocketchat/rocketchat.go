// Package rocketchat delivers alerts to a Rocket.Chat incoming webhook.
// Rocket.Chat takes Slack's legacy attachments; the layout is
// Falcosidekick's: the hostname comes last and, with outputformat "text",
// no attachment is sent at all, only the text line.
package rocketchat

import (
	"context"
	"fmt"
	"net/http"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/slack"
)

// Config is the "rocketchat" section, with Falcosidekick's keys; checkcert,
// certfile, keyfile and cacertfile set TLS for a self-hosted server.
type Config struct {
	WebhookURL      output.Secret `yaml:"webhookurl"`
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

// Spec is the rocketchat output kind.
func Spec() output.Spec {
	return output.Spec{Key: "rocketchat", Enable: "webhookurl", New: New}
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

// Output posts to one Rocket.Chat webhook. It is safe for concurrent use.
type Output struct {
	cfg    Config
	client *http.Client
}

// Name returns "rocketchat".
func (o *Output) Name() string { return "rocketchat" }

// Send posts the alert; Rocket.Chat answers 200 {"success":true}.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	return slack.PostJSON(ctx, o.client, string(o.cfg.WebhookURL), NewPayload(d.Alert, d.Text, o.cfg), o.cfg.WebhookURL)
}

// NewPayload builds the message: rule, priority, source, tags, the output
// fields, the time and the hostname, in Falcosidekick's order.
func NewPayload(a *schema.Alert, text string, c Config) slack.Payload {
	var att slack.Attachment
	format := c.OutputFormat
	if format == "" {
		format = slack.FormatAll
	}
	withFields := format == slack.FormatAll || format == slack.FormatFields
	if withFields {
		fields := []slack.Field{
			{Title: "rule", Value: a.Rule, Short: true},
			{Title: "priority", Value: a.Priority.String(), Short: true},
			{Title: "source", Value: a.Source, Short: true},
		}
		if len(a.Tags) != 0 {
			fields = append(fields, slack.Field{Title: "tags", Value: slack.Tags(a), Short: true})
		}
		fields = append(fields, slack.OutputFields(a)...)
		fields = append(fields, slack.Field{Title: "time", Value: slack.Time(a.Time)})
		if a.Hostname != "" {
			fields = append(fields, slack.Field{Title: "hostname", Value: a.Hostname, Short: true})
		}
		att.Fields = fields
	}
	att.Fallback = a.Output
	if format == slack.FormatAll || format == slack.FormatText {
		att.Text = a.Output
	}
	p := slack.Payload{Text: slack.MessageText(a, text), Username: c.Username, IconURL: c.Icon}
	if withFields {
		att.Color = slack.Color(a.Priority)
		p.Attachments = []slack.Attachment{att}
	} else if p.Text == "" {
		// Without an attachment the line itself must be the message, or
		// Rocket.Chat posts nothing.
		p.Text = a.Output
	}
	return p
}
