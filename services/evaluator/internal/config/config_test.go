package config

import (
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantRules []string
		wantPos   []string
		wantMatch string
	}{
		{"flags only", []string{"-r", "a.yaml", "--rules", "b.yaml"}, []string{"a.yaml", "b.yaml"}, nil, MatchFirst},
		{"positional between flags", []string{"-r", "a.yaml", "b.yaml", "--rule-matching", "all", "c.yaml"},
			[]string{"a.yaml"}, []string{"b.yaml", "c.yaml"}, MatchAll},
		{"double dash", []string{"-r", "a.yaml", "--", "-x.yaml"}, []string{"a.yaml"}, []string{"-x.yaml"}, MatchFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c.RegisterRun(fs)
			pos, err := Parse(fs, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantRules, c.Rules); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPos, pos); diff != "" {
				t.Errorf("positional (-want +got):\n%s", diff)
			}
			if c.RuleMatching != tt.wantMatch {
				t.Errorf("rule matching %q, want %q", c.RuleMatching, tt.wantMatch)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*Config)
		wantStream string
		wantErr    bool
	}{
		{"defaults", func(*Config) {}, "EVENTS_ENRICHED", false},
		{"raw input", func(c *Config) { c.Input = "events.raw.>" }, "EVENTS_RAW", false},
		{"one node", func(c *Config) { c.Input = "events.enriched.node1" }, "EVENTS_ENRICHED", false},
		{"alerts input", func(c *Config) { c.Input = "alerts.>" }, "", true},
		{"bare prefix", func(c *Config) { c.Input = "events.raw" }, "", true},
		{"rule matching", func(c *Config) { c.RuleMatching = "some" }, "", true},
		{"batch", func(c *Config) { c.Batch = 0 }, "", true},
		{"workers", func(c *Config) { c.Workers = 0 }, "", true},
		{"consumer", func(c *Config) { c.Consumer = "a.b" }, "", true},
		{"empty rule file", func(c *Config) { c.Rules = []string{""} }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			err := c.Validate()
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				return
			}
			if s, _ := c.Stream(); s != tt.wantStream {
				t.Errorf("stream %q, want %q", s, tt.wantStream)
			}
		})
	}
}
