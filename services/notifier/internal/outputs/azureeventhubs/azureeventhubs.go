// Package azureeventhubs sends alerts to an Azure Event Hub through its
// REST API (POST https://<namespace>.servicebus.windows.net/<hub>/messages),
// authorised by a Shared Access Signature computed from a SAS key, or by
// an Azure AD bearer token for an app registration (client credentials,
// see package azuread), as Falcosidekick authenticates. The event body is
// the alert's Falco JSON, as Falcosidekick sends it.
//
// Falcosidekick reads the same section (azure.eventhub: name, namespace)
// and takes the app's credentials from AZURE_TENANT_ID, AZURE_CLIENT_ID
// and AZURE_CLIENT_SECRET; those work here too, as do the azure section's
// tenantid, clientid, clientsecret and authorityhost. A SAS key, when
// set, is used instead.
package azureeventhubs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/azuread"
)

// Scope is the Azure AD scope of Event Hubs' data plane.
const Scope = "https://eventhubs.azure.net/.default"

// tokenTTL is how long each signature is valid. A fresh one is made for
// every send, so it only needs to outlive one request and clock skew.
const tokenTTL = time.Hour

// Config is the "azure.eventhub" section.
type Config struct {
	Name                string        `yaml:"name"`      // the event hub
	Namespace           string        `yaml:"namespace"` // "ns" or "ns.servicebus.windows.net"
	SharedAccessKeyName string        `yaml:"sharedaccesskeyname"`
	SharedAccessKey     output.Secret `yaml:"sharedaccesskey"`
	// ConnectionString is the portal's "Endpoint=sb://...;
	// SharedAccessKeyName=...;SharedAccessKey=...[;EntityPath=hub]"; it
	// fills the fields above that are empty.
	ConnectionString output.Secret `yaml:"connectionstring"`
}

// Validate fills the fields from the connection string and checks that
// the hub and namespace are known, and the key name when a key is set.
// Whether a key or Azure AD credentials authenticate is checked by [New].
func (c *Config) Validate() error {
	if c.ConnectionString != "" {
		if err := c.fromConnectionString(string(c.ConnectionString)); err != nil {
			return output.Invalid("connectionstring", err)
		}
	}
	switch {
	case c.Name == "":
		return output.Missing("name")
	case c.Namespace == "":
		return output.Missing("namespace")
	case c.SharedAccessKey != "" && c.SharedAccessKeyName == "":
		return output.Missing("sharedaccesskeyname")
	case c.SharedAccessKeyName != "" && c.SharedAccessKey == "":
		return output.Missing("sharedaccesskey")
	case strings.ContainsAny(c.Name, "/?#"):
		return output.Invalid("name", fmt.Errorf("%q is not an event hub name", c.Name))
	case strings.ContainsAny(c.Namespace, "/?#:"):
		return output.Invalid("namespace", fmt.Errorf("%q is not a host name", c.Namespace))
	}
	if !strings.Contains(c.Namespace, ".") {
		c.Namespace += ".servicebus.windows.net"
	}
	return nil
}

// fromConnectionString parses s without quoting it in errors: it holds
// the key.
func (c *Config) fromConnectionString(s string) error {
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if part != "" {
				return fmt.Errorf("want key=value parts separated by ';'")
			}
			continue
		}
		switch strings.ToLower(k) {
		case "endpoint":
			u, err := url.Parse(v)
			if err != nil || u.Host == "" {
				return fmt.Errorf("endpoint is not a URL")
			}
			if c.Namespace == "" {
				c.Namespace = u.Host
			}
		case "sharedaccesskeyname":
			if c.SharedAccessKeyName == "" {
				c.SharedAccessKeyName = v
			}
		case "sharedaccesskey":
			if c.SharedAccessKey == "" {
				// Base64 keys end in '=', which Cut leaves in v.
				c.SharedAccessKey = output.Secret(v)
			}
		case "entitypath":
			if c.Name == "" {
				c.Name = v
			}
		}
	}
	return nil
}

// SASToken returns the Authorization value for resource (the hub's https
// URI) signed with key under keyName, valid until expiry:
// "SharedAccessSignature sr=<uri>&sig=<sig>&se=<expiry>&skn=<keyName>",
// where sig is the base64 HMAC-SHA256, keyed by the key's bytes, of the
// URL-encoded URI, a newline and the expiry in Unix seconds.
func SASToken(resource, keyName string, key output.Secret, expiry time.Time) string {
	sr := url.QueryEscape(resource)
	se := strconv.FormatInt(expiry.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(sr + "\n" + se))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(sig) + "&se=" + se + "&skn=" + url.QueryEscape(keyName)
}

// Spec is the Azure Event Hubs output kind.
func Spec() output.Spec {
	return output.Spec{Key: "azure.eventhub", Enable: "name", New: New}
}

// New builds the output from its config section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	o := &Output{
		cfg: c, resource: "https://" + c.Namespace + "/" + c.Name, endpoint: "https://" + c.Namespace,
		client: env.HTTPClient, now: time.Now,
	}
	if c.SharedAccessKey != "" {
		return o, nil
	}
	creds, set, err := azuread.Load(cfg, env.Getenv)
	if err != nil {
		return nil, err
	}
	if !set {
		return nil, fmt.Errorf("output %s: %w (or Azure AD tenantid, clientid and clientsecret)", cfg.Key(), output.Missing("sharedaccesskey"))
	}
	o.ad = azuread.NewTokenSource(creds, Scope, env.HTTPClient, func() time.Time { return o.now() })
	return o, nil
}

// Output sends to one event hub. It is safe for concurrent use.
type Output struct {
	cfg      Config
	resource string // the URI the signature covers
	endpoint string // where requests go; tests point it at a local server
	client   *http.Client
	now      func() time.Time
	ad       *azuread.TokenSource // nil with a SAS key
}

// Name returns "azureeventhubs".
func (o *Output) Name() string { return "azureeventhubs" }

// Send posts the event. Event Hubs answers 201 Created; 401 (bad
// signature or token) and 403 (quota, size, no role) are permanent, 503
// (server busy) is retried. With Azure AD, the token comes from the cache
// or one token request first.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	body, err := json.Marshal(d.Alert)
	if err != nil {
		return output.Permanent(fmt.Errorf("event hub %s: encode alert: %w", o.cfg.Name, err))
	}
	u := o.endpoint + "/" + url.PathEscape(o.cfg.Name) + "/messages?timeout=60&api-version=2014-01"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return output.Permanent(fmt.Errorf("event hub %s: %w", o.cfg.Name, err))
	}
	req.Header.Set("Content-Type", "application/atom+xml;type=entry;charset=utf-8")
	var token string
	if o.ad != nil {
		bearer, err := o.ad.Token(ctx)
		if err != nil {
			return fmt.Errorf("event hub %s: %w", o.cfg.Name, err)
		}
		token = "Bearer " + bearer
	} else {
		token = SASToken(o.resource, o.cfg.SharedAccessKeyName, o.cfg.SharedAccessKey, o.now().Add(tokenTTL))
	}
	req.Header.Set("Authorization", token)
	if err := output.Do(o.client, req, o.cfg.SharedAccessKey, output.Secret(token)); err != nil {
		return fmt.Errorf("event hub %s: %w", o.cfg.Name, err)
	}
	return nil
}
