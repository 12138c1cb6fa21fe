package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/webhooktest"
)

// BenchmarkWebhookThroughput measures alerts/s from the ALERTS stream to a
// local webhook: b.N alerts are stored first, then one Runner drains them.
func BenchmarkWebhookThroughput(b *testing.B) {
	for _, inflight := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			js := setup(b)
			recv := webhooktest.New(b)
			ctx := context.Background()
			for i := range b.N {
				data, _ := json.Marshal(testAlert(i, schema.PriorityWarning))
				m := &nats.Msg{Subject: "alerts.warning.bench", Data: data, Header: nats.Header{}}
				m.Header.Set(schema.HeaderMsgID, fmt.Sprintf("b-%d", i))
				if _, err := js.PublishMsgAsync(m); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("publish did not complete")
			}
			opts := DefaultOptions()
			opts.InFlight = inflight
			if err := opts.Validate(); err != nil {
				b.Fatal(err)
			}
			r := New(js, newWebhook(b, recv.URL), opts, nil, nil, quietLog())
			b.ResetTimer()
			start := time.Now()
			rctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { _ = r.Run(rctx) })
			got := recv.WaitFor(b.N, 5*time.Minute)
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			wg.Wait()
			if len(got) != b.N {
				b.Fatalf("received %d of %d", len(got), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "alerts/s")
		})
	}
}

// BenchmarkWebhookLatency measures the delay from publishing on alerts.> to
// the webhook receiving the alert, one alert at a time, and reports its
// median and 99th percentile.
func BenchmarkWebhookLatency(b *testing.B) {
	js := setup(b)
	recv := webhooktest.New(b)
	opts := DefaultOptions()
	if err := opts.Validate(); err != nil {
		b.Fatal(err)
	}
	r := New(js, newWebhook(b, recv.URL), opts, nil, nil, quietLog())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	// Warm up the consumer and connections.
	publishAt(b, js, "warm", time.Now())
	recv.WaitFor(1, time.Minute)

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		sent := time.Now()
		publishAt(b, js, fmt.Sprintf("l-%d", i), sent)
		got := recv.WaitFor(i+2, time.Minute)
		if len(got) != i+2 {
			b.Fatalf("alert %d not received", i)
		}
		lat = append(lat, got[i+1].At.Sub(sent))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
}

func publishAt(b *testing.B, js jetstream.JetStream, id string, at time.Time) {
	b.Helper()
	a := testAlert(0, schema.PriorityWarning)
	a.Time = at
	publish(b, js, id, a)
}
