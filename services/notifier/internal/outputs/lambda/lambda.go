// Package lambda invokes an AWS Lambda function with each alert's Falco
// JSON as the payload (the Invoke API, SigV4-signed by aws-sdk-go-v2), as
// Falcosidekick's aws.lambda output does. The "aws" section it shares with
// package sqs is read by [LoadAWS].
package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the "aws.lambda" section, with Falcosidekick's keys.
// Endpoint, which Falcosidekick lacks, overrides the regional endpoint
// (a VPC endpoint, LocalStack).
type Config struct {
	FunctionName   string `yaml:"functionname"`
	InvocationType string `yaml:"invocationtype"`
	LogType        string `yaml:"logtype"`
	Endpoint       string `yaml:"endpoint"`
}

// Validate checks the function name and the enumerations.
func (c *Config) Validate() error {
	if c.FunctionName == "" {
		return output.Missing("functionname")
	}
	if !oneOf(c.InvocationType, types.InvocationType("").Values()) {
		return output.Invalid("invocationtype", fmt.Errorf("%q is not RequestResponse, Event or DryRun", c.InvocationType))
	}
	if !oneOf(c.LogType, types.LogType("").Values()) {
		return output.Invalid("logtype", fmt.Errorf("%q is not None or Tail", c.LogType))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return output.Invalid("endpoint", fmt.Errorf("%q is not an http or https URL", c.Endpoint))
		}
	}
	return nil
}

func oneOf[T ~string](v string, allowed []T) bool {
	for _, a := range allowed {
		if string(a) == v {
			return true
		}
	}
	return false
}

// Spec is the aws.lambda output kind.
func Spec() output.Spec {
	return output.Spec{Key: "aws.lambda", Enable: "functionname", New: New}
}

// New builds the output from its section and the shared "aws" section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	c := Config{InvocationType: string(types.InvocationTypeRequestResponse), LogType: string(types.LogTypeNone)}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	a, err := LoadAWS(cfg, env.Getenv)
	if err != nil {
		return nil, err
	}
	ac, err := a.Config(env.HTTPClient)
	if err != nil {
		return nil, err
	}
	client := awslambda.NewFromConfig(ac, func(o *awslambda.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return &Output{cfg: c, aws: a, client: client}, nil
}

// Output invokes one function. It is safe for concurrent use.
type Output struct {
	cfg    Config
	aws    AWS
	client *awslambda.Client
}

// Name returns "awslambda".
func (o *Output) Name() string { return "awslambda" }

// Send invokes the function. A function that ran and failed (the
// X-Amz-Function-Error answer) is an error too, retried like a failed
// request: the alert did not get handled.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	payload, err := json.Marshal(d.Alert)
	if err != nil {
		return output.Permanent(fmt.Errorf("lambda %s: encode alert: %w", o.cfg.FunctionName, err))
	}
	out, err := o.client.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName:   aws.String(o.cfg.FunctionName),
		InvocationType: types.InvocationType(o.cfg.InvocationType),
		LogType:        types.LogType(o.cfg.LogType),
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("lambda %s: %w", o.cfg.FunctionName, Classify(err, o.aws.Secrets()...))
	}
	if out.FunctionError != nil {
		return fmt.Errorf("lambda %s: function error %s: %.200s", o.cfg.FunctionName, *out.FunctionError, out.Payload)
	}
	return nil
}
