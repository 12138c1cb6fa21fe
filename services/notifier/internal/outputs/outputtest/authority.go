package outputtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Authority stands in for Azure AD's token endpoint
// (POST /{tenant}/oauth2/v2.0/token). It checks the request is exactly
// the client credentials grant the caller expects and answers Azure AD's
// JSON: the token n-th request gets is Token+"-<n>", valid ExpiresIn
// seconds. A wrong client secret gets AADSTS7000215 with 401, as Azure AD
// answers.
type Authority struct {
	URL string

	mu    sync.Mutex
	calls int
}

// AuthorityConfig is what a [NewAuthority] server expects and answers.
type AuthorityConfig struct {
	Tenant, ClientID, ClientSecret, Scope string
	Token                                 string
	ExpiresIn                             int
}

// NewAuthority starts the server on 127.0.0.1; t.Cleanup stops it.
func NewAuthority(t *testing.T, c AuthorityConfig) *Authority {
	t.Helper()
	a := &Authority{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.Method != http.MethodPost || r.URL.Path != "/"+c.Tenant+"/oauth2/v2.0/token" ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("token request %s %s, Content-Type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("token request body: %v", err)
		}
		if form.Get("client_secret") != c.ClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.","error_codes":[7000215]}`)
			return
		}
		want := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "scope": {c.Scope}}
		if diff := cmp.Diff(want, form); diff != "" {
			t.Errorf("token request form (-want +got):\n%s", diff)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_request"}`)
			return
		}
		a.mu.Lock()
		a.calls++
		n := a.calls
		a.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": c.ExpiresIn, "ext_expires_in": c.ExpiresIn,
			"access_token": fmt.Sprintf("%s-%d", c.Token, n),
		})
	}))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

// Calls is how many tokens were handed out.
func (a *Authority) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}
