// Package teams delivers alerts to a Microsoft Teams incoming webhook as an
// Office 365 connector MessageCard, laid out as Falcosidekick does: one
// section whose text is the alert line and whose facts are rule, priority,
// source, hostname, the output fields and the tags, themed by priority.
package teams

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

// Output formats: "all" (text and facts), "text" or "facts".
const (
	FormatAll   = "all"
	FormatText  = "text"
	FormatFacts = "facts"
)

// Config is the "teams" section, with Falcosidekick's keys.
type Config struct {
	WebhookURL    output.Secret `yaml:"webhookurl"`
	ActivityImage string        `yaml:"activityimage"`
	OutputFormat  string        `yaml:"outputformat"`
}

// Validate checks the webhook URL and the output format.
func (c *Config) Validate() error {
	if err := slack.ValidateWebhook("webhookurl", c.WebhookURL); err != nil {
		return err
	}
	return slack.ValidateFormat("outputformat", c.OutputFormat, FormatAll, FormatText, FormatFacts)
}

// Fact is one name/value row of a MessageCard section.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Section is one MessageCard section.
type Section struct {
	ActivityTitle    string `json:"activityTitle"`
	ActivitySubtitle string `json:"activitySubtitle"`
	ActivityImage    string `json:"activityImage,omitempty"`
	Text             string `json:"text"`
	Facts            []Fact `json:"facts,omitempty"`
}

// Payload is a MessageCard.
type Payload struct {
	Type       string    `json:"@type"`
	Context    string    `json:"@context"`
	Summary    string    `json:"summary,omitempty"`
	ThemeColor string    `json:"themeColor,omitempty"`
	Sections   []Section `json:"sections"`
}

// ThemeColor is the card color Falcosidekick gives a priority (hex, no #).
func ThemeColor(p schema.Priority) string {
	return [...]string{"e20b0b", "ff5400", "ff9000", "ffc700", "ffff00", "5bffb5", "68c2ff", "ccfff2"}[clamp(p)]
}

func clamp(p schema.Priority) int {
	if p < schema.PriorityEmergency || p > schema.PriorityDebug {
		return int(schema.PriorityDebug)
	}
	return int(p)
}

// NewPayload builds the card; text (Delivery.Text) is the section text.
func NewPayload(a *schema.Alert, text string, c Config) Payload {
	format := c.OutputFormat
	if format == "" {
		format = FormatAll
	}
	s := Section{ActivityTitle: "Falco Sidekick", ActivitySubtitle: slack.Time(a.Time), ActivityImage: c.ActivityImage}
	if format == FormatAll || format == FormatText {
		s.Text = text
	}
	if format == FormatAll || format == FormatFacts {
		s.Facts = []Fact{{"rule", a.Rule}, {"priority", a.Priority.String()}, {"source", a.Source}}
		if a.Hostname != "" {
			s.Facts = append(s.Facts, Fact{"hostname", a.Hostname})
		}
		keys := make([]string, 0, len(a.OutputFields))
		for k := range a.OutputFields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s.Facts = append(s.Facts, Fact{k, output.FieldString(a.OutputFields[k])})
		}
		if len(a.Tags) != 0 {
			s.Facts = append(s.Facts, Fact{"tags", slack.Tags(a)})
		}
	}
	return Payload{
		Type: "MessageCard", Context: "https://schema.org/extensions",
		Summary: a.Output, ThemeColor: ThemeColor(a.Priority), Sections: []Section{s},
	}
}

// Spec is the teams output kind.
func Spec() output.Spec {
	return output.Spec{Key: "teams", Enable: "webhookurl", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{OutputFormat: FormatAll}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &Output{cfg: c, client: env.HTTPClient}, nil
}

// Output posts to one Teams webhook. It is safe for concurrent use.
type Output struct {
	cfg    Config
	client *http.Client
}

// Name returns "teams".
func (o *Output) Name() string { return "teams" }

// Send posts the card. Teams answers 200 with body "1"; a card it rejects
// comes back as 400, which is permanent.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	body, err := json.Marshal(NewPayload(d.Alert, d.Text, o.cfg))
	if err != nil {
		return output.Permanent(fmt.Errorf("teams: encode card: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(o.cfg.WebhookURL), bytes.NewReader(body))
	if err != nil {
		return output.Permanent(output.Redact(fmt.Errorf("teams: %w", err), o.cfg.WebhookURL))
	}
	req.Header.Set("Content-Type", "application/json")
	return output.Do(o.client, req, o.cfg.WebhookURL)
}
