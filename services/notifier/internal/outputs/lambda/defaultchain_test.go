package lambda

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

// TestDefaultChainWebIdentity checks that without keys the SDK's default
// chain is used, here its web identity step as EKS IRSA configures it
// (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE): the token file goes to STS
// AssumeRoleWithWebIdentity (checked whole), and the invocation is signed
// with the keys STS returns. The chain reads the process environment, so
// the test sets it (no t.Parallel) and points every other source at
// nothing.
func TestDefaultChainWebIdentity(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGVyZWdyaW5lOm5vdGlmaWVyIn0.c2lnbmF0dXJl"
	if err := os.WriteFile(tokenFile, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	sts := outputtest.NewSTS(t, outputtest.STSConfig{
		Region: region,
		Form: url.Values{
			"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
			"RoleArn": {roleARN}, "RoleSessionName": {"notifier-pod"}, "WebIdentityToken": {jwt},
		},
		Temp: tempKeys,
	})
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_ROLE_ARN": roleARN, "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_SESSION_NAME": "notifier-pod",
		"AWS_ENDPOINT_URL_STS": sts.URL, "AWS_ENDPOINT_URL": "", "AWS_CA_BUNDLE": "",
	} {
		t.Setenv(k, v)
	}
	srv, ch := lambdaAPIFor(t, tempKeys)
	o, err := build(t, "aws:\n  region: "+region+"\n  lambda:\n    functionname: handler\n    endpoint: "+srv.URL+"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Send(context.Background(), output.Delivery{Alert: testAlert()}); err != nil {
		t.Fatal(err)
	}
	if got := (<-ch).Function; got != "handler" {
		t.Errorf("invoked %q", got)
	}
	if n := sts.Calls(); n != 1 {
		t.Errorf("%d web identity calls, want 1", n)
	}
}
