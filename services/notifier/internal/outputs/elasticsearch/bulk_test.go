package elasticsearch

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// bulkItemSeen is one action and document a _bulk request carried.
type bulkItemSeen struct {
	Action string         // the action line as sent
	Doc    map[string]any // the document line, decoded
}

// bulkCluster stands in for Elasticsearch's _bulk API: it checks method,
// path, content type, encoding and auth, parses the NDJSON body and
// answers with one item per action, in order, as Elasticsearch does: 201
// created, 409 version_conflict for an id created before, 400
// mapper_parsing_exception for an alert whose rule is "mapping conflict",
// 429 es_rejected_execution_exception for rule "busy".
type bulkCluster struct {
	t        *testing.T
	auth     func(*http.Request) bool
	gzip     bool
	pipeline string

	mu    sync.Mutex
	ids   map[string]bool
	reqs  [][]bulkItemSeen
	hdr   http.Header
	fails int // answer 503 to this many requests first
}

func newBulkCluster(t *testing.T, c *bulkCluster) *httptest.Server {
	t.Helper()
	c.t, c.ids = t, map[string]bool{}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}

func (c *bulkCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
		c.t.Errorf("request %s %s, want POST /_bulk", r.Method, r.URL)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if got := r.URL.Query().Get("pipeline"); got != c.pipeline {
		c.t.Errorf("pipeline %q, want %q", got, c.pipeline)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		c.t.Errorf("Content-Type %q, want application/x-ndjson", ct)
	}
	if !c.auth(r) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user"},"status":401}`)
		return
	}
	if c.fails > 0 {
		c.fails--
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":{"type":"cluster_block_exception"},"status":503}`)
		return
	}
	c.hdr = r.Header.Clone()
	var body io.Reader = r.Body
	if enc := r.Header.Get("Content-Encoding"); c.gzip != (enc == "gzip") {
		c.t.Errorf("Content-Encoding %q, gzip wanted: %v", enc, c.gzip)
	}
	if c.gzip {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			c.t.Errorf("body is not gzip: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		body = zr
	}
	var seen []bulkItemSeen
	var items []string
	errorsFlag := false
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		act := sc.Text()
		if !sc.Scan() {
			c.t.Errorf("action %s without a document line", act)
			break
		}
		var a map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(act), &a); err != nil || len(a) != 1 {
			c.t.Errorf("action line %q: %v", act, err)
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			c.t.Errorf("document line %q: %v", sc.Text(), err)
		}
		seen = append(seen, bulkItemSeen{act, doc})
		for op, m := range a {
			status, errBody := http.StatusCreated, ""
			switch {
			case doc["rule"] == "mapping conflict":
				status, errBody = http.StatusBadRequest, `,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [output_fields.proc.pid] of type [long]"}`
			case doc["rule"] == "busy":
				status, errBody = http.StatusTooManyRequests, `,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}`
			case op == "create" && c.ids[m.Index+"/"+m.ID]:
				status, errBody = http.StatusConflict, `,"error":{"type":"version_conflict_engine_exception","reason":"document already exists"}`
			}
			if status == http.StatusCreated && m.ID != "" {
				c.ids[m.Index+"/"+m.ID] = true
			}
			if status >= 300 {
				errorsFlag = true
			}
			items = append(items, fmt.Sprintf(`{%q:{"_index":%q,"_id":%q,"status":%d%s}}`, op, m.Index, m.ID, status, errBody))
		}
	}
	c.reqs = append(c.reqs, seen)
	_, _ = fmt.Fprintf(w, `{"took":3,"errors":%v,"items":[%s]}`, errorsFlag, strings.Join(items, ","))
}

func (c *bulkCluster) requests() [][]bulkItemSeen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reqs
}

// sendAll sends every delivery at once, as the core does with inflight N,
// and returns each one's error. Each Send is bounded as the core bounds it
// (sendtimeout), so a batch that never leaves fails instead of hanging.
func sendAll(o output.Output, ds []output.Delivery) []error {
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			errs[i] = o.Send(ctx, d)
		})
	}
	wg.Wait()
	return errs
}

func alertJSON(t *testing.T, d output.Delivery) map[string]any {
	t.Helper()
	var m map[string]any
	b, err := json.Marshal(d.Alert)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func byAction(items []bulkItemSeen) []bulkItemSeen {
	items = append([]bulkItemSeen(nil), items...)
	sort.Slice(items, func(i, j int) bool { return items[i].Action < items[j].Action })
	return items
}

func TestBulkRequest(t *testing.T) {
	c := &bulkCluster{gzip: true, pipeline: "falco-geoip", auth: func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == "elastic" && p == "changeme-s3cr3t"
	}}
	srv := newBulkCluster(t, c)
	o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"\n  username: elastic\n  password: changeme-s3cr3t\n"+
		"  pipeline: falco-geoip\n  enablecompression: true\n  customheaders:\n    X-Opaque-Id: peregrine\n"+
		"  inflight: 3\n  batching:\n    enabled: true\n    flushinterval: 1h\n")
	if err != nil {
		t.Fatal(err)
	}
	var ds []output.Delivery
	for i, id := range []string{"node-1-boot/1-7", "node-1-boot/1-8", ""} {
		a := testAlert()
		a.Rule = fmt.Sprintf("rule %d", i)
		ds = append(ds, output.Delivery{Alert: a, ID: id, Text: a.Output})
	}
	for i, err := range sendAll(o, ds) {
		if err != nil {
			t.Errorf("Send %d: %v", i, err)
		}
	}
	// Three Sends at once with inflight 3 make one request; the flush
	// interval of an hour never fires.
	want := [][]bulkItemSeen{byAction([]bulkItemSeen{
		{`{"create":{"_index":"falco-2026.12.01","_id":"node-1-boot/1-7"}}`, alertJSON(t, ds[0])},
		{`{"create":{"_index":"falco-2026.12.01","_id":"node-1-boot/1-8"}}`, alertJSON(t, ds[1])},
		{`{"index":{"_index":"falco-2026.12.01"}}`, alertJSON(t, ds[2])},
	})}
	got := c.requests()
	for i := range got {
		got[i] = byAction(got[i])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bulk requests (-want +got):\n%s", diff)
	}
	if h := c.hdr.Get("X-Opaque-Id"); h != "peregrine" {
		t.Errorf("custom header X-Opaque-Id = %q", h)
	}
}

func TestBulkPartialFailure(t *testing.T) {
	c := &bulkCluster{auth: func(r *http.Request) bool {
		// Auth schemes are case-insensitive (RFC 9110 11.1): the official
		// client sends "APIKey", Elasticsearch's docs write "ApiKey".
		scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		return strings.EqualFold(scheme, "ApiKey") && key == "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
	}}
	srv := newBulkCluster(t, c)
	c.ids["falco-2026.12.01/already"] = true // indexed by an earlier try whose answer was lost
	o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"\n  apikey: VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==\n"+
		"  inflight: 4\n  batching:\n    enabled: true\n    flushinterval: 1h\n")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule, id  string
		ok        bool
		permanent bool
	}{
		{"Read sensitive file untrusted", "fresh", true, false},
		{"Read sensitive file untrusted", "already", true, false},
		{"mapping conflict", "m", false, true},
		{"busy", "b", false, false},
	}
	var ds []output.Delivery
	for _, tt := range tests {
		a := testAlert()
		a.Rule = tt.rule
		ds = append(ds, output.Delivery{Alert: a, ID: tt.id, Text: a.Output})
	}
	errs := sendAll(o, ds)
	for i, tt := range tests {
		err := errs[i]
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s/%s: %v, want success", tt.rule, tt.id, err)
		case !tt.ok && err == nil:
			t.Errorf("%s/%s: success, want the item's failure", tt.rule, tt.id)
		case !tt.ok && errors.Is(err, output.ErrPermanent) != tt.permanent:
			t.Errorf("%s/%s: %v, want permanent=%v", tt.rule, tt.id, err, tt.permanent)
		case !tt.ok && !strings.Contains(err.Error(), "falco-2026.12.01"):
			t.Errorf("%s/%s: error does not name the index: %v", tt.rule, tt.id, err)
		}
	}
	if n := len(c.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestBulkRequestFailures(t *testing.T) {
	t.Run("wrong password fails every alert, permanently, hidden", func(t *testing.T) {
		c := &bulkCluster{auth: func(*http.Request) bool { return false }}
		srv := newBulkCluster(t, c)
		o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"\n  username: elastic\n  password: wrong-s3cr3t\n  inflight: 2\n  batching:\n    enabled: true\n    flushinterval: 1h\n")
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range sendAll(o, []output.Delivery{{Alert: testAlert(), ID: "1"}, {Alert: testAlert(), ID: "2"}}) {
			if !errors.Is(err, output.ErrPermanent) || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "401") {
				t.Errorf("Send %d: err = %v, want permanent 401 without the password", i, err)
			}
		}
	})
	t.Run("unavailable is retried", func(t *testing.T) {
		c := &bulkCluster{auth: func(*http.Request) bool { return true }, fails: 1}
		srv := newBulkCluster(t, c)
		o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"\n  batching:\n    enabled: true\n")
		if err != nil {
			t.Fatal(err)
		}
		d := output.Delivery{Alert: testAlert(), ID: "x"}
		if err := o.Send(context.Background(), d); err == nil || errors.Is(err, output.ErrPermanent) {
			t.Fatalf("err = %v, want retryable", err)
		}
		if err := o.Send(context.Background(), d); err != nil {
			t.Fatalf("retry: %v", err)
		}
	})
}

// TestBulkFlushTriggers checks the other two reasons a request leaves: the
// body reaching batchsize (here 1 byte: every alert alone) and the flush
// interval (inflight 10 never fills with 2 alerts).
func TestBulkFlushTriggers(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantItems  int // alerts across all requests
		wantReqs   int // 0: any number
	}{
		{"batchsize", "  inflight: 10\n  batching:\n    enabled: true\n    batchsize: 1\n    flushinterval: 1h\n", 2, 2},
		{"flushinterval", "  inflight: 10\n  batching:\n    enabled: true\n    flushinterval: 10ms\n", 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &bulkCluster{auth: func(*http.Request) bool { return true }}
			srv := newBulkCluster(t, c)
			o, err := build(t, "elasticsearch:\n  hostport: "+srv.URL+"\n"+tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			for i, err := range sendAll(o, []output.Delivery{{Alert: testAlert(), ID: "1"}, {Alert: testAlert(), ID: "2"}}) {
				if err != nil {
					t.Errorf("Send %d: %v", i, err)
				}
			}
			reqs, items := c.requests(), 0
			for _, r := range reqs {
				items += len(r)
			}
			if items != tt.wantItems || (tt.wantReqs != 0 && len(reqs) != tt.wantReqs) {
				t.Errorf("%d items in %d requests, want %d in %d", items, len(reqs), tt.wantItems, tt.wantReqs)
			}
		})
	}
}

func TestBulkConfigErrors(t *testing.T) {
	for _, yaml := range []string{
		"elasticsearch:\n  hostport: http://es:9200\n  batching:\n    enabled: true\n    batchsize: 0\n",
		"elasticsearch:\n  hostport: http://es:9200\n  batching:\n    enabled: true\n    flushinterval: 0s\n",
		"elasticsearch:\n  hostport: http://es:9200\n  pipeline: a/b\n",
	} {
		if _, err := build(t, yaml); err == nil {
			t.Errorf("%q accepted", yaml)
		}
	}
}
