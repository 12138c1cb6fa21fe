// Package nats publishes each alert's Falco JSON to a subject on another
// NATS server, like Falcosidekick's nats output.
//
// Subject: subjecttemplate with <priority> replaced by the lower-case
// priority and <rule> by the rule slug (default "falco.<priority>.<rule>",
// e.g. falco.warning.read_sensitive_file_untrusted). The message carries
// the alert id in Nats-Msg-Id. A core NATS publish counts as accepted once
// a flush round trip shows the server has it; with jetstream: true the
// publish waits for the stream's ack, and the stream drops a retried alert
// as a duplicate of the same id.
//
// Config (section "nats", env NATS_*): hostport (enables it; a nats:// URL
// or list), subjecttemplate, jetstream, user, password, token.
package nats

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the nats section.
type Config struct {
	HostPort        string        `yaml:"hostport"`
	SubjectTemplate string        `yaml:"subjecttemplate"`
	JetStream       bool          `yaml:"jetstream"`
	User            string        `yaml:"user"`
	Password        output.Secret `yaml:"password"`
	Token           output.Secret `yaml:"token"`
}

// Validate checks the fields and fills the defaults.
func (c *Config) Validate() error {
	if c.HostPort == "" {
		return output.Missing("hostport")
	}
	if c.SubjectTemplate == "" {
		c.SubjectTemplate = "falco.<priority>.<rule>"
	}
	bare := strings.NewReplacer("<priority>", "p", "<rule>", "r").Replace(c.SubjectTemplate)
	if strings.ContainsAny(bare, " \t*>") {
		return output.Invalid("subjecttemplate", fmt.Errorf("%q: no spaces or wildcards in a publish subject", c.SubjectTemplate))
	}
	return nil
}

// Spec registers the output.
func Spec() output.Spec { return output.Spec{Key: "nats", Enable: "hostport", New: New} }

// NATS is the output. Safe for concurrent use.
type NATS struct {
	cfg Config
	mu  sync.Mutex
	nc  *natsgo.Conn
	js  jetstream.JetStream
}

// New builds the output; it connects on the first alert.
func New(cfg *output.Config, _ output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &NATS{cfg: c}, nil
}

// Name returns "nats".
func (n *NATS) Name() string { return "nats" }

// Subject is the subject a is published on.
func (n *NATS) Subject(a *schema.Alert) string {
	s := strings.ReplaceAll(n.cfg.SubjectTemplate, "<priority>", strings.ToLower(a.Priority.String()))
	return strings.ReplaceAll(s, "<rule>", schema.RuleSlug(a.Rule))
}

func (n *NATS) secrets() []output.Secret { return []output.Secret{n.cfg.Password, n.cfg.Token} }

// conn returns the connection, dialing it the first time. Once made it
// reconnects by itself forever.
func (n *NATS) conn() (*natsgo.Conn, jetstream.JetStream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil {
		return n.nc, n.js, nil
	}
	opts := []natsgo.Option{natsgo.Name("peregrine-notifier"), natsgo.MaxReconnects(-1)}
	if n.cfg.User != "" {
		opts = append(opts, natsgo.UserInfo(n.cfg.User, string(n.cfg.Password)))
	}
	if n.cfg.Token != "" {
		opts = append(opts, natsgo.Token(string(n.cfg.Token)))
	}
	nc, err := natsgo.Connect(n.cfg.HostPort, opts...)
	if err != nil {
		return nil, nil, output.Redact(fmt.Errorf("nats: connect %s: %w", n.cfg.HostPort, err), n.secrets()...)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	n.nc, n.js = nc, js
	return nc, js, nil
}

// Send publishes the alert.
func (n *NATS) Send(ctx context.Context, d output.Delivery) error {
	body, err := d.Alert.MarshalJSON()
	if err != nil {
		return output.Permanent(fmt.Errorf("nats: encode alert %s: %w", d.ID, err))
	}
	nc, js, err := n.conn()
	if err != nil {
		return err
	}
	m := &natsgo.Msg{Subject: n.Subject(d.Alert), Data: body, Header: natsgo.Header{}}
	if d.ID != "" {
		m.Header.Set(schema.HeaderMsgID, d.ID)
	}
	if n.cfg.JetStream {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			return output.Redact(fmt.Errorf("nats: publish %s: %w", m.Subject, err), n.secrets()...)
		}
		return nil
	}
	if err := nc.PublishMsg(m); err != nil {
		return fmt.Errorf("nats: publish %s: %w", m.Subject, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		// FlushWithContext needs a deadline; the core always gives one.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("nats: flush %s: %w", m.Subject, err)
	}
	return nil
}

// Close closes the connection.
func (n *NATS) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil {
		n.nc.Close()
		n.nc = nil
	}
	return nil
}
