package sqs

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
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
	region    = "us-east-2"
)

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "12:00:00.000000000: Warning Sensitive file opened (file=/etc/shadow)",
		Priority: schema.PriorityWarning, Rule: "Read sensitive file untrusted", Source: "syscall",
		Tags: []string{"filesystem"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{"fd.name": "/etc/shadow"},
	}
}

// sqsAPI stands in for SQS's JSON protocol endpoint: POST / with
// X-Amz-Target AmazonSQS.SendMessage, signed with SigV4 for service "sqs".
// It answers as SQS does: the MD5 of the body and a message id, or a
// QueueDoesNotExist / RequestThrottled / signature error.
func sqsAPI(t *testing.T, queues map[string]bool) (*httptest.Server, chan map[string]any) {
	t.Helper()
	ch := make(chan map[string]any, 1)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		fail := func(status int, typ, query, msg string) {
			w.Header().Set("X-Amzn-Query-Error", query)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"__type":"com.amazonaws.sqs#`+typ+`","message":"`+msg+`"}`)
		}
		if reason := sigV4(r, body, accessKey, secretKey, region, "sqs"); reason != "" {
			fail(http.StatusForbidden, "InvalidSignatureException", "InvalidSignature;Sender", "signature: "+reason)
			return
		}
		if !strings.Contains(r.Header.Get("Authorization"), "x-amz-target") {
			t.Errorf("X-Amz-Target is not signed")
		}
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessage" ||
			r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
			t.Errorf("request %s %s target %q type %q", r.Method, r.URL, r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"))
		}
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			t.Errorf("body is not JSON: %v", err)
		}
		q, _ := in["QueueUrl"].(string)
		name := strings.TrimPrefix(q, srv.URL+"/123456789012/")
		switch {
		case name == "throttled":
			fail(http.StatusBadRequest, "RequestThrottled", "RequestThrottled;Sender", "Rate exceeded")
			return
		case !queues[name]:
			fail(http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender", "The specified queue does not exist.")
			return
		}
		select {
		case ch <- in:
		default:
		}
		msg, _ := in["MessageBody"].(string)
		sum := md5.Sum([]byte(msg))
		_, _ = io.WriteString(w, `{"MD5OfMessageBody":"`+hex.EncodeToString(sum[:])+`","MessageId":"219f8380-5770-4cc2-8c3e-5c715e145f5e"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func build(t *testing.T, queueURL, secret string) (output.Output, error) {
	t.Helper()
	yaml := "aws:\n  accesskeyid: " + accessKey + "\n  secretaccesskey: " + secret + "\n  region: " + region + "\n  sqs:\n    url: " + queueURL + "\n"
	cfg, err := output.ParseConfig("aws.sqs", "config.yaml", yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Spec().New(cfg, output.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second}})
}

func TestSendMessageSigned(t *testing.T) {
	a := testAlert()
	body, _ := json.Marshal(a)
	tests := []struct {
		name, queue, id string
		want            func(u string) map[string]any
	}{
		{"standard", "falco-alerts", "node-1-b-9-0", func(u string) map[string]any {
			return map[string]any{"QueueUrl": u, "MessageBody": string(body)}
		}},
		{"fifo", "falco-alerts.fifo", "node-1-b-9-0", func(u string) map[string]any {
			return map[string]any{"QueueUrl": u, "MessageBody": string(body),
				"MessageGroupId": "read_sensitive_file_untrusted", "MessageDeduplicationId": "node-1-b-9-0"}
		}},
		{"fifo long id", "falco-alerts.fifo", strings.Repeat("x", 129), func(u string) map[string]any {
			sum := sha256.Sum256([]byte(strings.Repeat("x", 129)))
			return map[string]any{"QueueUrl": u, "MessageBody": string(body),
				"MessageGroupId": "read_sensitive_file_untrusted", "MessageDeduplicationId": hex.EncodeToString(sum[:])}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := sqsAPI(t, map[string]bool{tt.queue: true})
			u := srv.URL + "/123456789012/" + tt.queue
			o, err := build(t, u, secretKey)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Send(context.Background(), output.Delivery{Alert: a, ID: tt.id}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want(u), <-ch); diff != "" {
				t.Errorf("SendMessage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name, queue, secret string
		permanent           bool
	}{
		{"no such queue", "nope", secretKey, true},
		{"throttled", "throttled", secretKey, false},
		{"bad signature", "falco-alerts", "wrongS3cr3tKEY", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := sqsAPI(t, map[string]bool{"falco-alerts": true})
			o, err := build(t, srv.URL+"/123456789012/"+tt.queue, tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), ID: "x"})
			if err == nil || errors.Is(err, output.ErrPermanent) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			if !strings.Contains(err.Error(), "/123456789012/"+tt.queue) || strings.Contains(strings.ToLower(err.Error()), "s3cr3t") {
				t.Errorf("error should name the queue and hide the key: %v", err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, u := range []string{"", "sqs.us-east-2.amazonaws.com/1/q", "https://sqs.us-east-2.amazonaws.com/"} {
		if _, err := build(t, "'"+u+"'", secretKey); err == nil || !strings.Contains(err.Error(), "field url") {
			t.Errorf("url %q: err = %v, want one naming field url", u, err)
		}
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
