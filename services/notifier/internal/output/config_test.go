package output

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type tlsConf struct {
	CertFile string `yaml:"certfile"`
	KeyFile  string `yaml:"keyfile"`
}

type testConf struct {
	Address       string            `yaml:"address"`
	Token         Secret            `yaml:"token"`
	Timeout       time.Duration     `yaml:"timeout"`
	Retries       int               `yaml:"retries"`
	Insecure      bool              `yaml:"checkcert"`
	Tags          []string          `yaml:"tags"`
	CustomHeaders map[string]string `yaml:"customheaders"`
	MutualTLS     tlsConf           `yaml:"mutualtls"`
}

func (c *testConf) Validate() error {
	if c.Address == "" {
		return Missing("address")
	}
	return nil
}

func TestConfigDecode(t *testing.T) {
	const doc = `
webhook:
  Address: http://127.0.0.1:9/hook
  token: s3cret
  timeout: 5s
  customheaders:
    X-Key: abc
  mutualtls:
    certfile: /a.crt
aws:
  lambda:
    address: http://lambda
`
	tests := []struct {
		name    string
		key     string
		env     map[string]string
		want    testConf
		wantErr string
	}{
		{
			name: "yaml only",
			key:  "webhook",
			want: testConf{Address: "http://127.0.0.1:9/hook", Token: "s3cret", Timeout: 5 * time.Second, Retries: 3,
				CustomHeaders: map[string]string{"X-Key": "abc"}, MutualTLS: tlsConf{CertFile: "/a.crt"}},
		},
		{
			name: "env overrides",
			key:  "webhook",
			env: map[string]string{
				"WEBHOOK_ADDRESS": "http://other", "WEBHOOK_RETRIES": "7", "WEBHOOK_CHECKCERT": "true",
				"WEBHOOK_TAGS": "a, b", "WEBHOOK_CUSTOMHEADERS": "A:1,B:2", "WEBHOOK_MUTUALTLS_KEYFILE": "/k",
			},
			want: testConf{Address: "http://other", Token: "s3cret", Timeout: 5 * time.Second, Retries: 7, Insecure: true,
				Tags: []string{"a", "b"}, CustomHeaders: map[string]string{"A": "1", "B": "2"},
				MutualTLS: tlsConf{CertFile: "/a.crt", KeyFile: "/k"}},
		},
		{
			name: "env only section",
			key:  "slack",
			env:  map[string]string{"SLACK_ADDRESS": "http://s", "SLACK_TIMEOUT": "1m"},
			want: testConf{Address: "http://s", Timeout: time.Minute, Retries: 3},
		},
		{
			name: "dotted key",
			key:  "aws.lambda",
			env:  map[string]string{"AWS_LAMBDA_TOKEN": "t"},
			want: testConf{Address: "http://lambda", Token: "t", Retries: 3},
		},
		{
			name:    "bad env value names the variable",
			key:     "webhook",
			env:     map[string]string{"WEBHOOK_RETRIES": "many"},
			wantErr: "output webhook: env WEBHOOK_RETRIES",
		},
		{
			name:    "validate names the field",
			key:     "absent",
			wantErr: "output absent: field address: missing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(tt.key, "config.yaml", doc, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			got := testConf{Retries: 3}
			err = cfg.Decode(&got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Decode error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigYAMLErrorNamesLine(t *testing.T) {
	cfg, err := ParseConfig("webhook", "config.yaml", "webhook:\n  address: x\n  retries: lots\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	var c testConf
	err = cfg.Decode(&c)
	if err == nil || !strings.Contains(err.Error(), "config.yaml") || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("Decode error = %v, want file and line 3", err)
	}
}

func TestConfigGet(t *testing.T) {
	cfg, err := ParseConfig("slack", "c.yaml", "slack:\n  webhookurl: \"\"\n  channel: '#x'\n", func(k string) string {
		return map[string]string{"SLACK_WEBHOOKURL": "https://hooks"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Get("webhookurl"); got != "https://hooks" {
		t.Errorf("Get(webhookurl) = %q, want env value", got)
	}
	if got := cfg.Get("channel"); got != "#x" {
		t.Errorf("Get(channel) = %q", got)
	}
	if got := cfg.Get("nothing"); got != "" {
		t.Errorf("Get(nothing) = %q", got)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c := testConf{Address: "a", Token: "hunter2"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.Token)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("secret printed: %s", s)
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("secret in JSON: %s", b)
	}
}

func TestRedact(t *testing.T) {
	const hook = Secret("https://hooks.example.com/services/T000/B000/XXXX?token=abc")
	base := fmt.Errorf(`Post "https://hooks.example.com/services/T000/B000/XXXX?token=abc": dial tcp: refused`)
	err := Redact(Permanent(base), hook)
	if strings.Contains(err.Error(), "XXXX") || strings.Contains(err.Error(), "abc") {
		t.Errorf("Redact left the secret: %v", err)
	}
	if !errors.Is(err, ErrPermanent) {
		t.Errorf("Redact lost ErrPermanent")
	}
	if Redact(nil, hook) != nil {
		t.Errorf("Redact(nil) != nil")
	}
}
