// Package syslog sends each alert as an RFC 5424 syslog message over UDP,
// TCP or a unix datagram socket, like Falcosidekick's syslog output.
//
// Message: "<PRI>1 TIMESTAMP HOSTNAME falco - ALERT_ID [falco@32473 rule=...
// priority=... source=...] MSG" where PRI is facility*8 + severity, the
// severity being the Falco priority (the two scales coincide: Emergency 0 ...
// Debug 7), TIMESTAMP the alert's time in RFC 3339 with microseconds,
// MSGID the alert id (32 characters at most), and MSG the alert's Falco JSON
// (format json, the default) or its text (format text). Over TCP messages
// are framed by octet counting (RFC 6587 section 3.4.1).
//
// Config (section "syslog", env SYSLOG_*): host (enables it; for
// protocol unix the socket path), port (default 514), protocol (udp, tcp or
// unix; default udp), facility (default local0), format.
package syslog

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the syslog section.
type Config struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Protocol string `yaml:"protocol"`
	Facility string `yaml:"facility"`
	Format   string `yaml:"format"`

	facility int
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Validate checks the fields and fills the defaults.
func (c *Config) Validate() error {
	if c.Host == "" {
		return output.Missing("host")
	}
	c.Protocol = strings.ToLower(c.Protocol)
	switch c.Protocol {
	case "":
		c.Protocol = "udp"
	case "udp", "tcp", "unix":
	default:
		return output.Invalid("protocol", fmt.Errorf("%q: want udp, tcp or unix", c.Protocol))
	}
	if c.Port == 0 {
		c.Port = 514
	}
	if c.Port < 0 || c.Port > 65535 {
		return output.Invalid("port", fmt.Errorf("%d out of range", c.Port))
	}
	if c.Facility == "" {
		c.Facility = "local0"
	}
	f, ok := facilities[strings.ToLower(c.Facility)]
	if !ok {
		return output.Invalid("facility", fmt.Errorf("%q: unknown", c.Facility))
	}
	c.facility = f
	switch strings.ToLower(c.Format) {
	case "", "json":
		c.Format = "json"
	case "text":
		c.Format = "text"
	default:
		return output.Invalid("format", fmt.Errorf("%q: want json or text", c.Format))
	}
	return nil
}

// Spec registers the output.
func Spec() output.Spec { return output.Spec{Key: "syslog", Enable: "host", New: New} }

// Syslog is the output. Safe for concurrent use: one connection, messages
// written whole under a lock.
type Syslog struct {
	cfg      Config
	hostname string
	mu       sync.Mutex
	conn     net.Conn
}

// New builds the output; it connects on the first alert.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	h := env.Hostname
	if h == "" {
		h = "-"
	}
	return &Syslog{cfg: c, hostname: h}, nil
}

// Name returns "syslog".
func (s *Syslog) Name() string { return "syslog" }

func (s *Syslog) addr() (network, address string) {
	switch s.cfg.Protocol {
	case "unix":
		return "unixgram", s.cfg.Host
	default:
		return s.cfg.Protocol, net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	}
}

// Send writes one message. A write error drops the connection so the next
// attempt dials again.
func (s *Syslog) Send(ctx context.Context, d output.Delivery) error {
	msg, err := s.format(d)
	if err != nil {
		return output.Permanent(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	network, address := s.addr()
	if s.conn == nil {
		var dialer net.Dialer
		c, err := dialer.DialContext(ctx, network, address)
		if err != nil {
			return fmt.Errorf("syslog: %w", err)
		}
		s.conn = c
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.conn.SetWriteDeadline(dl)
	} else {
		_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	}
	frame := msg
	if s.cfg.Protocol == "tcp" {
		frame = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	}
	if _, err := s.conn.Write(frame); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog %s %s: %w", network, address, err)
	}
	return nil
}

// format builds the RFC 5424 message.
func (s *Syslog) format(d output.Delivery) ([]byte, error) {
	a := d.Alert
	pri := s.cfg.facility*8 + int(a.Priority)
	ts := "-"
	if !a.Time.IsZero() {
		ts = a.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	}
	msgid := printable(d.ID, 32)
	var body []byte
	if s.cfg.Format == "json" {
		b, err := a.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("syslog: encode alert %s: %w", d.ID, err)
		}
		body = b
	} else {
		body = []byte(d.Text)
	}
	sd := fmt.Sprintf(`[falco@32473 rule="%s" priority="%s" source="%s"]`, sdEscape(a.Rule), a.Priority, sdEscape(a.Source))
	head := fmt.Sprintf("<%d>1 %s %s falco - %s %s ", pri, ts, printable(s.hostname, 255), msgid, sd)
	return append([]byte(head), body...), nil
}

// printable keeps the printable US-ASCII RFC 5424 allows in header fields,
// at most n of them, "-" when none.
func printable(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if s[i] >= 33 && s[i] <= 126 {
			b.WriteByte(s[i])
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// sdEscape escapes a structured-data parameter value (RFC 5424 6.3.3).
func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

// Close closes the connection.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
