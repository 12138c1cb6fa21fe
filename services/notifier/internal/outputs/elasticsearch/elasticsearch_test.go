package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "23:59:59.000000000: Warning Sensitive file opened (file=/etc/shadow)",
		Priority: schema.PriorityWarning, Rule: "Read sensitive file untrusted", Source: "syscall",
		Tags: []string{"filesystem"}, Time: time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC),
		OutputFields: map[string]any{"fd.name": "/etc/shadow", "proc.pid": json.Number("42")},
	}
}

// cluster stands in for Elasticsearch's index API: it keeps documents by
// index and id, answers 201 with Elasticsearch's result body, 409
// version_conflict for an id created twice, and 401 when the credentials
// do not match.
type cluster struct {
	mu    sync.Mutex
	docs  map[string]map[string]any // "index/id" -> document
	reqs  []string                  // "METHOD path?query"
	auth  func(*http.Request) bool
	fails int // answer 503 this many times first
}

func newCluster(t *testing.T, auth func(*http.Request) bool) (*cluster, *httptest.Server) {
	t.Helper()
	c := &cluster{docs: map[string]map[string]any{}, auth: auth}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.reqs = append(c.reqs, r.Method+" "+r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		if !c.auth(r) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user"},"status":401}`)
			return
		}
		if c.fails > 0 {
			c.fails--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
		for i, p := range parts {
			parts[i], _ = url.PathUnescape(p)
		}
		var index, id string
		switch {
		case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "_doc":
			index, id = parts[0], "auto"
		case r.Method == http.MethodPut && len(parts) == 3 && parts[1] == "_doc" && r.URL.Query().Get("op_type") == "create":
			index, id = parts[0], parts[2]
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if _, ok := c.docs[index+"/"+id]; ok {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":{"type":"version_conflict_engine_exception","reason":"document already exists"},"status":409}`)
			return
		}
		var doc map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("document is not JSON: %v", err)
		}
		c.docs[index+"/"+id] = doc
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"_index":"`+index+`","_id":"`+id+`","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}`)
	}))
	t.Cleanup(srv.Close)
	return c, srv
}

func build(t *testing.T, yaml string) (output.Output, error) {
	t.Helper()
	return outputtest.New(t, Spec(), yaml)
}

func anyAuth(*http.Request) bool { return true }

func TestSendIndexesOnceByID(t *testing.T) {
	c, srv := newCluster(t, func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == "elastic" && p == "changeme-s3cr3t"
	})
	o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"\n  username: elastic\n  password: changeme-s3cr3t\n  customheaders:\n    X-Opaque-Id: peregrine\n")
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert()
	d := output.Delivery{Alert: a, ID: "node-1-boot/1-7", Text: a.Output}
	for i := 0; i < 2; i++ { // the second Send is a retry after a lost answer
		if err := o.Send(context.Background(), d); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	wantReqs := []string{
		"PUT /falco-2026.12.01/_doc/node-1-boot%2F1-7?op_type=create",
		"PUT /falco-2026.12.01/_doc/node-1-boot%2F1-7?op_type=create",
	}
	if diff := cmp.Diff(wantReqs, c.reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	var want map[string]any
	b, _ := json.Marshal(a)
	_ = json.Unmarshal(b, &want)
	if diff := cmp.Diff(map[string]map[string]any{"falco-2026.12.01/node-1-boot/1-7": want}, c.docs); diff != "" {
		t.Errorf("documents (-want +got):\n%s", diff)
	}
}

func TestSendWithoutIDAndAPIKey(t *testing.T) {
	c, srv := newCluster(t, func(r *http.Request) bool {
		return r.Header.Get("Authorization") == "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
	})
	o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"/\n  index: security\n  suffix: monthly\n  apikey: VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"POST /security-2026.12/_doc"}, c.reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestIndexName(t *testing.T) {
	at := time.Date(2026, 12, 1, 23, 30, 0, 0, time.FixedZone("X", -2*3600)) // 2026-12-02 01:30 UTC
	tests := map[string]string{
		SuffixDaily: "falco-2026.12.02", SuffixMonthly: "falco-2026.12", SuffixAnnually: "falco-2026", SuffixNone: "falco",
	}
	for suffix, want := range tests {
		if got := IndexName("falco", suffix, at); got != want {
			t.Errorf("IndexName(%s) = %q, want %q", suffix, got, want)
		}
	}
}

func TestSendFailures(t *testing.T) {
	t.Run("wrong password is permanent and hidden", func(t *testing.T) {
		_, srv := newCluster(t, func(*http.Request) bool { return false })
		o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"\n  username: elastic\n  password: wrong-s3cr3t\n")
		if err != nil {
			t.Fatal(err)
		}
		err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), ID: "x", Text: "x"})
		if !errors.Is(err, output.ErrPermanent) || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("err = %v, want permanent without the password", err)
		}
		if !strings.Contains(err.Error(), "falco-2026.12.01") {
			t.Errorf("error does not name the index: %v", err)
		}
	})
	t.Run("unavailable is retried", func(t *testing.T) {
		c, srv := newCluster(t, anyAuth)
		c.fails = 1
		o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"\n")
		if err != nil {
			t.Fatal(err)
		}
		d := output.Delivery{Alert: testAlert(), ID: "x", Text: "x"}
		if err := o.Send(context.Background(), d); err == nil || errors.Is(err, output.ErrPermanent) {
			t.Fatalf("err = %v, want retryable", err)
		}
		if err := o.Send(context.Background(), d); err != nil {
			t.Fatalf("retry: %v", err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	for _, yaml := range []string{
		"elasticsearch:\n  index: x\n",
		"elasticsearch:\n  hostport: http://es:9200\n  index: Falco\n",
		"elasticsearch:\n  hostport: http://es:9200\n  suffix: weekly\n",
		"elasticsearch:\n  hostport: http://es:9200\n  username: u\n  apikey: k\n",
	} {
		if _, err := build(t, yaml); err == nil {
			t.Errorf("%q accepted", yaml)
		}
	}
}
