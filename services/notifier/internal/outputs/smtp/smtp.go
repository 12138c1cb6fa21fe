// Package smtp mails each alert, as plain text and HTML in one
// multipart/alternative message, like Falcosidekick's smtp output.
//
// The client upgrades with STARTTLS whenever the server offers it
// (tls: true makes that mandatory) and authenticates with PLAIN when a user
// is set; net/smtp sends credentials only over TLS or to localhost. A 5xx
// reply (mailbox unknown, authentication refused) is a permanent failure;
// 4xx and network errors are retried. The Message-ID is derived from the
// alert id, so a retried alert is recognisable as the same mail.
//
// Config (section "smtp", env SMTP_*): hostport (enables it; "host:port"),
// user, password, authmechanism (plain or none; default plain when a user
// is set), tls, checkcert, cacertfile, from, to (comma-separated),
// outputformat (html: text and HTML, the default; text: text only).
package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"sort"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the smtp section.
type Config struct {
	HostPort      string        `yaml:"hostport"`
	User          string        `yaml:"user"`
	Password      output.Secret `yaml:"password"`
	AuthMechanism string        `yaml:"authmechanism"`
	TLS           bool          `yaml:"tls"`
	CheckCert     *bool         `yaml:"checkcert"`
	CACertFile    string        `yaml:"cacertfile"`
	From          string        `yaml:"from"`
	To            []string      `yaml:"to"`
	OutputFormat  string        `yaml:"outputformat"`

	host string
}

// Validate checks the fields and fills the defaults.
func (c *Config) Validate() error {
	if c.HostPort == "" {
		return output.Missing("hostport")
	}
	host, _, err := net.SplitHostPort(c.HostPort)
	if err != nil {
		return output.Invalid("hostport", err)
	}
	c.host = host
	if c.From == "" {
		return output.Missing("from")
	}
	var to []string
	for _, t := range c.To {
		for _, part := range strings.Split(t, ",") {
			if part = strings.TrimSpace(part); part != "" {
				to = append(to, part)
			}
		}
	}
	if len(to) == 0 {
		return output.Missing("to")
	}
	c.To = to
	switch strings.ToLower(c.AuthMechanism) {
	case "":
		c.AuthMechanism = "none"
		if c.User != "" {
			c.AuthMechanism = "plain"
		}
	case "plain", "none":
		c.AuthMechanism = strings.ToLower(c.AuthMechanism)
	default:
		return output.Invalid("authmechanism", fmt.Errorf("%q: want plain or none", c.AuthMechanism))
	}
	if c.AuthMechanism == "plain" && c.User == "" {
		return output.Missing("user")
	}
	switch strings.ToLower(c.OutputFormat) {
	case "", "html":
		c.OutputFormat = "html"
	case "text":
		c.OutputFormat = "text"
	default:
		return output.Invalid("outputformat", fmt.Errorf("%q: want html or text", c.OutputFormat))
	}
	return nil
}

// Spec registers the output.
func Spec() output.Spec { return output.Spec{Key: "smtp", Enable: "hostport", New: New} }

// SMTP is the output. Safe for concurrent use: each Send has its own
// connection.
type SMTP struct {
	cfg      Config
	tls      *tls.Config
	hostname string
}

// New builds the output.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	tc, err := output.TLSFiles{CACertFile: c.CACertFile, CheckCert: c.CheckCert}.Config()
	if err != nil {
		return nil, fmt.Errorf("output smtp: %w", err)
	}
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc.ServerName = c.host
	h := env.Hostname
	if h == "" {
		h = "localhost"
	}
	return &SMTP{cfg: c, tls: tc, hostname: h}, nil
}

// Name returns "smtp".
func (s *SMTP) Name() string { return "smtp" }

// Send mails the alert to every recipient.
func (s *SMTP) Send(ctx context.Context, d output.Delivery) error {
	msg, err := s.Message(d, time.Now())
	if err != nil {
		return output.Permanent(err)
	}
	if err := s.send(ctx, msg); err != nil {
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			err = output.Permanent(err)
		}
		return output.Redact(fmt.Errorf("smtp %s: alert %s: %w", s.cfg.HostPort, d.ID, err), s.cfg.Password)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, msg []byte) error {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", s.cfg.HostPort)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(time.Minute))
	}
	c, err := smtp.NewClient(conn, s.cfg.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(s.hostname); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.tls); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if s.cfg.TLS {
		return errors.New("server does not offer STARTTLS and tls is true")
	}
	if s.cfg.AuthMechanism == "plain" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.User, string(s.cfg.Password), s.cfg.host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, to := range s.cfg.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("rcpt to %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// Close waits for the server's 250: the mail is accepted only then.
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// Message builds the RFC 5322 message for d.
func (s *SMTP) Message(d output.Delivery, now time.Time) ([]byte, error) {
	a := d.Alert
	var b bytes.Buffer
	subject := fmt.Sprintf("[%s] %s", a.Priority, a.Rule)
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", s.cfg.From)
	hdr("To", strings.Join(s.cfg.To, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+messageID(d.ID)+"@peregrine>")
	hdr("X-Falco-Priority", a.Priority.String())
	hdr("MIME-Version", "1.0")
	text := textBody(a, d.Text)
	if s.cfg.OutputFormat == "text" {
		hdr("Content-Type", "text/plain; charset=utf-8")
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		qp := quotedprintable.NewWriter(&b)
		if _, err := qp.Write([]byte(text)); err != nil {
			return nil, err
		}
		return b.Bytes(), qp.Close()
	}
	mw := multipart.NewWriter(&b)
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	var html bytes.Buffer
	if err := htmlBody.Execute(&html, htmlData(a, d.Text)); err != nil {
		return nil, fmt.Errorf("smtp: html body: %w", err)
	}
	for _, part := range []struct{ ctype, body string }{{"text/plain; charset=utf-8", text}, {"text/html; charset=utf-8", html.String()}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// messageID keeps the characters a Message-ID allows.
func messageID(id string) string {
	if id == "" {
		return fmt.Sprintf("%d", time.Now().UnixNano())
	}
	return strings.Map(func(r rune) rune {
		if r > ' ' && r < 127 && !strings.ContainsRune("<>@()[]\\,;:\"", r) {
			return r
		}
		return '_'
	}, id)
}

func sortedFields(a *schema.Alert) [][2]string {
	keys := make([]string, 0, len(a.OutputFields))
	for k := range a.OutputFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = [2]string{k, output.FieldString(a.OutputFields[k])}
	}
	return out
}

func textBody(a *schema.Alert, text string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\r\n\r\nRule: %s\r\nPriority: %s\r\nSource: %s\r\nHostname: %s\r\nTime: %s\r\nTags: %s\r\n\r\n",
		text, a.Rule, a.Priority, a.Source, a.Hostname, a.Time.UTC().Format(schema.AlertTimeLayout), strings.Join(a.Tags, ", "))
	for _, f := range sortedFields(a) {
		fmt.Fprintf(&b, "%s: %s\r\n", f[0], f[1])
	}
	return b.String()
}

type htmlView struct {
	Text, Rule, Priority, Source, Hostname, Time, Tags string
	Fields                                             [][2]string
}

func htmlData(a *schema.Alert, text string) htmlView {
	return htmlView{Text: text, Rule: a.Rule, Priority: a.Priority.String(), Source: a.Source, Hostname: a.Hostname,
		Time: a.Time.UTC().Format(schema.AlertTimeLayout), Tags: strings.Join(a.Tags, ", "), Fields: sortedFields(a)}
}

var htmlBody = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><body>
<p>{{.Text}}</p>
<table border="1" cellpadding="4" cellspacing="0">
<tr><th align="left">Rule</th><td>{{.Rule}}</td></tr>
<tr><th align="left">Priority</th><td>{{.Priority}}</td></tr>
<tr><th align="left">Source</th><td>{{.Source}}</td></tr>
<tr><th align="left">Hostname</th><td>{{.Hostname}}</td></tr>
<tr><th align="left">Time</th><td>{{.Time}}</td></tr>
<tr><th align="left">Tags</th><td>{{.Tags}}</td></tr>
{{range .Fields}}<tr><th align="left">{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>
</body></html>
`))
