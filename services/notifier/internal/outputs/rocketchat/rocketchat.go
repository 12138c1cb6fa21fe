// Package rocketchat delivers alerts to a Rocket.Chat incoming webhook.
// Rocket.Chat takes Slack's legacy attachments (the shared webhook output
// is [slack.CompatSpec]); the layout is Falcosidekick's: the hostname
// comes last and, with outputformat "text", no attachment is sent at all,
// only the text line.
package rocketchat

import (
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/slack"
)

// Config is the "rocketchat" section, with Falcosidekick's keys
// (webhookurl, icon, username, outputformat and the TLS keys); this layout
// has no footer.
type Config = slack.CompatConfig

// Spec is the rocketchat output kind; Rocket.Chat answers 200
// {"success":true}.
func Spec() output.Spec { return slack.CompatSpec("rocketchat", NewPayload) }

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
		att.Fields = slack.CompatFields(a, false)
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
