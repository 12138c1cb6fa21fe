// Package discord delivers alerts to a Discord webhook as one embed whose
// description is the alert line and whose inline fields are rule,
// priority, source, hostname, the output fields (in code spans), the tags
// and the time, as Falcosidekick lays them out.
package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/slack"
)

// Discord's embed limits: beyond them the webhook answers 400, which would
// lose the alert, so the payload is cut to fit.
const (
	maxFields      = 25
	maxFieldValue  = 1024
	maxDescription = 4096
)

// Config is the "discord" section, with Falcosidekick's keys.
type Config struct {
	WebhookURL output.Secret `yaml:"webhookurl"`
	Icon       string        `yaml:"icon"`
}

// Validate checks the webhook URL.
func (c *Config) Validate() error { return slack.ValidateWebhook("webhookurl", c.WebhookURL) }

// EmbedField is one embed field.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

// Embed is one rich embed.
type Embed struct {
	Description string       `json:"description"`
	Color       int          `json:"color"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Fields      []EmbedField `json:"fields"`
}

// Payload is the webhook's JSON body.
type Payload struct {
	Content   string  `json:"content"`
	AvatarURL string  `json:"avatar_url,omitempty"`
	Embeds    []Embed `json:"embeds"`
}

// Color is the embed color Falcosidekick gives a priority. Discord's API
// takes it as an integer; Falcosidekick's quoted string form is not what
// Discord documents.
func Color(p schema.Priority) int {
	switch p {
	case schema.PriorityEmergency:
		return 15158332 // red
	case schema.PriorityAlert:
		return 11027200 // dark orange
	case schema.PriorityCritical:
		return 15105570 // orange
	case schema.PriorityError:
		return 15844367 // gold
	case schema.PriorityWarning:
		return 12745742 // dark gold
	case schema.PriorityNotice:
		return 3066993 // teal
	case schema.PriorityInformational:
		return 3447003 // blue
	default:
		return 12370112 // light grey
	}
}

// NewPayload builds the message; text (Delivery.Text) is the description.
func NewPayload(a *schema.Alert, text, icon string) Payload {
	fields := []EmbedField{
		{"rule", a.Rule, true}, {"priority", a.Priority.String(), true}, {"source", a.Source, true},
	}
	if a.Hostname != "" {
		fields = append(fields, EmbedField{"hostname", a.Hostname, true})
	}
	keys := make([]string, 0, len(a.OutputFields))
	for k := range a.OutputFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fields = append(fields, EmbedField{k, "```" + truncate(output.FieldString(a.OutputFields[k]), maxFieldValue-6) + "```", true})
	}
	if len(a.Tags) != 0 {
		fields = append(fields, EmbedField{"tags", slack.Tags(a), true})
	}
	fields = append(fields, EmbedField{"time", slack.Time(a.Time), true})
	if len(fields) > maxFields {
		// Keep the summary fields and the time; drop output fields past
		// the limit (the time also travels in the embed timestamp).
		fields = append(fields[:maxFields-1], fields[len(fields)-1])
	}
	return Payload{
		AvatarURL: icon,
		Embeds: []Embed{{
			Description: truncate(text, maxDescription),
			Color:       Color(a.Priority),
			Timestamp:   a.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			Fields:      fields,
		}},
	}
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Spec is the discord output kind.
func Spec() output.Spec {
	return output.Spec{Key: "discord", Enable: "webhookurl", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{Icon: slack.DefaultIconURL}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &Output{cfg: c, client: env.HTTPClient}, nil
}

// Output posts to one Discord webhook. It is safe for concurrent use.
type Output struct {
	cfg    Config
	client *http.Client
}

// Name returns "discord".
func (o *Output) Name() string { return "discord" }

// Send posts the embed. Discord answers 204 No Content; 429 carries
// retry_after and is retried by the core.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	body, err := json.Marshal(NewPayload(d.Alert, d.Text, o.cfg.Icon))
	if err != nil {
		return output.Permanent(fmt.Errorf("discord: encode payload: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(o.cfg.WebhookURL), bytes.NewReader(body))
	if err != nil {
		return output.Permanent(output.Redact(fmt.Errorf("discord: %w", err), o.cfg.WebhookURL))
	}
	req.Header.Set("Content-Type", "application/json")
	return output.Do(o.client, req, o.cfg.WebhookURL)
}
