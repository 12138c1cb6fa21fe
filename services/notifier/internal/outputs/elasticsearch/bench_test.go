package elasticsearch

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// BenchmarkSend compares one index request per alert with the _bulk API,
// with 64 Sends at once as the core makes them with inflight 64, against a
// local server that answers as Elasticsearch does without storing
// anything. Reported as alerts/s.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/_bulk" {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"result":"created"}`)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		n := strings.Count(string(raw), "\n") / 2
		items := make([]string, n)
		for i := range items {
			items[i] = `{"create":{"_index":"falco-2026.12.01","status":201}}`
		}
		_, _ = io.WriteString(w, `{"took":1,"errors":false,"items":[`+strings.Join(items, ",")+`]}`)
	}))
	b.Cleanup(srv.Close)
	for _, mode := range []struct{ name, yaml string }{
		{"index", ""},
		{"bulk", "  batching:\n    enabled: true\n"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			cfg, err := output.ParseConfig("elasticsearch", "config.yaml", "elasticsearch:\n  hostport: "+srv.URL+"\n  inflight: 64\n"+mode.yaml, nil)
			if err != nil {
				b.Fatal(err)
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 64
			o, err := Spec().New(cfg, output.Env{HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				b.Fatal(err)
			}
			a := testAlert()
			b.ResetTimer()
			for i := 0; i < b.N; i += 64 {
				var wg sync.WaitGroup
				for j := 0; j < min(64, b.N-i); j++ {
					id := strconv.Itoa(i + j)
					wg.Go(func() {
						if err := o.Send(context.Background(), output.Delivery{Alert: a, ID: id}); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
