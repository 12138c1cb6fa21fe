// Package webhooktest is a real HTTP receiver on 127.0.0.1 for tests and
// benchmarks of the webhook output: it keeps the alerts it accepted,
// deduplicating by the X-Alert-Id header as a careful receiver would, and
// can be told to fail.
package webhooktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Received is one accepted alert.
type Received struct {
	ID     string
	Alert  schema.Alert
	Header http.Header
	At     time.Time
}

// Receiver is the test server. Safe for concurrent use.
type Receiver struct {
	URL string
	srv *httptest.Server

	mu         sync.Mutex
	failStatus int // answer with this status while non-zero
	failLeft   int // ... for this many more requests (-1: until Recover)
	requests   int
	failed     int
	duplicates int
	seen       map[string]bool
	got        []Received
	notify     chan struct{}
}

// New starts a receiver, closed by t.Cleanup.
func New(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{seen: map[string]bool{}, notify: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/hook"
	t.Cleanup(r.srv.Close)
	return r
}

// FailNext makes the next n requests (-1: all until [Receiver.Recover])
// get status.
func (r *Receiver) FailNext(n, status int) {
	r.mu.Lock()
	r.failStatus, r.failLeft = status, n
	r.mu.Unlock()
}

// Recover ends a failure.
func (r *Receiver) Recover() { r.FailNext(0, 0) }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests++
	if r.failLeft != 0 && r.failStatus != 0 {
		if r.failLeft > 0 {
			r.failLeft--
		}
		r.failed++
		st := r.failStatus
		r.mu.Unlock()
		http.Error(w, "receiver told to fail", st)
		return
	}
	r.mu.Unlock()
	var a schema.Alert
	if err := json.Unmarshal(body, &a); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := req.Header.Get("X-Alert-Id")
	r.mu.Lock()
	if r.seen[id] {
		r.duplicates++
	} else {
		r.seen[id] = true
		r.got = append(r.got, Received{ID: id, Alert: a, Header: req.Header.Clone(), At: time.Now()})
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

// Got returns the alerts accepted so far, in arrival order, without
// duplicates.
func (r *Receiver) Got() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

// Stats returns the request, failure and duplicate counts.
func (r *Receiver) Stats() (requests, failed, duplicates int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.failed, r.duplicates
}

// WaitFor waits until n distinct alerts arrived or timeout passed, and
// returns what arrived. The timeout only bounds a broken run.
func (r *Receiver) WaitFor(n int, timeout time.Duration) []Received {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		have := len(r.got)
		r.mu.Unlock()
		if have >= n {
			return r.Got()
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			return r.Got()
		}
	}
}
