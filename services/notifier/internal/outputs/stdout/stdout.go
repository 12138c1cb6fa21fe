// Package stdout prints alerts on the notifier's standard output, as Falco
// prints them: one text line "HH:MM:SS.nnnnnnnnn: Priority output" per
// alert, or Falco's JSON with format: json.
//
// Config (section "stdout", env STDOUT_*): enabled, format (text or json).
// The notifier turns it on by itself when no other output is configured
// (flag --stdout, default true).
package stdout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the stdout section.
type Config struct {
	Enabled bool   `yaml:"enabled"`
	Format  string `yaml:"format"`
}

// Validate checks the format.
func (c *Config) Validate() error {
	switch strings.ToLower(c.Format) {
	case "", "text":
		c.Format = "text"
	case "json":
		c.Format = "json"
	default:
		return output.Invalid("format", fmt.Errorf("%q: want text or json", c.Format))
	}
	return nil
}

// Spec registers the output; it is on with enabled: true.
func Spec() output.Spec { return output.Spec{Key: "stdout", New: New} }

// Stdout is the output. Safe for concurrent use: lines never interleave.
type Stdout struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	buf  bytes.Buffer
}

// New builds the output.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	w := env.Stdout
	if w == nil {
		w = os.Stdout
	}
	return &Stdout{w: w, json: c.Format == "json"}, nil
}

// Name returns "stdout".
func (s *Stdout) Name() string { return "stdout" }

// Send writes one line. With a message template the line is the rendered
// text.
func (s *Stdout) Send(_ context.Context, d output.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Reset()
	if s.json {
		b, err := d.Alert.MarshalJSON()
		if err != nil {
			return output.Permanent(fmt.Errorf("stdout: encode alert %s: %w", d.ID, err))
		}
		s.buf.Write(b)
	} else {
		s.buf.WriteString(TextLine(d.Alert, d.Text))
	}
	s.buf.WriteByte('\n')
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	return nil
}

// TimeLayout is Falco's text time stamp.
const TimeLayout = "15:04:05.000000000"

// TextLine is Falco's text line for a: "HH:MM:SS.nnnnnnnnn: Priority text"
// in local time. Falco's JSON output already starts with that prefix; when
// text has it, text is returned as it is.
func TextLine(a *schema.Alert, text string) string {
	if text == "" {
		text = a.Output
	}
	if looksPrefixed(text) {
		return text
	}
	t := a.Time
	if t.IsZero() {
		t = time.Now()
	}
	return t.Local().Format(TimeLayout) + ": " + a.Priority.String() + " " + text
}

// looksPrefixed reports whether s starts "HH:MM:SS.nnnnnnnnn: ".
func looksPrefixed(s string) bool {
	if len(s) < len(TimeLayout)+2 || s[len(TimeLayout)] != ':' || s[len(TimeLayout)+1] != ' ' {
		return false
	}
	_, err := time.Parse(TimeLayout, s[:len(TimeLayout)])
	return err == nil
}
