package outputtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Request is what a [JSONServer] received: one request whose body is a
// JSON object.
type Request struct {
	Method, Path, ContentType string
	Header                    http.Header
	Body                      map[string]any
}

// JSONServer stands in for a service that takes a JSON object by HTTP
// (chat webhooks and the like): it answers every request with status and
// reply, with Content-Type replyType unless that is empty, and passes the
// first request not yet read on the channel. A body that is not a JSON
// object fails t.
func JSONServer(t *testing.T, status int, replyType, reply string) (*httptest.Server, <-chan Request) {
	t.Helper()
	ch := make(chan Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := ReadJSON(t, r)
		select {
		case ch <- Request{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Header: r.Header.Clone(), Body: m}:
		default:
		}
		if replyType != "" {
			w.Header().Set("Content-Type", replyType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// ReadJSON reads r's body as a JSON object; one that is not fails t.
func ReadJSON(t testing.TB, r *http.Request) map[string]any {
	t.Helper()
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("body is not a JSON object: %v", err)
	}
	return m
}
