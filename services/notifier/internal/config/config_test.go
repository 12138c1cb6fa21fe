package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func keys(c *Config) []string {
	var k []string
	for _, o := range c.Outputs {
		k = append(k, o.Spec.Key)
	}
	return k
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name       string
		yaml       string
		env        map[string]string
		stdout     bool
		wantKeys   []string
		wantListen string
		wantFields map[string]string
	}{
		{
			name: "defaults give stdout", stdout: true,
			wantKeys: []string{"stdout"}, wantListen: "0.0.0.0:2801",
		},
		{
			name: "no default stdout", stdout: false, wantListen: "0.0.0.0:2801",
		},
		{
			name:     "webhook from file replaces stdout",
			yaml:     "listenport: 2802\nwebhook:\n  address: http://127.0.0.1:1/x\n  minimumpriority: error\ncustomfields:\n  env: prod\n",
			stdout:   true,
			wantKeys: []string{"webhook"}, wantListen: "0.0.0.0:2802",
			wantFields: map[string]string{"env": "prod"},
		},
		{
			name:     "env enables and overrides",
			env:      map[string]string{"WEBHOOK_ADDRESS": "http://127.0.0.1:1/x", "LISTENADDRESS": "127.0.0.1", "CUSTOMFIELDS": "a:1,b:2", "STDOUT_ENABLED": "true"},
			stdout:   true,
			wantKeys: []string{"stdout", "webhook"}, wantListen: "127.0.0.1:2801",
			wantFields: map[string]string{"a": "1", "b": "2"},
		},
		{
			name:   "stdout off explicitly",
			yaml:   "stdout:\n  enabled: false\n",
			stdout: true, wantListen: "0.0.0.0:2801",
		},
		{
			name:     "enabled false wins",
			yaml:     "webhook:\n  enabled: false\n  address: http://x\n",
			stdout:   true,
			wantKeys: []string{"stdout"}, wantListen: "0.0.0.0:2801",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = write(t, tt.yaml)
			}
			c, err := Load(path, func(k string) string { return tt.env[k] }, outputs.Specs(), tt.stdout)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantKeys, keys(c)); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
			if got := c.Listen(); got != tt.wantListen {
				t.Errorf("Listen = %q, want %q", got, tt.wantListen)
			}
			if diff := cmp.Diff(tt.wantFields, c.CustomFields); diff != "" {
				t.Errorf("customfields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"bad yaml", "webhook: [", "config.yaml"},
		{"bad option", "webhook:\n  address: http://x\n  minimumpriority: loud\n", "output webhook: field minimumpriority"},
		{"bad type", "listenport: many\n", "line 1"},
		{"bad enabled", "stdout:\n  enabled: maybe\n", "output stdout: field enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, tt.yaml), func(string) string { return "" }, outputs.Specs(), true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../config.example.yaml", func(string) string { return "" }, outputs.Specs(), true)
	if err != nil {
		t.Fatal(err)
	}
	// Every output in the example is off until its key is filled in.
	if len(c.Outputs) != 0 {
		t.Errorf("outputs %v, want none", keys(c))
	}
	if c.CustomFields["environment"] != "production" || c.GRPC.BufSize != 1000 {
		t.Errorf("config %+v", c)
	}
	c, err = Load("../../config.example.yaml", func(k string) string {
		return map[string]string{"WEBHOOK_ADDRESS": "http://127.0.0.1:1/x"}[k]
	}, outputs.Specs(), true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"webhook"}, keys(c)); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}
