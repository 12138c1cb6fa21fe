// Package sqs sends each alert's Falco JSON to an AWS SQS queue with
// SendMessage (aws-sdk-go-v2, which speaks SQS's JSON protocol:
// X-Amz-Target AmazonSQS.SendMessage), as Falcosidekick's aws.sqs output
// does. It reads the shared "aws" section through [lambda.LoadAWS].
//
// For a FIFO queue (URL ending ".fifo") the group is the rule, so alerts of
// one rule keep their order, and the deduplication id is the delivery id,
// so SQS drops a retried alert it already took.
package sqs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/lambda"
)

// Config is the "aws.sqs" section, with Falcosidekick's keys. Endpoint,
// which Falcosidekick lacks, overrides the API endpoint; by default it is
// the queue URL's scheme and host (https://sqs.<region>.amazonaws.com).
type Config struct {
	URL      string `yaml:"url"`
	Endpoint string `yaml:"endpoint"`
}

// Validate checks the queue URL and endpoint.
func (c *Config) Validate() error {
	if c.URL == "" {
		return output.Missing("url")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return output.Invalid("url", fmt.Errorf("%q is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)", c.URL))
	}
	if c.Endpoint != "" {
		if e, err := url.Parse(c.Endpoint); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return output.Invalid("endpoint", fmt.Errorf("%q is not an http or https URL", c.Endpoint))
		}
	}
	return nil
}

// Spec is the aws.sqs output kind.
func Spec() output.Spec {
	return output.Spec{Key: "aws.sqs", Enable: "url", New: New}
}

// New builds the output from its section and the shared "aws" section.
func New(cfg *output.Config, env output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	a, err := lambda.LoadAWS(cfg, env.Getenv)
	if err != nil {
		return nil, err
	}
	endpoint := c.Endpoint
	if endpoint == "" {
		u, _ := url.Parse(c.URL) // checked by Validate
		endpoint = u.Scheme + "://" + u.Host
	}
	ac, err := a.Config(env.HTTPClient)
	if err != nil {
		return nil, err
	}
	client := awssqs.NewFromConfig(ac, func(o *awssqs.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
	return &Output{cfg: c, aws: a, fifo: strings.HasSuffix(c.URL, ".fifo"), client: client}, nil
}

// Output sends to one queue. It is safe for concurrent use.
type Output struct {
	cfg    Config
	aws    lambda.AWS
	fifo   bool
	client *awssqs.Client
}

// Name returns "awssqs".
func (o *Output) Name() string { return "awssqs" }

// Send sends the message. The SDK checks the MD5 SQS returns against the
// body, so a mangled message is an error, retried.
func (o *Output) Send(ctx context.Context, d output.Delivery) error {
	body, err := d.Alert.MarshalJSON()
	if err != nil {
		return output.Permanent(fmt.Errorf("sqs %s: encode alert: %w", o.cfg.URL, err))
	}
	in := &awssqs.SendMessageInput{QueueUrl: aws.String(o.cfg.URL), MessageBody: aws.String(string(body))}
	if o.fifo {
		in.MessageGroupId = aws.String(groupID(d.Alert))
		if d.ID != "" {
			in.MessageDeduplicationId = aws.String(dedupID(d.ID))
		}
	}
	if _, err := o.client.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("sqs %s: %w", o.cfg.URL, lambda.Classify(err, o.aws.Secrets()...))
	}
	return nil
}

// groupID is the rule's slug, within SQS's 128 characters.
func groupID(a *schema.Alert) string {
	g := schema.RuleSlug(a.Rule)
	if g == "" {
		g = "_"
	}
	if len(g) > 128 {
		g = g[:128]
	}
	return g
}

// dedupID is id when SQS accepts it (1 to 128 printable ASCII
// characters), else its SHA-256, so two ids never share a cut prefix.
func dedupID(id string) string {
	ok := len(id) <= 128
	for i := 0; ok && i < len(id); i++ {
		ok = id[i] >= '!' && id[i] <= '~'
	}
	if ok {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
