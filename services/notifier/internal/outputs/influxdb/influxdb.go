// Package influxdb writes alerts to InfluxDB as line protocol, one point
// per alert in measurement "events" tagged with rule, priority, source, the
// output fields, hostname and tags, as Falcosidekick does. With a token it
// uses the v2 write API (/api/v2/write, "Authorization: Token ..."),
// otherwise the v1 API (/write?db=...) with basic auth when a user is set.
package influxdb

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the "influxdb" section, with Falcosidekick's keys. checkcert,
// certfile, keyfile and cacertfile set TLS; mutualtls takes the client
// certificate from the global mutualtlsclient section.
type Config struct {
	HostPort        string        `yaml:"hostport"`
	Database        string        `yaml:"database"`
	Organization    string        `yaml:"organization"`
	Bucket          string        `yaml:"bucket"`
	User            string        `yaml:"user"`
	Password        output.Secret `yaml:"password"`
	Token           output.Secret `yaml:"token"`
	MutualTLS       bool          `yaml:"mutualtls"`
	output.TLSFiles `yaml:",inline"`
}

// Validate checks the host URL and that v1 credentials come in pairs.
func (c *Config) Validate() error {
	if c.HostPort == "" {
		return output.Missing("hostport")
	}
	u, err := url.Parse(c.HostPort)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return output.Invalid("hostport", fmt.Errorf("%q is not an http or https URL", c.HostPort))
	}
	switch {
	case c.Token != "" && c.Bucket == "":
		return output.Missing("bucket")
	case c.Token == "" && c.Database == "":
		return output.Missing("database")
	case c.Token == "" && c.User != "" && c.Password == "":
		return output.Missing("password")
	}
	return nil
}

// tagEscaper escapes what line protocol gives a meaning to in tag keys and
// values; spaces become '_' as in Falcosidekick, so queries written for it
// keep matching ("rule=Terminal_shell_in_container").
var tagEscaper = strings.NewReplacer(",", `\,`, "=", `\=`, " ", "_", "\n", "_", "\r", "_", `\`, `\\`)

// fieldEscaper escapes a string field value; newlines end a line.
var fieldEscaper = strings.NewReplacer(`"`, `\"`, `\`, `\\`, "\n", " ", "\r", " ")

// Line renders the alert as one line of line protocol with a nanosecond
// timestamp: the same alert written twice is the same point, so a retry
// does not count twice. Null and empty values are left out, since line
// protocol has no empty tag value.
func Line(a *schema.Alert, text string) string {
	var b strings.Builder
	b.WriteString("events")
	tag := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteByte(',')
		b.WriteString(tagEscaper.Replace(k))
		b.WriteByte('=')
		b.WriteString(tagEscaper.Replace(v))
	}
	tag("rule", a.Rule)
	tag("priority", a.Priority.String())
	tag("source", a.Source)
	keys := make([]string, 0, len(a.OutputFields))
	for k, v := range a.OutputFields {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		tag(k, output.FieldString(a.OutputFields[k]))
	}
	tag("hostname", a.Hostname)
	tag("tags", strings.Join(a.Tags, "_"))
	b.WriteString(` value="`)
	b.WriteString(fieldEscaper.Replace(text))
	b.WriteString(`" `)
	b.WriteString(strconv.FormatInt(a.Time.UnixNano(), 10))
	return b.String()
}

// Spec is the influxdb output kind.
func Spec() output.Spec {
	return output.Spec{Key: "influxdb", Enable: "hostport", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{Database: "falco", Bucket: "falco"}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	q := url.Values{"precision": {"ns"}}
	path := "/write"
	if c.Token != "" {
		path = "/api/v2/write"
		q.Set("bucket", c.Bucket)
		if c.Organization != "" {
			q.Set("org", c.Organization)
		}
	} else {
		q.Set("db", c.Database)
	}
	client, err := output.ClientWithMutualTLS(cfg, env, c.TLSFiles, c.MutualTLS)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", cfg.Key(), err)
	}
	return &Output{cfg: c, url: strings.TrimSuffix(c.HostPort, "/") + path + "?" + q.Encode(), client: client}, nil
}

// Output writes to one InfluxDB. It is safe for concurrent use.
type Output struct {
	cfg    Config
	url    string
	client *http.Client
}

// Name returns "influxdb".
func (o *Output) Name() string { return "influxdb" }

// Send writes the point. InfluxDB answers 204; 400 (bad line), 401, 404
// (no such database or bucket) are permanent.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, strings.NewReader(Line(d.Alert, d.Text)))
	if err != nil {
		return output.Permanent(fmt.Errorf("influxdb: %w", err))
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	switch {
	case o.cfg.Token != "":
		req.Header.Set("Authorization", "Token "+string(o.cfg.Token))
	case o.cfg.User != "":
		req.SetBasicAuth(o.cfg.User, string(o.cfg.Password))
	}
	return output.Do(o.client, req, o.cfg.Token, o.cfg.Password)
}
