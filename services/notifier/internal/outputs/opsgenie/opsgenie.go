// Package opsgenie creates Opsgenie alerts (POST /v2/alerts) from Falco
// alerts, with Falcosidekick's priority mapping (P1 for Emergency and
// Alert down to P5) and the output fields as details.
package opsgenie

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// API hosts by region.
const (
	USURL = "https://api.opsgenie.com"
	EUURL = "https://api.eu.opsgenie.com"
)

// Opsgenie's field limits; it rejects or cuts longer values.
const (
	maxMessage = 130
	maxAlias   = 512
)

// Config is the "opsgenie" section, with Falcosidekick's keys.
type Config struct {
	APIKey output.Secret `yaml:"apikey"`
	Region string        `yaml:"region"`
}

// Validate checks the key and the region.
func (c *Config) Validate() error {
	if c.APIKey == "" {
		return output.Missing("apikey")
	}
	switch strings.ToLower(c.Region) {
	case "", "us", "eu":
		return nil
	}
	return output.Invalid("region", fmt.Errorf("%q is not us or eu", c.Region))
}

// Payload is the create-alert request body.
type Payload struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias,omitempty"`
	Description string            `json:"description,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Priority    string            `json:"priority"`
}

// Priority maps a Falco priority to Opsgenie's P1..P5 as Falcosidekick does.
func Priority(p schema.Priority) string {
	switch p {
	case schema.PriorityEmergency, schema.PriorityAlert:
		return "P1"
	case schema.PriorityCritical:
		return "P2"
	case schema.PriorityError:
		return "P3"
	case schema.PriorityWarning:
		return "P4"
	}
	return "P5"
}

// NewPayload builds the request. The message is text cut to Opsgenie's 130
// characters, so the whole line also goes in the description; the alias is
// the delivery id, so a retried delivery updates the open alert instead of
// opening a second one.
func NewPayload(a *schema.Alert, id, text string) Payload {
	details := make(map[string]string, len(a.OutputFields)+5)
	for k, v := range a.OutputFields {
		details[strings.ReplaceAll(k, ".", "_")] = output.FieldString(v)
	}
	details["source"] = a.Source
	details["rule"] = a.Rule
	details["priority"] = a.Priority.String()
	if a.Hostname != "" {
		details["hostname"] = a.Hostname
	}
	if len(a.Tags) != 0 {
		details["tags"] = strings.Join(a.Tags, ", ")
	}
	if len(id) > maxAlias {
		id = id[:maxAlias]
	}
	msg := []rune(text)
	if len(msg) > maxMessage {
		msg = append(msg[:maxMessage-1], '…')
	}
	return Payload{
		Message: string(msg), Alias: id, Description: text, Entity: "Falcosidekick", Source: "Falco",
		Tags: a.Tags, Details: details, Priority: Priority(a.Priority),
	}
}

// Spec is the opsgenie output kind.
func Spec() output.Spec {
	return output.Spec{Key: "opsgenie", Enable: "apikey", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	base := USURL
	if strings.EqualFold(c.Region, "eu") {
		base = EUURL
	}
	return &Output{cfg: c, url: base + "/v2/alerts", client: env.HTTPClient}, nil
}

// Output creates alerts in one Opsgenie account. It is safe for concurrent
// use.
type Output struct {
	cfg    Config
	url    string
	client *http.Client
}

// Name returns "opsgenie".
func (o *Output) Name() string { return "opsgenie" }

// Send creates the alert. Opsgenie answers 202 {"result":"Request will be
// processed",...}; 401/403/422 are permanent, 429 is retried.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	body, err := json.Marshal(NewPayload(d.Alert, d.ID, d.Text))
	if err != nil {
		return output.Permanent(fmt.Errorf("opsgenie: encode alert: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return output.Permanent(fmt.Errorf("opsgenie: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "GenieKey "+string(o.cfg.APIKey))
	return output.Do(o.client, req, o.cfg.APIKey)
}
