package azureeventhubs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

const (
	tenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientID     = "6731de76-14a6-49ae-97bc-6eba6914391e"
	clientSecret = "Qw8~s3cr3t.client~Value"
)

// bearerHub stands in for the Event Hubs REST endpoint with Azure AD: it
// wants "Authorization: Bearer <token>" with the token the authority
// handed out last, and answers 401 ExpiredToken otherwise.
func bearerHub(t *testing.T, token func() string) (*httptest.Server, chan map[string]any) {
	t.Helper()
	ch := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/falco-alerts/messages" || r.URL.Query().Get("api-version") != "2014-01" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+token() {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "<Error><Code>401</Code><Detail>ExpiredToken: The token is expired.</Detail></Error>")
			return
		}
		m := outputtest.ReadJSON(t, r)
		select {
		case ch <- m:
		default:
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func adYAML(authority, secret string) string {
	return "azure:\n  tenantid: " + tenant + "\n  clientid: " + clientID + "\n  clientsecret: " + secret +
		"\n  authorityhost: " + authority + "\n  eventhub:\n    name: falco-alerts\n    namespace: peregrine\n"
}

// TestAzureAD checks the client credentials token request (whole, by the
// stand-in authority), the bearer token on the send, and the cache: the
// token is reused until 5 minutes before expires_in, then replaced.
func TestAzureAD(t *testing.T) {
	ad := outputtest.NewAuthority(t, outputtest.AuthorityConfig{
		Tenant: tenant, ClientID: clientID, ClientSecret: clientSecret, Scope: "https://eventhubs.azure.net/.default",
		Token: "eyJ0eXAiOiJKV1Qi.tok", ExpiresIn: 3599,
	})
	last := func() string { return "eyJ0eXAiOiJKV1Qi.tok-" + strconv.Itoa(ad.Calls()) }
	srv, ch := bearerHub(t, last)
	now := time.Now()
	o, err := build(t, adYAML(ad.URL, clientSecret), srv, now)
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	o.(*Output).now = func() time.Time { return clock }
	a := testAlert()
	var want map[string]any
	b, _ := json.Marshal(a)
	_ = json.Unmarshal(b, &want)
	steps := []struct {
		name      string
		at        time.Duration // clock after the first token
		wantCalls int
	}{
		{"first send gets a token", 0, 1},
		{"cached", 50 * time.Minute, 1},
		{"replaced 5 minutes before expiry", 55 * time.Minute, 2},
	}
	for _, st := range steps {
		clock = now.Add(st.at)
		if err := o.Send(context.Background(), output.Delivery{Alert: a}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(want, <-ch); diff != "" {
			t.Errorf("%s: event (-want +got):\n%s", st.name, diff)
		}
		if n := ad.Calls(); n != st.wantCalls {
			t.Errorf("%s: %d token requests, want %d", st.name, n, st.wantCalls)
		}
	}
}

func TestAzureADFromStandardEnv(t *testing.T) {
	ad := outputtest.NewAuthority(t, outputtest.AuthorityConfig{
		Tenant: tenant, ClientID: clientID, ClientSecret: clientSecret, Scope: "https://eventhubs.azure.net/.default",
		Token: "tok", ExpiresIn: 3599,
	})
	srv, ch := bearerHub(t, func() string { return "tok-1" })
	env := map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": clientID, "AZURE_CLIENT_SECRET": clientSecret, "AZURE_AUTHORITY_HOST": ad.URL}
	cfg, err := output.ParseConfig("azure.eventhub", "config.yaml", "azure:\n  eventhub:\n    name: falco-alerts\n    namespace: peregrine\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Spec().New(cfg, output.Env{Getenv: func(k string) string { return env[k] }, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	o.(*Output).endpoint = srv.URL
	if err := o.Send(context.Background(), output.Delivery{Alert: testAlert()}); err != nil {
		t.Fatal(err)
	}
	<-ch
}

func TestAzureADFailures(t *testing.T) {
	ad := outputtest.NewAuthority(t, outputtest.AuthorityConfig{
		Tenant: tenant, ClientID: clientID, ClientSecret: clientSecret, Scope: "https://eventhubs.azure.net/.default",
		Token: "tok", ExpiresIn: 3599,
	})
	srv, _ := bearerHub(t, func() string { return "tok-1" })
	o, err := build(t, adYAML(ad.URL, "wr0ng~s3cr3t"), srv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	err = o.Send(context.Background(), output.Delivery{Alert: testAlert()})
	if !errors.Is(err, output.ErrPermanent) || !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("err = %v, want permanent AADSTS7000215 without the secret", err)
	}
	for _, tt := range []struct{ yaml, field string }{
		{"azure:\n  clientid: c\n  clientsecret: s\n  eventhub:\n    name: h\n    namespace: ns\n", "tenantid"},
		{"azure:\n  tenantid: t\n  clientsecret: s\n  eventhub:\n    name: h\n    namespace: ns\n", "clientid"},
		{"azure:\n  tenantid: t\n  clientid: c\n  eventhub:\n    name: h\n    namespace: ns\n", "clientsecret"},
		{"azure:\n  tenantid: t\n  clientid: c\n  clientsecret: s\n  authorityhost: login.local\n  eventhub:\n    name: h\n    namespace: ns\n", "authorityhost"},
		{"azure:\n  eventhub:\n    name: h\n    namespace: ns\n", "sharedaccesskey"},
	} {
		if _, err := build(t, tt.yaml, nil, time.Time{}); err == nil || !strings.Contains(err.Error(), "field "+tt.field) {
			t.Errorf("%q: err = %v, want one naming field %s", tt.yaml, err, tt.field)
		}
	}
}
