package delivery

import (
	"fmt"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Options are the per-output settings the core handles for every output.
// They are read from the output's config section beside its own keys.
type Options struct {
	// MinimumPriority drops alerts less severe than it ("warning"); empty
	// delivers all.
	MinimumPriority string `yaml:"minimumpriority"`
	// Rules, when set, delivers only alerts of these rule names.
	Rules []string `yaml:"filterrules"`
	// Tags, when set, delivers only alerts with at least one of these tags.
	Tags []string `yaml:"filtertags"`
	// MessageFormat is a Go text/template over the alert giving
	// Delivery.Text; empty gives Falco's text line.
	MessageFormat string `yaml:"messageformat"`
	// MaxDeliver is how many attempts an alert gets before it is
	// dead-lettered (default 20; with the default backoff about an hour).
	MaxDeliver int `yaml:"maxdeliver"`
	// Backoff is the delay before the second attempt; it doubles with each
	// further one up to MaxBackoff (defaults 1s and 5m).
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"maxbackoff"`
	// InFlight is how many alerts are sent at once (default 1: in order).
	InFlight int `yaml:"inflight"`
	// SendTimeout bounds one Send (default 10s); AckWait, after which the
	// server redelivers an alert a crashed notifier held, is SendTimeout
	// plus 5s unless set.
	SendTimeout time.Duration `yaml:"sendtimeout"`
	AckWait     time.Duration `yaml:"ackwait"`
	// DeliverPolicy is where a new output's consumer starts: "all" alerts
	// retained (default) or only "new" ones. It cannot change afterwards.
	DeliverPolicy string `yaml:"deliverpolicy"`

	minPriority schema.Priority
	rules       map[string]bool
	template    *output.Template
}

// DefaultOptions returns the defaults Decode starts from.
func DefaultOptions() Options {
	return Options{MaxDeliver: 20, Backoff: time.Second, MaxBackoff: 5 * time.Minute, InFlight: 1,
		SendTimeout: 10 * time.Second, DeliverPolicy: "all"}
}

// Validate checks the options and prepares the filters and template; the
// error names the field.
func (o *Options) Validate() error {
	o.minPriority = schema.PriorityDebug
	if o.MinimumPriority != "" {
		p, err := schema.ParsePriority(o.MinimumPriority)
		if err != nil {
			return output.Invalid("minimumpriority", err)
		}
		o.minPriority = p
	}
	if len(o.Rules) > 0 {
		o.rules = make(map[string]bool, len(o.Rules))
		for _, r := range o.Rules {
			o.rules[r] = true
		}
	}
	if o.MessageFormat != "" {
		t, err := output.ParseTemplate("messageformat", o.MessageFormat)
		if err != nil {
			return output.Invalid("messageformat", err)
		}
		o.template = t
	}
	switch {
	case o.MaxDeliver < 1:
		return output.Invalid("maxdeliver", fmt.Errorf("%d: want at least 1", o.MaxDeliver))
	case o.Backoff <= 0:
		return output.Invalid("backoff", fmt.Errorf("%v: want positive", o.Backoff))
	case o.MaxBackoff < o.Backoff:
		return output.Invalid("maxbackoff", fmt.Errorf("%v: want at least backoff %v", o.MaxBackoff, o.Backoff))
	case o.InFlight < 1 || o.InFlight > 10000:
		return output.Invalid("inflight", fmt.Errorf("%d: want 1 to 10000", o.InFlight))
	case o.SendTimeout <= 0:
		return output.Invalid("sendtimeout", fmt.Errorf("%v: want positive", o.SendTimeout))
	case o.AckWait < 0:
		return output.Invalid("ackwait", fmt.Errorf("%v: want positive", o.AckWait))
	}
	if o.AckWait == 0 {
		o.AckWait = o.SendTimeout + 5*time.Second
	}
	switch strings.ToLower(o.DeliverPolicy) {
	case "all", "":
		o.DeliverPolicy = "all"
	case "new":
		o.DeliverPolicy = "new"
	default:
		return output.Invalid("deliverpolicy", fmt.Errorf("%q: want all or new", o.DeliverPolicy))
	}
	return nil
}

// Match reports whether the output takes a by its priority, rule and tags.
func (o *Options) Match(a *schema.Alert) bool {
	if a.Priority > o.minPriority {
		return false
	}
	if o.rules != nil && !o.rules[a.Rule] {
		return false
	}
	if len(o.Tags) > 0 {
		for _, want := range o.Tags {
			for _, t := range a.Tags {
				if t == want {
					return true
				}
			}
		}
		return false
	}
	return true
}

// Text renders the message template over a, or returns Falco's text line.
func (o *Options) Text(a *schema.Alert) (string, error) {
	if o.template == nil {
		return a.Output, nil
	}
	return o.template.Render(a)
}

// delay is the nak delay after attempt n (1-based).
func (o *Options) delay(n uint64) time.Duration {
	d := o.Backoff
	for k := uint64(1); k < n && d < o.MaxBackoff; k++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}
