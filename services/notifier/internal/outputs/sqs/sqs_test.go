package sqs

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
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
	return sqsAPIFor(t, queues, outputtest.Keys{AccessKeyID: accessKey, SecretAccessKey: secretKey})
}

// sqsAPIFor is sqsAPI for requests signed by keys; with a session token,
// the request must carry it in X-Amz-Security-Token.
func sqsAPIFor(t *testing.T, queues map[string]bool, keys outputtest.Keys) (*httptest.Server, chan map[string]any) {
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
		if got := r.Header.Get("X-Amz-Security-Token"); got != keys.SessionToken {
			fail(http.StatusForbidden, "InvalidClientTokenId", "InvalidClientTokenId;Sender", "The security token included in the request is invalid.")
			return
		}
		if reason := outputtest.SigV4(r, body, keys.AccessKeyID, keys.SecretAccessKey, region, "sqs"); reason != "" {
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
	return buildYAML(t, "aws:\n  accesskeyid: "+accessKey+"\n  secretaccesskey: "+secret+"\n  region: "+region+"\n  sqs:\n    url: "+queueURL+"\n")
}

func buildYAML(t *testing.T, yaml string) (output.Output, error) {
	t.Helper()
	return outputtest.New(t, Spec(), yaml)
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
