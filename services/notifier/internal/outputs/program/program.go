// Package program runs a command for each alert with the alert's Falco JSON
// on its standard input, like Falco's program_output.
//
// Config (section "program", env PROGRAM_*): commandline (enables it; run
// with /bin/sh -c, so pipes work: "jq -c . >> /var/log/alerts") and shell.
// One process runs per alert, so a failing command fails just that alert,
// which is retried. The command's exit status 0 means accepted;
// anything else is an error quoting the first bytes of its stderr. The
// alert id is in the environment as PEREGRINE_ALERT_ID.
package program

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the program section.
type Config struct {
	CommandLine output.Secret `yaml:"commandline"` // may hold a token
	Shell       string        `yaml:"shell"`       // default /bin/sh
}

// Validate checks the command is set.
func (c *Config) Validate() error {
	if c.CommandLine == "" {
		return output.Missing("commandline")
	}
	if c.Shell == "" {
		c.Shell = "/bin/sh"
	}
	return nil
}

// Spec registers the output.
func Spec() output.Spec { return output.Spec{Key: "program", Enable: "commandline", New: New} }

// Program is the output. Safe for concurrent use: each Send runs its own
// process.
type Program struct{ cfg Config }

// New builds the output.
func New(cfg *output.Config, _ output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &Program{cfg: c}, nil
}

// Name returns "program".
func (p *Program) Name() string { return "program" }

// maxStderr bounds the stderr quoted in errors.
const maxStderr = 512

// Send runs the command; ctx's deadline kills it.
func (p *Program) Send(ctx context.Context, d output.Delivery) error {
	body, err := d.Alert.MarshalJSON()
	if err != nil {
		return output.Permanent(fmt.Errorf("program: encode alert %s: %w", d.ID, err))
	}
	cmd := exec.CommandContext(ctx, p.cfg.Shell, "-c", string(p.cfg.CommandLine))
	cmd.Stdin = bytes.NewReader(append(body, '\n'))
	cmd.Env = append(os.Environ(), "PEREGRINE_ALERT_ID="+d.ID)
	var stderr bytes.Buffer
	cmd.Stderr = &limited{w: &stderr, n: maxStderr}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return output.Redact(fmt.Errorf("program: alert %s: %w", d.ID, err), p.cfg.CommandLine)
	}
	return nil
}

// limited keeps the first n bytes written and discards the rest.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
