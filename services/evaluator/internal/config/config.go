// Package config holds the evaluator's settings, read from the command
// line and the environment, and checks them before anything starts.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// ErrInvalid is wrapped by every error of [Config.Validate].
var ErrInvalid = errors.New("invalid configuration")

// Rule matching modes, Falco's rule_matching setting.
const (
	MatchFirst = "first"
	MatchAll   = "all"
)

// Config is what `evaluator run` needs.
type Config struct {
	NATSURL string
	// Input is the subject filter of the consumer; it selects the stream.
	Input string
	// Rules are rule files in load order; empty means the embedded stable
	// rules then the local override file when it exists.
	Rules        []string
	RuleMatching string
	MetricsAddr  string // "" disables the telemetry server
	Hostname     string // the alerts' hostname; "" means the event's node
	Batch        int    // messages fetched per pull
	Workers      int    // messages evaluated at once
	// Consumer is the durable consumer name shared by all replicas.
	Consumer string
	// PollInterval is how often rule files are checked for changes.
	PollInterval time.Duration
	// DropInterval and DropBurst rate-limit the internal drop alert.
	DropInterval time.Duration
	DropBurst    int
}

// Default returns the settings used when no flag is given; NATS_URL
// comes from the environment.
func Default() Config {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	workers := runtime.GOMAXPROCS(0)
	return Config{
		NATSURL:      url,
		Input:        schema.SubjectEnrichedAll,
		RuleMatching: MatchFirst,
		MetricsAddr:  ":9102",
		Batch:        64,
		Workers:      workers,
		Consumer:     "evaluator",
		PollInterval: time.Second,
		DropInterval: 10 * time.Second,
		DropBurst:    3,
	}
}

// Stream returns the stream holding Input's subjects: EVENTS_ENRICHED for
// events.enriched.*, EVENTS_RAW for events.raw.* (a host without an
// enricher). It returns an error wrapping [ErrInvalid] for anything else.
func (c *Config) Stream() (string, error) {
	switch {
	case subjectUnder(c.Input, "events.enriched"):
		return schema.StreamEnriched, nil
	case subjectUnder(c.Input, "events.raw"):
		return schema.StreamRaw, nil
	}
	return "", fmt.Errorf("%w: --input %q: not under %s or %s", ErrInvalid, c.Input,
		schema.SubjectEnrichedAll, schema.SubjectRawAll)
}

func subjectUnder(subject, prefix string) bool {
	return strings.HasPrefix(subject, prefix+".") && len(subject) > len(prefix)+1
}

// Validate checks every field and returns an error wrapping [ErrInvalid]
// naming the first bad one.
func (c *Config) Validate() error {
	if _, err := c.Stream(); err != nil {
		return err
	}
	bad := func(flag string, v any, why string) error {
		return fmt.Errorf("%w: --%s %v: %s", ErrInvalid, flag, v, why)
	}
	switch {
	case c.NATSURL == "":
		return bad("nats-url", `""`, "empty")
	case c.RuleMatching != MatchFirst && c.RuleMatching != MatchAll:
		return bad("rule-matching", c.RuleMatching, "must be first or all")
	case c.Batch < 1:
		return bad("batch", c.Batch, "must be at least 1")
	case c.Workers < 1:
		return bad("workers", c.Workers, "must be at least 1")
	case c.Consumer == "" || strings.ContainsAny(c.Consumer, ".*> \t"):
		return bad("consumer", c.Consumer, "must be a non-empty name without '.', '*', '>' or spaces")
	case c.PollInterval <= 0:
		return bad("poll-interval", c.PollInterval, "must be positive")
	case c.DropInterval <= 0:
		return bad("drop-alert-interval", c.DropInterval, "must be positive")
	case c.DropBurst < 1:
		return bad("drop-alert-burst", c.DropBurst, "must be at least 1")
	}
	for _, r := range c.Rules {
		if r == "" {
			return bad("rules", `""`, "empty file name")
		}
	}
	return nil
}

// Files is a repeatable string flag: -r a.yaml -r b.yaml.
type Files []string

// String implements flag.Value.
func (f *Files) String() string { return strings.Join(*f, ",") }

// Set implements flag.Value.
func (f *Files) Set(s string) error {
	*f = append(*f, s)
	return nil
}

// RegisterRun adds the flags of `evaluator run` to fs, writing into c.
func (c *Config) RegisterRun(fs *flag.FlagSet) {
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "NATS server URL; $NATS_URL sets the default")
	fs.StringVar(&c.Input, "input", c.Input, "subject filter to consume: events.enriched.> or, without an enricher, events.raw.>")
	RegisterRules(fs, (*Files)(&c.Rules))
	fs.StringVar(&c.RuleMatching, "rule-matching", c.RuleMatching, "first: one alert per event, for the first matching rule; all: every matching rule")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "address of /metrics, /healthz and /readyz; empty disables")
	fs.StringVar(&c.Hostname, "hostname", c.Hostname, "hostname written in alerts (default: the node the event came from)")
	fs.IntVar(&c.Batch, "batch", c.Batch, "messages fetched per pull")
	fs.IntVar(&c.Workers, "workers", c.Workers, "messages evaluated concurrently")
	fs.StringVar(&c.Consumer, "consumer", c.Consumer, "durable consumer name shared by all replicas")
	fs.DurationVar(&c.PollInterval, "poll-interval", c.PollInterval, "how often rule files are checked for changes")
	fs.DurationVar(&c.DropInterval, "drop-alert-interval", c.DropInterval, "one syscall event drop alert per node per this interval")
	fs.IntVar(&c.DropBurst, "drop-alert-burst", c.DropBurst, "drop alerts allowed at once")
}

// RegisterRules adds -r and --rules, both appending to files.
func RegisterRules(fs *flag.FlagSet, files *Files) {
	const usage = "rule file, repeatable, loaded in order (default: embedded Falco stable rules, then /etc/peregrine/rules.local.yaml if present)"
	fs.Var(files, "r", usage)
	fs.Var(files, "rules", usage)
}

// Parse parses args with fs, accepting flags after positional arguments
// too (`validate -r a.yaml b.yaml --rule-matching all`): the standard
// package stops at the first positional one. Everything after a "--" is
// positional. It returns the positional arguments in order.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
