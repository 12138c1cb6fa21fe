package azureeventhubs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

const (
	keyName = "RootManageSharedAccessKey"
	key     = "zH8s3cr3tKeyZmFsY29zaWRla2ljaw+/abcdefghijk="
)

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "12:00:00.000000000: Critical Shell spawned (proc=sh)",
		Priority: schema.PriorityCritical, Rule: "Terminal shell in container", Source: "syscall",
		Tags: []string{"shell"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{"proc.name": "sh"},
	}
}

// hub stands in for the Event Hubs REST endpoint. It checks the SAS token
// as the service does: the resource URI it covers, the key name, expiry
// after now, and the HMAC-SHA256 signature over "<sr>\n<se>" with the key;
// it answers 201 Created, or 401 as Event Hubs does for a bad token.
func hub(t *testing.T, now time.Time, status int) (*httptest.Server, chan map[string]any) {
	t.Helper()
	ch := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/falco-alerts/messages" ||
			r.URL.Query().Get("api-version") != "2014-01" || r.URL.Query().Get("timeout") != "60" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/atom+xml;type=entry;charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if reason := checkSAS(r.Header.Get("Authorization"), "https://peregrine.servicebus.windows.net/falco-alerts", now); reason != "" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "<Error><Code>401</Code><Detail>InvalidSignature: "+reason+"</Detail></Error>")
			return
		}
		m := outputtest.ReadJSON(t, r)
		select {
		case ch <- m:
		default:
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// checkSAS returns why token is not valid for resource at now, or "".
func checkSAS(token, resource string, now time.Time) string {
	rest, ok := strings.CutPrefix(token, "SharedAccessSignature ")
	if !ok {
		return "not a SharedAccessSignature"
	}
	q, err := url.ParseQuery(rest)
	if err != nil {
		return "malformed"
	}
	if q.Get("sr") != resource {
		return "sr " + q.Get("sr")
	}
	if q.Get("skn") != keyName {
		return "skn " + q.Get("skn")
	}
	se, err := strconv.ParseInt(q.Get("se"), 10, 64)
	if err != nil || se <= now.Unix() {
		return "expired"
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(url.QueryEscape(resource) + "\n" + q.Get("se")))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); q.Get("sig") != want {
		return "signature"
	}
	return ""
}

func build(t *testing.T, yaml string, srv *httptest.Server, now time.Time) (output.Output, error) {
	t.Helper()
	cfg, err := output.ParseConfig("azure.eventhub", "config.yaml", yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Spec().New(cfg, output.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		return nil, err
	}
	if srv != nil {
		// Only the transport target moves to the stand-in; the signed
		// resource stays the real hub URI.
		o.(*Output).endpoint = srv.URL
		o.(*Output).now = func() time.Time { return now }
	}
	return o, nil
}

func TestSendPostsSignedEvent(t *testing.T) {
	now := time.Now()
	tests := []struct{ name, yaml string }{
		{"keys", "azure:\n  eventhub:\n    name: falco-alerts\n    namespace: peregrine\n    sharedaccesskeyname: " + keyName + "\n    sharedaccesskey: " + key + "\n"},
		{"connection string", "azure:\n  eventhub:\n    connectionstring: 'Endpoint=sb://peregrine.servicebus.windows.net/;SharedAccessKeyName=" + keyName + ";SharedAccessKey=" + key + ";EntityPath=falco-alerts'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := hub(t, now, http.StatusCreated)
			o, err := build(t, tt.yaml, srv, now)
			if err != nil {
				t.Fatal(err)
			}
			a := testAlert()
			if err := o.Send(context.Background(), output.Delivery{Alert: a, Text: a.Output}); err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			b, _ := json.Marshal(a)
			_ = json.Unmarshal(b, &want)
			if diff := cmp.Diff(want, <-ch); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	now := time.Now()
	yaml := func(k string) string {
		return "azure:\n  eventhub:\n    name: falco-alerts\n    namespace: peregrine.servicebus.windows.net\n    sharedaccesskeyname: " + keyName + "\n    sharedaccesskey: " + k + "\n"
	}
	t.Run("wrong key", func(t *testing.T) {
		srv, _ := hub(t, now, http.StatusCreated)
		o, err := build(t, yaml("wr0ngs3cr3t"), srv, now)
		if err != nil {
			t.Fatal(err)
		}
		err = o.Send(context.Background(), output.Delivery{Alert: testAlert()})
		if !errors.Is(err, output.ErrPermanent) || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("err = %v, want permanent without the key", err)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		srv, _ := hub(t, now, http.StatusCreated)
		o, err := build(t, yaml(key), srv, now.Add(-2*tokenTTL))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Send(context.Background(), output.Delivery{Alert: testAlert()}); !errors.Is(err, output.ErrPermanent) {
			t.Fatalf("err = %v, want the stand-in to refuse an expired token", err)
		}
	})
	t.Run("server busy", func(t *testing.T) {
		srv, _ := hub(t, now, http.StatusServiceUnavailable)
		o, err := build(t, yaml(key), srv, now)
		if err != nil {
			t.Fatal(err)
		}
		err = o.Send(context.Background(), output.Delivery{Alert: testAlert()})
		if err == nil || errors.Is(err, output.ErrPermanent) || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("err = %v, want retryable without the key", err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	for _, yaml := range []string{
		"azure:\n  eventhub:\n    namespace: ns\n    sharedaccesskeyname: k\n    sharedaccesskey: v\n",
		"azure:\n  eventhub:\n    name: h\n    sharedaccesskeyname: k\n    sharedaccesskey: v\n",
		"azure:\n  eventhub:\n    name: h\n    namespace: ns\n    sharedaccesskey: v\n",
		"azure:\n  eventhub:\n    name: h\n    namespace: ns\n    sharedaccesskeyname: k\n",
		"azure:\n  eventhub:\n    connectionstring: 'garbage-s3cr3t'\n",
	} {
		_, err := build(t, yaml, nil, time.Time{})
		if err == nil {
			t.Errorf("%q accepted", yaml)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
}
