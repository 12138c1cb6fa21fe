// Package mattermost delivers alerts to a Mattermost incoming webhook.
// Mattermost takes Slack's legacy attachments (the shared webhook output
// is [slack.CompatSpec]); the layout is Falcosidekick's, which puts the
// hostname right after the rule.
package mattermost

import (
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/slack"
)

// Config is the "mattermost" section, with Falcosidekick's keys
// (webhookurl, footer, icon, username, outputformat and the TLS keys).
type Config = slack.CompatConfig

// Spec is the mattermost output kind; Mattermost answers 200 "ok".
func Spec() output.Spec { return slack.CompatSpec("mattermost", NewPayload) }

// NewPayload builds the message: rule, hostname, priority, source, tags,
// the output fields and the time, in Falcosidekick's order.
func NewPayload(a *schema.Alert, text string, c Config) slack.Payload {
	var att slack.Attachment
	format := c.OutputFormat
	if format == "" {
		format = slack.FormatAll
	}
	if format == slack.FormatAll || format == slack.FormatFields {
		att.Fields = slack.CompatFields(a, true)
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
