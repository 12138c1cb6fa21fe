package sqs

import (
	"context"
	"net/url"
	"testing"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/lambda"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

// TestAssumeRole checks that with aws.rolearn the message is signed with
// the temporary keys of the role, which the static keys got from STS with
// the external id, and carries the session token.
func TestAssumeRole(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/falco-alerts"
	temp := outputtest.Keys{
		AccessKeyID:     "ASIAIOSFODNN7TEMPKEY",
		SecretAccessKey: "tEmPsEcReT/K7MDENG/bPxRfiCYs3cr3tTEMP",
		SessionToken:    "FwoGZXIvYXdzEBYaDH/temp+session/s3cr3t+token==",
	}
	sts := outputtest.NewSTS(t, outputtest.STSConfig{
		Region: region, Source: outputtest.Keys{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		Form: url.Values{
			"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {role},
			"RoleSessionName": {lambda.RoleSessionName}, "DurationSeconds": {"900"}, "ExternalId": {"ext-42"},
		},
		Temp: temp,
	})
	srv, ch := sqsAPIFor(t, map[string]bool{"falco-alerts": true}, temp)
	u := srv.URL + "/123456789012/falco-alerts"
	o, err := buildYAML(t, "aws:\n  accesskeyid: "+accessKey+"\n  secretaccesskey: "+secretKey+"\n  region: "+region+
		"\n  rolearn: "+role+"\n  externalid: ext-42\n  stsendpoint: "+sts.URL+"\n  sqs:\n    url: "+u+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Send(context.Background(), output.Delivery{Alert: testAlert(), ID: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := (<-ch)["QueueUrl"]; got != u {
		t.Errorf("QueueUrl %v, want %s", got, u)
	}
	if n := sts.Calls(); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1", n)
	}
}
