// Package output is the contract between the notifier core and its outputs.
//
// An [Output] delivers one [Delivery] (an alert, its stable id and its
// rendered text) to one target and returns nil only when the target accepted
// it. The core owns everything common to all outputs: consuming the ALERTS
// stream, filtering by priority, rule and tag, rendering the per-output
// message template, retrying with backoff and dead-lettering. An output only
// translates an alert into its target's request.
//
// Each output kind registers a [Spec] in the table of package
// services/notifier/internal/outputs. The core finds the config section named
// by [Spec.Key], builds a [Config] for it and calls [Spec.New]. Outputs read
// their settings with [Config.Decode], which applies Falcosidekick's env
// overrides (KEY_SUBKEY, e.g. SLACK_WEBHOOKURL) and calls Validate.
//
// Secrets (webhook URLs, tokens, passwords) are typed [Secret] so they never
// print, and errors that may quote them (a URL in a net/http error) go
// through [Redact]. [Do] sends an HTTP request and classifies the response
// the way every HTTP output needs.
package output
