package lambda

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// AWS is the shared "aws" section Falcosidekick's AWS outputs read
// (aws.lambda here, aws.sqs in package sqs), with its keys. Credentials
// and region fall back to the standard AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_DEFAULT_REGION
// variables. Assuming a role (rolearn) and the EC2 metadata region are
// not supported: a config asking for them is refused rather than run with
// other credentials.
type AWS struct {
	AccessKeyID     string        `yaml:"accesskeyid"`
	SecretAccessKey output.Secret `yaml:"secretaccesskey"`
	SessionToken    output.Secret `yaml:"sessiontoken"`
	Region          string        `yaml:"region"`
	RoleARN         string        `yaml:"rolearn"`
}

// LoadAWS decodes the "aws" section next to cfg and applies the standard
// env fallbacks. Errors name the field.
func LoadAWS(cfg *output.Config, getenv func(string) string) (AWS, error) {
	var a AWS
	if err := cfg.Section("aws").Decode(&a); err != nil {
		return a, err
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if a.AccessKeyID == "" && a.SecretAccessKey == "" {
		a.AccessKeyID = getenv("AWS_ACCESS_KEY_ID")
		a.SecretAccessKey = output.Secret(getenv("AWS_SECRET_ACCESS_KEY"))
		if a.SessionToken == "" {
			a.SessionToken = output.Secret(getenv("AWS_SESSION_TOKEN"))
		}
	}
	if a.Region == "" {
		a.Region = getenv("AWS_DEFAULT_REGION")
	}
	switch {
	case a.RoleARN != "":
		return a, fmt.Errorf("output aws: %w", output.Invalid("rolearn", errors.New("assuming a role is not supported; give the role's keys")))
	case a.Region == "":
		return a, fmt.Errorf("output aws: %w", output.Missing("region"))
	case a.AccessKeyID == "":
		return a, fmt.Errorf("output aws: %w", output.Missing("accesskeyid"))
	case a.SecretAccessKey == "":
		return a, fmt.Errorf("output aws: %w", output.Missing("secretaccesskey"))
	}
	return a, nil
}

// Config returns the SDK config: static credentials, the region, client
// for HTTP (nil for the SDK's own) and no SDK retries, since the notifier
// core retries every failed delivery itself.
func (a AWS) Config(client *http.Client) aws.Config {
	c := aws.Config{
		Region:      a.Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(a.AccessKeyID, string(a.SecretAccessKey), string(a.SessionToken))),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	if client != nil {
		c.HTTPClient = client
	}
	return c
}

// Secrets lists what must never reach an error.
func (a AWS) Secrets() []output.Secret { return []output.Secret{a.SecretAccessKey, a.SessionToken} }

// throttling lists AWS error codes that mean "slow down" even when they
// come back as 400.
var throttling = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestThrottled": true, "RequestThrottledException": true, "TooManyRequestsException": true,
	"RequestLimitExceeded": true, "ProvisionedThroughputExceededException": true,
	"SlowDown": true, "EC2ThrottledException": true, "KMSThrottlingException": true,
}

// Classify wraps an SDK error for the core: 4xx answers other than
// timeouts and throttling are permanent, everything else (5xx, network)
// is retried. Secrets are redacted; what names the object is the
// caller's prefix.
func Classify(err error, secrets ...output.Secret) error {
	if err == nil {
		return nil
	}
	err = output.Redact(err, secrets...)
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) {
		return err
	}
	code := re.HTTPStatusCode()
	var ae smithy.APIError
	if errors.As(err, &ae) && throttling[ae.ErrorCode()] {
		return err
	}
	if code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests {
		return output.Permanent(err)
	}
	return err
}
