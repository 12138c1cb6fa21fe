package lambda

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// AWS is the shared "aws" section Falcosidekick's AWS outputs read
// (aws.lambda here, aws.sqs in package sqs), with its keys. Credentials
// and region fall back to the standard AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_DEFAULT_REGION
// variables.
//
// With rolearn, those keys only sign STS AssumeRole calls (with
// externalid when set, as a role trusted by another account requires),
// and the outputs sign with the temporary credentials STS returns,
// renewed before they expire. stsendpoint, which Falcosidekick lacks,
// overrides STS's regional endpoint (a VPC endpoint, a test server).
//
// Without keys in the section or those variables, the credentials come
// from the SDK's default chain, as in Falcosidekick: the shared config
// and credentials files (AWS_PROFILE), web identity (AWS_ROLE_ARN with
// AWS_WEB_IDENTITY_TOKEN_FILE, as EKS IRSA sets them), then the ECS or
// EC2 instance role; it reads the process environment itself. The region
// must still be given: the EC2 metadata region is not used.
type AWS struct {
	AccessKeyID     string        `yaml:"accesskeyid"`
	SecretAccessKey output.Secret `yaml:"secretaccesskey"`
	SessionToken    output.Secret `yaml:"sessiontoken"`
	Region          string        `yaml:"region"`
	RoleARN         string        `yaml:"rolearn"`
	ExternalID      output.Secret `yaml:"externalid"`
	STSEndpoint     string        `yaml:"stsendpoint"`

	defaultChain bool // no keys given: use the SDK's default chain
}

// RoleSessionName names the notifier's sessions in the role's CloudTrail
// entries.
const RoleSessionName = "peregrine-notifier"

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
	case a.RoleARN != "" && !strings.HasPrefix(a.RoleARN, "arn:"):
		return a, fmt.Errorf("output aws: %w", output.Invalid("rolearn", fmt.Errorf("%q is not an ARN (arn:aws:iam::<account>:role/<name>)", a.RoleARN)))
	case a.ExternalID != "" && a.RoleARN == "":
		return a, fmt.Errorf("output aws: %w", output.Invalid("externalid", errors.New("set without rolearn")))
	case a.STSEndpoint != "" && !isHTTPURL(a.STSEndpoint):
		return a, fmt.Errorf("output aws: %w", output.Invalid("stsendpoint", fmt.Errorf("%q is not an http or https URL", a.STSEndpoint)))
	case a.Region == "":
		return a, fmt.Errorf("output aws: %w", output.Missing("region"))
	case a.AccessKeyID == "" && a.SecretAccessKey == "":
		a.defaultChain = true
	case a.AccessKeyID == "":
		return a, fmt.Errorf("output aws: %w", output.Missing("accesskeyid"))
	case a.SecretAccessKey == "":
		return a, fmt.Errorf("output aws: %w", output.Missing("secretaccesskey"))
	}
	return a, nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Config returns the SDK config: the static credentials, or with a role
// the AssumeRole credentials they get; the region; client for HTTP (nil
// for the SDK's own) and no SDK retries, since the notifier core retries
// every failed delivery itself. A failed AssumeRole fails the Send that
// needed it, and is tried again with the next. With the default chain,
// an error names a shared config file that does not parse; credentials
// themselves are looked up at the first Send.
func (a AWS) Config(client *http.Client) (aws.Config, error) {
	noRetry := func() aws.Retryer { return aws.NopRetryer{} }
	c := aws.Config{
		Region:      a.Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(a.AccessKeyID, string(a.SecretAccessKey), string(a.SessionToken))),
		Retryer:     noRetry,
	}
	if a.defaultChain {
		// The chain's own calls (STS for web identity, the instance
		// metadata) keep the SDK's client, which honours AWS_CA_BUNDLE;
		// the outputs' calls use client, set below.
		var err error
		if c, err = config.LoadDefaultConfig(context.Background(), config.WithRegion(a.Region), config.WithRetryer(noRetry)); err != nil {
			return c, fmt.Errorf("output aws: default credentials chain: %w", err)
		}
	}
	if client != nil {
		c.HTTPClient = client
	}
	if a.RoleARN == "" {
		return c, nil
	}
	stsClient := sts.NewFromConfig(c, func(o *sts.Options) {
		if a.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(a.STSEndpoint)
		}
	})
	role := stscreds.NewAssumeRoleProvider(stsClient, a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = RoleSessionName
		if a.ExternalID != "" {
			o.ExternalID = aws.String(string(a.ExternalID))
		}
	})
	// Renew a minute early, so no call is signed with keys about to lapse.
	c.Credentials = aws.NewCredentialsCache(role, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Minute })
	return c, nil
}

// Secrets lists what must never reach an error.
func (a AWS) Secrets() []output.Secret {
	return []output.Secret{a.SecretAccessKey, a.SessionToken, a.ExternalID}
}

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
