// Package elasticsearch indexes alerts in Elasticsearch, into an index named
// by a pattern with the alert's date, as Falcosidekick does
// ("falco-2026.12.01" for suffix daily). The document is the alert's Falco
// JSON. When the delivery has an id the document is created under it
// (op_type=create), so a retried or replayed alert is indexed once.
//
// By default each alert is one request to the index API. With
// batching.enabled, alerts go through the _bulk API (see bulk.go): alerts
// sent at once share one request, and each alert's delivery succeeds or
// fails by its own item in the answer.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Index suffixes: the alert date appended to the index name.
const (
	SuffixDaily    = "daily"    // falco-2026.12.01
	SuffixMonthly  = "monthly"  // falco-2026.12
	SuffixAnnually = "annually" // falco-2026
	SuffixNone     = "none"     // falco
)

// Config is the "elasticsearch" section, with Falcosidekick's keys. checkcert,
// certfile, keyfile and cacertfile set TLS; mutualtls takes the client
// certificate from the global mutualtlsclient section.
// Username/password give basic auth; apikey (the base64 "id:key" form that
// Elasticsearch returns as "encoded") gives "Authorization: ApiKey".
type Config struct {
	HostPort        string            `yaml:"hostport"`
	Index           string            `yaml:"index"`
	Type            string            `yaml:"type"`
	Suffix          string            `yaml:"suffix"`
	Username        string            `yaml:"username"`
	Password        output.Secret     `yaml:"password"`
	APIKey          output.Secret     `yaml:"apikey"`
	CustomHeaders   map[string]string `yaml:"customheaders"`
	MutualTLS       bool              `yaml:"mutualtls"`
	output.TLSFiles `yaml:",inline"`
	// Pipeline is the ingest pipeline the documents go through; "" for none.
	Pipeline string `yaml:"pipeline"`
	// EnableCompression gzips bulk request bodies.
	EnableCompression bool     `yaml:"enablecompression"`
	Batching          Batching `yaml:"batching"`
}

// Batching is the "elasticsearch.batching" section, with Falcosidekick's
// keys: when enabled, alerts go through the _bulk API, and a request is
// sent when its body reaches BatchSize bytes, when as many alerts wait as
// the output's inflight setting lets the core send at once, or
// FlushInterval after the first alert waiting, whichever comes first.
type Batching struct {
	Enabled       bool          `yaml:"enabled"`
	BatchSize     int           `yaml:"batchsize"`
	FlushInterval time.Duration `yaml:"flushinterval"`
}

// Validate checks the host URL, index, type and suffix.
func (c *Config) Validate() error {
	if c.HostPort == "" {
		return output.Missing("hostport")
	}
	u, err := url.Parse(c.HostPort)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return output.Invalid("hostport", fmt.Errorf("%q is not an http or https URL", c.HostPort))
	}
	// Elasticsearch index names are lower case and cannot hold these.
	if c.Index == "" || c.Index != strings.ToLower(c.Index) || strings.ContainsAny(c.Index, `\/*?"<>| ,#:`) {
		return output.Invalid("index", fmt.Errorf("%q is not a valid index name", c.Index))
	}
	if c.Type == "" || strings.Contains(c.Type, "/") {
		return output.Invalid("type", fmt.Errorf("%q is not a valid type", c.Type))
	}
	switch c.Suffix {
	case SuffixDaily, SuffixMonthly, SuffixAnnually, SuffixNone:
	default:
		return output.Invalid("suffix", fmt.Errorf("%q is not daily, monthly, annually or none", c.Suffix))
	}
	if c.Username != "" && c.APIKey != "" {
		return output.Invalid("apikey", fmt.Errorf("set either username/password or apikey"))
	}
	if strings.ContainsAny(c.Pipeline, "/?&# ") {
		return output.Invalid("pipeline", fmt.Errorf("%q is not a valid pipeline name", c.Pipeline))
	}
	if c.Batching.BatchSize < 1 {
		return output.Invalid("batching.batchsize", fmt.Errorf("%d: want at least 1 byte", c.Batching.BatchSize))
	}
	if c.Batching.FlushInterval <= 0 {
		return output.Invalid("batching.flushinterval", fmt.Errorf("%s: want more than 0", c.Batching.FlushInterval))
	}
	return nil
}

// IndexName is the index for an alert at t: the configured name with the
// date suffix, in UTC. The alert's own time is used rather than the clock,
// so a retry lands in the same index as the first try.
func IndexName(index, suffix string, t time.Time) string {
	t = t.UTC()
	switch suffix {
	case SuffixNone:
		return index
	case SuffixMonthly:
		return index + "-" + t.Format("2006.01")
	case SuffixAnnually:
		return index + "-" + t.Format("2006")
	}
	return index + "-" + t.Format("2006.01.02")
}

// Spec is the elasticsearch output kind.
func Spec() output.Spec {
	return output.Spec{Key: "elasticsearch", Enable: "hostport", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{Index: "falco", Type: "_doc", Suffix: SuffixDaily,
		Batching: Batching{BatchSize: DefaultBatchSize, FlushInterval: DefaultFlushInterval}}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	client, err := output.ClientWithMutualTLS(cfg, env, c.TLSFiles, c.MutualTLS)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", cfg.Key(), err)
	}
	o := &Output{cfg: c, base: strings.TrimSuffix(c.HostPort, "/"), client: client}
	if c.Batching.Enabled {
		// The core's own setting: how many Sends can wait at once.
		core := struct {
			InFlight int `yaml:"inflight"`
		}{InFlight: 1}
		if err := cfg.Decode(&core); err != nil {
			return nil, err
		}
		if o.bulk, err = newBulk(c, client, max(core.InFlight, 1)); err != nil {
			return nil, fmt.Errorf("output %s: %w", cfg.Key(), err)
		}
	}
	return o, nil
}

// Output indexes into one cluster. It is safe for concurrent use.
type Output struct {
	cfg    Config
	base   string
	client *http.Client
	bulk   *bulk // nil without batching
}

// Name returns "elasticsearch".
func (o *Output) Name() string { return "elasticsearch" }

// Send indexes the alert. Elasticsearch answers 201 Created; 409 for an
// id already indexed means an earlier try got through, so it is success.
// 400 (mapping conflict) and 401/403 are permanent.
//
// With batching, Send waits for the bulk request that carries the alert
// and returns its item's result (see bulk.go).
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	if o.bulk != nil {
		return o.bulk.send(ctx, d)
	}
	body, err := json.Marshal(d.Alert)
	if err != nil {
		return output.Permanent(fmt.Errorf("elasticsearch: encode alert: %w", err))
	}
	index := IndexName(o.cfg.Index, o.cfg.Suffix, d.Alert.Time)
	method, u := http.MethodPost, o.base+"/"+index+"/"+o.cfg.Type
	if d.ID != "" {
		method, u = http.MethodPut, u+"/"+url.PathEscape(d.ID)+"?op_type=create"
	}
	if o.cfg.Pipeline != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "pipeline=" + url.QueryEscape(o.cfg.Pipeline)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return output.Permanent(fmt.Errorf("elasticsearch: index %s: %w", index, err))
	}
	for k, v := range o.cfg.CustomHeaders {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case o.cfg.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+string(o.cfg.APIKey))
	case o.cfg.Username != "":
		req.SetBasicAuth(o.cfg.Username, string(o.cfg.Password))
	}
	err = output.Do(o.client, req, o.cfg.Password, o.cfg.APIKey)
	if se, ok := output.AsStatus(err); ok && se.Code == http.StatusConflict && d.ID != "" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("elasticsearch: index %s: %w", index, err)
	}
	return nil
}
