package outputtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Keys are AWS credentials.
type Keys struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// STS stands in for AWS STS's AssumeRole and AssumeRoleWithWebIdentity
// (Query API, POST / with a form body): it checks the request is exactly
// the one the caller expects (Form, whose Action says which), an
// AssumeRole SigV4-signed by the source keys for service sts (a web
// identity call is unsigned: the token is the credential), and answers
// the documented XML with the temporary keys, valid for an hour. Anything
// else gets STS's 403 or 400 error XML.
type STS struct {
	URL string

	mu    sync.Mutex
	calls int
}

// STSConfig is what a [NewSTS] server expects and answers.
type STSConfig struct {
	Region string
	Source Keys // the keys that must sign AssumeRole; unused for web identity
	// Form is the exact AssumeRole form: Action, Version, RoleArn,
	// RoleSessionName, ExternalId, ...
	Form url.Values
	Temp Keys // the temporary credentials to answer
}

// NewSTS starts the server on 127.0.0.1; t.Cleanup stops it.
func NewSTS(t *testing.T, c STSConfig) *STS {
	t.Helper()
	s := &STS{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/xml")
		fail := func(status int, code, msg string) {
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>`, code, msg)
		}
		webIdentity := c.Form.Get("Action") == "AssumeRoleWithWebIdentity"
		if webIdentity && r.Header.Get("Authorization") != "" {
			t.Errorf("AssumeRoleWithWebIdentity is signed: %s", r.Header.Get("Authorization"))
		}
		if reason := SigV4(r, body, c.Source.AccessKeyID, c.Source.SecretAccessKey, c.Region, "sts"); !webIdentity && reason != "" {
			fail(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided: "+reason)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("STS request %s %s, Content-Type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			fail(http.StatusBadRequest, "MalformedInput", err.Error())
			return
		}
		if diff := cmp.Diff(c.Form, form); diff != "" {
			t.Errorf("AssumeRole form (-want +got):\n%s", diff)
			fail(http.StatusForbidden, "AccessDenied", "not authorized to perform sts:AssumeRole")
			return
		}
		s.mu.Lock()
		s.calls++
		s.mu.Unlock()
		exp := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
		action := c.Form.Get("Action")
		session := c.Form.Get("RoleSessionName")
		_, _ = fmt.Fprintf(w, `<%[1]sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <%[1]sResult>
    <AssumedRoleUser>
      <Arn>%[2]s/%[3]s</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:%[3]s</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>%[4]s</AccessKeyId>
      <SecretAccessKey>%[5]s</SecretAccessKey>
      <SessionToken>%[6]s</SessionToken>
      <Expiration>%[7]s</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </%[1]sResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</%[1]sResponse>`, action, c.Form.Get("RoleArn"), session, c.Temp.AccessKeyID, c.Temp.SecretAccessKey, c.Temp.SessionToken, exp)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Calls is how many requests got credentials.
func (s *STS) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}
