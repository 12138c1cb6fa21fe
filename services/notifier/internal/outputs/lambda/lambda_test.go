package lambda

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
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
	ch := make(chan invocation, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fail := func(status int, typ, msg string) {
			w.Header().Set("X-Amzn-Errortype", typ)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"Type":"User","message":"`+msg+`"}`)
		}
		if reason := sigV4(r, body, accessKey, secretKey, region, "lambda"); reason != "" {
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
		{"no keys", "aws:\n  region: r\n  lambda:\n    functionname: f\n", "accesskeyid"},
		{"role", "aws:\n  region: r\n  rolearn: arn:aws:iam::1:role/x\n  lambda:\n    functionname: f\n", "rolearn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := build(t, tt.yaml, nil); err == nil || !strings.Contains(err.Error(), "field "+tt.field) {
				t.Fatalf("err = %v, want one naming field %s", err, tt.field)
			}
		})
	}
}

// sigV4 checks req's AWS Signature Version 4 the way AWS does, from the
// request as received: it rebuilds the canonical request from the headers
// the client says it signed, derives the signing key from secret, and
// compares signatures. It returns why the request is not validly signed
// for service in region by accessKey, or "".
func sigV4(r *http.Request, body []byte, accessKey, secret, region, service string) string {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "no AWS4-HMAC-SHA256 Authorization"
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[k] = v
	}
	cred := strings.Split(parts["Credential"], "/")
	if len(cred) != 5 || cred[0] != accessKey || cred[2] != region || cred[3] != service || cred[4] != "aws4_request" {
		return "credential scope " + parts["Credential"]
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, cred[1]) {
		return "X-Amz-Date " + amzDate + " outside scope date " + cred[1]
	}
	signed := strings.Split(parts["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return "host or x-amz-date not signed: " + parts["SignedHeaders"]
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return "X-Amz-Content-Sha256 does not match the body"
	}
	var ch strings.Builder
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			v = strings.Join(r.Header.Values(h), ",")
		}
		ch.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var cq []string
	for _, k := range keys {
		for _, v := range q[k] {
			cq = append(cq, rfc3986(k)+"="+rfc3986(v))
		}
	}
	canonical := strings.Join([]string{r.Method, r.URL.EscapedPath(), strings.Join(cq, "&"), ch.String(), parts["SignedHeaders"], payloadHash}, "\n")
	crSum := sha256.Sum256([]byte(canonical))
	scope := strings.Join(cred[1:], "/")
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crSum[:])
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	k := mac(mac(mac(mac([]byte("AWS4"+secret), cred[1]), region), service), "aws4_request")
	if want := hex.EncodeToString(mac(k, toSign)); parts["Signature"] != want {
		return "signature mismatch"
	}
	return ""
}

func rfc3986(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
