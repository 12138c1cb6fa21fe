// Package azuread gets Azure AD (Microsoft Entra ID) access tokens with the
// OAuth 2.0 client credentials flow, for outputs that authenticate to Azure
// services as an app registration: POST
// {authorityhost}/{tenant}/oauth2/v2.0/token with the client id, secret and
// the resource's ".default" scope. Tokens are kept until shortly before they
// expire.
//
// It speaks the one documented request itself: for a client secret the
// flow is a single form POST, and azidentity (served, v1.15.0) was not
// adopted because its MSAL client also resolves the authority through
// discovery documents a local test authority would have to serve too;
// switching is possible without changing the config keys.
package azuread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// DefaultAuthorityHost is Azure's public cloud authority.
const DefaultAuthorityHost = "https://login.microsoftonline.com"

// refreshBefore is how long before expiry a token is replaced, so no
// request leaves with a token that lapses on the way; a short-lived token
// is replaced after half its life instead.
const refreshBefore = 5 * time.Minute

// Credentials are an app registration's client credentials, read from
// the "azure" section with the names azidentity's environment credential
// uses as fallbacks (AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST).
type Credentials struct {
	TenantID      string        `yaml:"tenantid"`
	ClientID      string        `yaml:"clientid"`
	ClientSecret  output.Secret `yaml:"clientsecret"`
	AuthorityHost string        `yaml:"authorityhost"`
}

// Load decodes the "azure" section of cfg's document and applies the env
// fallbacks. Set reports whether any credential is given; errors name the
// field.
func Load(cfg *output.Config, getenv func(string) string) (c Credentials, set bool, err error) {
	if err := cfg.Section("azure").Decode(&c); err != nil {
		return c, false, err
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fill := func(v *string, env string) {
		if *v == "" {
			*v = getenv(env)
		}
	}
	fill(&c.TenantID, "AZURE_TENANT_ID")
	fill(&c.ClientID, "AZURE_CLIENT_ID")
	fill(&c.AuthorityHost, "AZURE_AUTHORITY_HOST")
	if c.ClientSecret == "" {
		c.ClientSecret = output.Secret(getenv("AZURE_CLIENT_SECRET"))
	}
	if c.TenantID == "" && c.ClientID == "" && c.ClientSecret == "" {
		return c, false, nil
	}
	if c.AuthorityHost == "" {
		c.AuthorityHost = DefaultAuthorityHost
	}
	switch u, perr := url.Parse(c.AuthorityHost); {
	case c.TenantID == "":
		err = output.Missing("tenantid")
	case strings.ContainsAny(c.TenantID, "/?#"):
		err = output.Invalid("tenantid", fmt.Errorf("%q is not a tenant id or domain", c.TenantID))
	case c.ClientID == "":
		err = output.Missing("clientid")
	case c.ClientSecret == "":
		err = output.Missing("clientsecret")
	case perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		err = output.Invalid("authorityhost", fmt.Errorf("%q is not an http or https URL", c.AuthorityHost))
	}
	if err != nil {
		return c, true, fmt.Errorf("output azure: %w", err)
	}
	return c, true, nil
}

// TokenSource hands out bearer tokens for one scope. It is safe for
// concurrent use: callers share one token and one refresh.
type TokenSource struct {
	creds  Credentials
	scope  string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	token   string
	refresh time.Time // when to get a new one
}

// NewTokenSource returns a source of tokens for scope
// ("https://eventhubs.azure.net/.default"), fetched with client (nil for
// http.DefaultClient) and now as the clock (nil for time.Now).
func NewTokenSource(c Credentials, scope string, client *http.Client, now func() time.Time) *TokenSource {
	if now == nil {
		now = time.Now
	}
	return &TokenSource{creds: c, scope: scope, client: client, now: now}
}

// Token returns a valid access token, from the cache or a new token
// request. A refused request (bad secret, unknown client: 400/401) is an
// error wrapping [output.ErrPermanent]; the secret never appears in it.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.refresh) {
		return s.token, nil
	}
	tok, life, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	before := min(refreshBefore, life/2)
	s.token, s.refresh = tok, now.Add(life-before)
	return tok, nil
}

// tokenResponse is the token endpoint's answer, success or error.
type tokenResponse struct {
	TokenType   string `json:"token_type"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (s *TokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	u := strings.TrimSuffix(s.creds.AuthorityHost, "/") + "/" + url.PathEscape(s.creds.TenantID) + "/oauth2/v2.0/token"
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.creds.ClientID},
		"client_secret": {string(s.creds.ClientSecret)},
		"scope":         {s.scope},
	}
	fail := func(err error) (string, time.Duration, error) {
		return "", 0, fmt.Errorf("azure ad token for %s in tenant %s: %w", s.creds.ClientID, s.creds.TenantID, output.Redact(err, s.creds.ClientSecret))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return fail(output.Permanent(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	client := s.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fail(err)
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(raw, &tr)
	if resp.StatusCode != http.StatusOK {
		body := raw
		if jsonErr == nil && tr.Error != "" {
			// The description names the AADSTS code; enough to act on.
			body = []byte(tr.Error + ": " + tr.Description)
		}
		return fail(output.Status(req, resp.StatusCode, body, s.creds.ClientSecret))
	}
	switch {
	case jsonErr != nil:
		return fail(fmt.Errorf("answer is not JSON: %w", jsonErr))
	case tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer"):
		return fail(errors.New("answer has no bearer access_token"))
	case tr.ExpiresIn <= 0:
		return fail(fmt.Errorf("answer has expires_in %d", tr.ExpiresIn))
	}
	return tr.AccessToken, time.Duration(tr.ExpiresIn) * time.Second, nil
}
