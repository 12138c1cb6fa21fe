package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

const (
	accessKey = "AKIAIOSFODNN7EXAMPLE"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYs3cr3tKEY"
	region    = "eu-west-1"
)

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "12:00:00.000000000: Critical Shell spawned (proc=sh)",
		Priority: schema.PriorityCritical, Rule: "Terminal shell in container", Source: "syscall",
		Tags: []string{"shell"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{"proc.name": "sh"},
	}
}

type invocation struct {
	Function, InvocationType, LogType, ContentType string
	Payload                                        map[string]any
}

// lambdaAPI stands in for the Lambda Invoke API
// (POST /2015-03-31/functions/<name>/invocations): it verifies the SigV4
// signature with the test keys and answers per function name as Lambda
// does: "handler" runs, "broken" fails inside the function, "missing" is
// ResourceNotFoundException, "throttled" TooManyRequestsException.
func lambdaAPI(t *testing.T) (*httptest.Server, chan invocation) {
	t.Helper()
	return lambdaAPIFor(t, outputtest.Keys{AccessKeyID: accessKey, SecretAccessKey: secretKey})
}

// lambdaAPIFor is lambdaAPI for requests signed by keys; with a session
// token, the request must carry it in X-Amz-Security-Token.
func lambdaAPIFor(t *testing.T, keys outputtest.Keys) (*httptest.Server, chan invocation) {
	t.Helper()
	ch := make(chan invocation, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fail := func(status int, typ, msg string) {
			w.Header().Set("X-Amzn-Errortype", typ)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"Type":"User","message":"`+msg+`"}`)
		}
		if got := r.Header.Get("X-Amz-Security-Token"); got != keys.SessionToken {
			fail(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
			return
		}
		if reason := outputtest.SigV4(r, body, keys.AccessKeyID, keys.SecretAccessKey, region, "lambda"); reason != "" {
			fail(http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided: "+reason)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
		name, ok2 := strings.CutSuffix(name, "/invocations")
		if r.Method != http.MethodPost || !ok || !ok2 {
			fail(http.StatusNotFound, "UnknownOperationException", "Unknown operation")
			return
		}
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("payload is not JSON: %v", err)
		}
		inv := invocation{name, r.Header.Get("X-Amz-Invocation-Type"), r.Header.Get("X-Amz-Log-Type"), r.Header.Get("Content-Type"), p}
		select {
		case ch <- inv:
		default:
		}
		switch name {
		case "missing":
			fail(http.StatusNotFound, "ResourceNotFoundException", "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:missing")
		case "throttled":
			fail(http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
		case "broken":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Header().Set("X-Amz-Executed-Version", "$LATEST")
			_, _ = io.WriteString(w, `{"errorMessage":"boom","errorType":"Error"}`)
		default:
			w.Header().Set("X-Amz-Executed-Version", "$LATEST")
			if inv.InvocationType == "Event" {
				w.WriteHeader(http.StatusAccepted)
				return
			}
			_, _ = io.WriteString(w, `{"handled":true}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func build(t *testing.T, yaml string, env map[string]string) (output.Output, error) {
	t.Helper()
	cfg, err := output.ParseConfig("aws.lambda", "config.yaml", yaml, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return Spec().New(cfg, output.Env{Getenv: func(k string) string { return env[k] }, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
}

func awsYAML(endpoint, lambda string) string {
	return "aws:\n  accesskeyid: " + accessKey + "\n  secretaccesskey: " + secretKey + "\n  region: " + region +
		"\n  lambda:\n    endpoint: " + endpoint + "\n" + lambda
}

func TestSendInvokesSigned(t *testing.T) {
	a := testAlert()
	var wantPayload map[string]any
	b, _ := json.Marshal(a)
	_ = json.Unmarshal(b, &wantPayload)
	tests := []struct {
		name, yaml string
		env        map[string]string
		want       invocation
	}{
		{
			name: "request response",
			yaml: "    functionname: handler\n",
			want: invocation{"handler", "RequestResponse", "None", "application/octet-stream", wantPayload},
		},
		{
			name: "event with logs",
			yaml: "    functionname: handler\n    invocationtype: Event\n    logtype: Tail\n",
			want: invocation{"handler", "Event", "Tail", "application/octet-stream", wantPayload},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := lambdaAPI(t)
			o, err := build(t, awsYAML(srv.URL, tt.yaml), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Send(context.Background(), output.Delivery{Alert: a, Text: a.Output}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, <-ch); diff != "" {
				t.Errorf("invocation (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCredentialsFromStandardEnv(t *testing.T) {
	srv, ch := lambdaAPI(t)
	env := map[string]string{"AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_DEFAULT_REGION": region}
	o, err := build(t, "aws:\n  lambda:\n    functionname: handler\n    endpoint: "+srv.URL+"\n", env)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Send(context.Background(), output.Delivery{Alert: testAlert()}); err != nil {
		t.Fatal(err)
	}
	if got := (<-ch).Function; got != "handler" {
		t.Errorf("invoked %q", got)
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name, function, secret string
		permanent              bool
	}{
		{"missing function", "missing", secretKey, true},
		{"throttled", "throttled", secretKey, false},
		{"function error", "broken", secretKey, false},
		{"bad signature", "handler", "wrongS3cr3tKEY", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := lambdaAPI(t)
			yaml := strings.Replace(awsYAML(srv.URL, "    functionname: "+tt.function+"\n"), secretKey, tt.secret, 1)
			o, err := build(t, yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = o.Send(context.Background(), output.Delivery{Alert: testAlert()})
			if err == nil || errors.Is(err, output.ErrPermanent) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			if !strings.Contains(err.Error(), "lambda "+tt.function) || strings.Contains(err.Error(), "S3cr3t") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error should name the function and hide the key: %v", err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, field string }{
		{"no function", "aws:\n  region: r\n  accesskeyid: a\n  secretaccesskey: s\n  lambda:\n    logtype: None\n", "functionname"},
		{"bad invocation type", "aws:\n  region: r\n  accesskeyid: a\n  secretaccesskey: s\n  lambda:\n    functionname: f\n    invocationtype: Async\n", "invocationtype"},
		{"no region", "aws:\n  accesskeyid: a\n  secretaccesskey: s\n  lambda:\n    functionname: f\n", "region"},
		{"key id without secret", "aws:\n  region: r\n  accesskeyid: a\n  lambda:\n    functionname: f\n", "secretaccesskey"},
		{"bad role", "aws:\n  region: r\n  accesskeyid: a\n  secretaccesskey: s\n  rolearn: falco\n  lambda:\n    functionname: f\n", "rolearn"},
		{"external id without role", "aws:\n  region: r\n  accesskeyid: a\n  secretaccesskey: s\n  externalid: x\n  lambda:\n    functionname: f\n", "externalid"},
		{"bad sts endpoint", "aws:\n  region: r\n  accesskeyid: a\n  secretaccesskey: s\n  rolearn: arn:aws:iam::1:role/x\n  stsendpoint: sts.local\n  lambda:\n    functionname: f\n", "stsendpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := build(t, tt.yaml, nil); err == nil || !strings.Contains(err.Error(), "field "+tt.field) {
				t.Fatalf("err = %v, want one naming field %s", err, tt.field)
			}
		})
	}
}
