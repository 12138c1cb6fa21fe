package slack

import (
	"sort"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Output formats, as Falcosidekick's outputformat key spells them: "all"
// sends the text line and the fields, "text" only the line, "fields" only
// the fields. Empty means "all".
const (
	FormatAll    = "all"
	FormatText   = "text"
	FormatFields = "fields"
)

// DefaultFooter is the attachment footer when none is configured, as in
// Falcosidekick.
const DefaultFooter = "https://github.com/falcosecurity/falcosidekick"

// DefaultIconURL is the bot icon Falcosidekick uses for Mattermost and
// Rocket.Chat when none is configured.
const DefaultIconURL = "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick.png"

// Field is one attachment field of Slack's legacy message attachments,
// which Mattermost and Rocket.Chat accept too.
type Field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Attachment is one legacy message attachment.
type Attachment struct {
	Fallback   string  `json:"fallback"`
	Color      string  `json:"color"`
	Text       string  `json:"text,omitempty"`
	Fields     []Field `json:"fields"`
	Footer     string  `json:"footer,omitempty"`
	FooterIcon string  `json:"footer_icon,omitempty"`
}

// Payload is the JSON body of an incoming-webhook message.
type Payload struct {
	Text        string       `json:"text,omitempty"`
	Username    string       `json:"username,omitempty"`
	IconURL     string       `json:"icon_url,omitempty"`
	Channel     string       `json:"channel,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Color is the attachment color Falcosidekick gives a priority in Slack,
// Mattermost and Rocket.Chat messages.
func Color(p schema.Priority) string {
	switch p {
	case schema.PriorityEmergency, schema.PriorityError:
		return "#e20b0b"
	case schema.PriorityAlert, schema.PriorityCritical:
		return "#ff5400"
	case schema.PriorityWarning:
		return "#ffc700"
	case schema.PriorityNotice:
		return "#5bffb5"
	case schema.PriorityInformational:
		return "#68c2ff"
	default:
		return "#ccfff2"
	}
}

// OutputFields returns the alert's output fields as attachment fields in key
// order; values shorter than 36 characters are short (two per row), as
// Falcosidekick lays them out.
func OutputFields(a *schema.Alert) []Field {
	keys := make([]string, 0, len(a.OutputFields))
	for k := range a.OutputFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Field, 0, len(keys))
	for _, k := range keys {
		v := output.FieldString(a.OutputFields[k])
		out = append(out, Field{Title: k, Value: v, Short: len([]rune(v)) < 36})
	}
	return out
}

// Tags returns the alert's tags sorted and joined by ", ", without
// reordering the alert's own slice.
func Tags(a *schema.Alert) string {
	tags := append([]string(nil), a.Tags...)
	sort.Strings(tags)
	return strings.Join(tags, ", ")
}

// Time renders the alert time as Falcosidekick does (Go's time.Time String
// form, in UTC).
func Time(t time.Time) string { return t.UTC().String() }

// MessageText is the top-level message text: the rendered template when the
// output has one, else empty, since the alert's line already goes in the
// attachment. The core renders Delivery.Text as the template, or sets it to
// the alert's own line when there is none, so a text equal to that line
// means no template.
func MessageText(a *schema.Alert, text string) string {
	if text == a.Output {
		return ""
	}
	return text
}

// Options are the Slack settings that shape the message.
type Options struct {
	Username     string
	IconURL      string
	Channel      string
	Footer       string
	OutputFormat string
}

// NewPayload builds the Slack message for an alert: one attachment colored
// by priority with rule, priority, source, hostname, tags, the output fields
// and the time, as Falcosidekick renders it. text is Delivery.Text.
func NewPayload(a *schema.Alert, text string, o Options) Payload {
	var att Attachment
	format := o.OutputFormat
	if format == "" {
		format = FormatAll
	}
	if format == FormatAll || format == FormatFields {
		fields := []Field{
			{Title: "rule", Value: a.Rule, Short: true},
			{Title: "priority", Value: a.Priority.String(), Short: true},
			{Title: "source", Value: a.Source, Short: true},
		}
		if a.Hostname != "" {
			fields = append(fields, Field{Title: "hostname", Value: a.Hostname, Short: true})
		}
		if len(a.Tags) != 0 {
			fields = append(fields, Field{Title: "tags", Value: Tags(a), Short: true})
		}
		fields = append(fields, OutputFields(a)...)
		fields = append(fields, Field{Title: "time", Value: Time(a.Time), Short: false})
		att.Fields = fields
		att.Footer = DefaultFooter
		if o.Footer != "" {
			att.Footer = o.Footer
		}
	}
	att.Fallback = a.Output
	if format == FormatAll || format == FormatText {
		att.Text = a.Output
	}
	att.Color = Color(a.Priority)
	return Payload{
		Text:        MessageText(a, text),
		Username:    o.Username,
		IconURL:     o.IconURL,
		Channel:     o.Channel,
		Attachments: []Attachment{att},
	}
}
