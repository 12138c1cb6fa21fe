package lambda

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

const roleARN = "arn:aws:iam::123456789012:role/falco-alerts"

// tempKeys are what the local STS hands out for the role.
var tempKeys = outputtest.Keys{
	AccessKeyID:     "ASIAIOSFODNN7TEMPKEY",
	SecretAccessKey: "tEmPsEcReT/K7MDENG/bPxRfiCYs3cr3tTEMP",
	SessionToken:    "FwoGZXIvYXdzEBYaDH/temp+session/s3cr3t+token==",
}

// assumeRoleForm is the exact AssumeRole request the SDK must send.
func assumeRoleForm(externalID string) url.Values {
	f := url.Values{
		"Action": {"AssumeRole"}, "Version": {"2011-06-15"},
		"RoleArn": {roleARN}, "RoleSessionName": {RoleSessionName}, "DurationSeconds": {"900"},
	}
	if externalID != "" {
		f.Set("ExternalId", externalID)
	}
	return f
}

func roleYAML(stsURL, lambdaURL, secret, extra string) string {
	return "aws:\n  accesskeyid: " + accessKey + "\n  secretaccesskey: " + secret + "\n  region: " + region +
		"\n  rolearn: " + roleARN + "\n  stsendpoint: " + stsURL + "\n" + extra +
		"  lambda:\n    functionname: handler\n    endpoint: " + lambdaURL + "\n"
}

// TestAssumeRole checks that with rolearn the static keys sign only the
// AssumeRole call (checked whole by the local STS) and the invocations are
// signed with the temporary keys and carry the session token; the keys are
// fetched once for several invocations.
func TestAssumeRole(t *testing.T) {
	tests := []struct{ name, externalID, extra string }{
		{"with external id", "ext-s3cr3t-42", "  externalid: ext-s3cr3t-42\n"},
		{"without external id", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts := outputtest.NewSTS(t, outputtest.STSConfig{
				Region: region, Source: outputtest.Keys{AccessKeyID: accessKey, SecretAccessKey: secretKey},
				Form: assumeRoleForm(tt.externalID), Temp: tempKeys,
			})
			srv, ch := lambdaAPIFor(t, tempKeys)
			o, err := build(t, roleYAML(sts.URL, srv.URL, secretKey, tt.extra), nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if err := o.Send(context.Background(), output.Delivery{Alert: testAlert()}); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
				if got := (<-ch).Function; got != "handler" {
					t.Errorf("invoked %q", got)
				}
			}
			if n := sts.Calls(); n != 1 {
				t.Errorf("%d AssumeRole calls for 2 invocations, want 1 (cached)", n)
			}
		})
	}
}

func TestAssumeRoleRefused(t *testing.T) {
	sts := outputtest.NewSTS(t, outputtest.STSConfig{
		Region: region, Source: outputtest.Keys{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		Form: assumeRoleForm(""), Temp: tempKeys,
	})
	srv, _ := lambdaAPIFor(t, tempKeys)
	o, err := build(t, roleYAML(sts.URL, srv.URL, "wrongS3cr3tKEY", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = o.Send(context.Background(), output.Delivery{Alert: testAlert()})
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") || strings.Contains(err.Error(), "S3cr3t") {
		t.Fatalf("err = %v, want STS's SignatureDoesNotMatch without the key", err)
	}
	if !errors.Is(err, output.ErrPermanent) {
		// As a bad signature on the invocation itself: the same keys will
		// be refused again.
		t.Errorf("err = %v, want permanent", err)
	}
	if n := sts.Calls(); n != 0 {
		t.Errorf("%d AssumeRole calls succeeded", n)
	}
}
