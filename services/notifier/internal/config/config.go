// Package config loads the notifier's config: a YAML file in the form of
// Falcosidekick's config.yaml, with Falcosidekick's env overrides
// (LISTENPORT, CUSTOMFIELDS, WEBHOOK_ADDRESS, SLACK_WEBHOOKURL, ...).
//
// An output is on when its enabling key (Spec.Enable: webhook.address,
// slack.webhookurl, ...) is set in the file or the environment, or when its
// section says enabled: true. When none is on, the stdout output is, unless
// the caller turned that default off or the file says stdout: enabled: false.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/delivery"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the notifier's whole config.
type Config struct {
	ListenAddress   string            `yaml:"listenaddress"` // HTTP input, default 0.0.0.0
	ListenPort      int               `yaml:"listenport"`    // default 2801
	CustomFields    map[string]string `yaml:"customfields"`
	TemplatedFields map[string]string `yaml:"templatedfields"`
	Bus             Bus               `yaml:"bus"`
	GRPC            GRPC              `yaml:"grpc"`

	// Outputs are the outputs turned on, sorted by key.
	Outputs []Output `yaml:"-"`
	// File is the path the config came from ("" for none).
	File string `yaml:"-"`
}

// Bus is the NATS connection and the ALERTS stream's retention.
type Bus struct {
	URL string `yaml:"url"` // default: env NATS_URL, then nats://127.0.0.1:4222
	// AlertsMaxAge and AlertsMaxBytes bound the ALERTS stream (defaults 7
	// days and 1 GiB): how long alerts stay for an output that is down.
	AlertsMaxAge   time.Duration `yaml:"alertsmaxage"`
	AlertsMaxBytes int64         `yaml:"alertsmaxbytes"`
}

// GRPC is Falco's gRPC outputs API, with Falco's key names.
type GRPC struct {
	Enabled bool `yaml:"enabled"`
	// BindAddress is "unix:///run/peregrine/notifier.sock" or "host:port"
	// (TCP, which needs the three TLS files: mTLS as in Falco).
	BindAddress   string   `yaml:"bind_address"`
	BindAddresses []string `yaml:"bind_addresses"` // more listeners
	PrivateKey    string   `yaml:"private_key"`
	CertChain     string   `yaml:"cert_chain"`
	RootCerts     string   `yaml:"root_certs"`
	// BufSize bounds the alerts kept for the get call (default 1000).
	BufSize int `yaml:"bufsize"`
}

// Output is one output that is on.
type Output struct {
	Spec    output.Spec
	Config  *output.Config
	Options delivery.Options
}

// Listen returns the HTTP input's host:port.
func (c *Config) Listen() string {
	return net.JoinHostPort(c.ListenAddress, strconv.Itoa(c.ListenPort))
}

// Validate checks the global settings; errors name the field.
func (c *Config) Validate() error {
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		return fmt.Errorf("field listenport: %d out of range", c.ListenPort)
	}
	if c.Bus.AlertsMaxAge < 0 || c.Bus.AlertsMaxBytes < 0 {
		return errors.New("field bus: alertsmaxage and alertsmaxbytes must not be negative")
	}
	if c.GRPC.BufSize < 0 {
		return fmt.Errorf("field grpc.bufsize: %d must not be negative", c.GRPC.BufSize)
	}
	return nil
}

// Load reads path ("" for none: env and defaults only) and turns on the
// outputs of specs whose settings are present. stdoutDefault turns stdout on
// when nothing else is. Errors name the file and the section or field.
func Load(path string, getenv func(string) string, specs []output.Spec, stdoutDefault bool) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var root yaml.Node
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := yaml.Unmarshal(b, &root); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	file := path
	if file == "" {
		file = "(no config file)"
	}
	c := &Config{ListenAddress: "0.0.0.0", ListenPort: 2801, File: path, GRPC: GRPC{BufSize: 1000}}
	top := output.NewConfig("", file, &root, getenv)
	if err := top.Decode(c); err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	specs = append([]output.Spec(nil), specs...)
	sort.Slice(specs, func(i, j int) bool { return specs[i].Key < specs[j].Key })
	var stdoutSpec *output.Spec
	for i, s := range specs {
		if s.Key == "stdout" {
			stdoutSpec = &specs[i]
		}
		oc := output.NewConfig(s.Key, file, &root, getenv)
		on, err := enabled(oc, s)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
		if !on {
			continue
		}
		o, err := outputFor(s, oc)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
		c.Outputs = append(c.Outputs, o)
	}
	if len(c.Outputs) == 0 && stdoutDefault && stdoutSpec != nil &&
		output.NewConfig("stdout", file, &root, getenv).Get("enabled") == "" {
		// The default gives way to an explicit "stdout: enabled: false".
		o, err := outputFor(*stdoutSpec, output.NewConfig("stdout", file, &root, getenv))
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
		c.Outputs = append(c.Outputs, o)
	}
	return c, nil
}

func outputFor(s output.Spec, oc *output.Config) (Output, error) {
	opts := delivery.DefaultOptions()
	if err := oc.Decode(&opts); err != nil {
		return Output{}, err
	}
	return Output{Spec: s, Config: oc, Options: opts}, nil
}

// enabled reports whether the output's enabling key or enabled: true is set.
func enabled(oc *output.Config, s output.Spec) (bool, error) {
	if v := oc.Get("enabled"); v != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, fmt.Errorf("output %s: field enabled: %w", s.Key, err)
		}
		if !b {
			return false, nil
		}
		return true, nil
	}
	return s.Enable != "" && oc.Get(s.Enable) != "", nil
}
