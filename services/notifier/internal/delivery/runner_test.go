package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/metrics"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/natstest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/webhook"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/webhooktest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// setup starts a server with the ALERTS and DEADLETTER streams.
func setup(t testing.TB) jetstream.JetStream {
	t.Helper()
	s := natstest.Server(t, "")
	_, js := natstest.Connect(t, s)
	ctx := context.Background()
	for _, cfg := range []jetstream.StreamConfig{bus.AlertsStream(bus.StreamLimits{}), bus.DeadLetterStream(bus.StreamLimits{})} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return js
}

func testAlert(i int, p schema.Priority) *schema.Alert {
	return &schema.Alert{
		Rule: "Read sensitive file untrusted", Priority: p, Source: "syscall", Hostname: "node-1",
		Time:         time.Date(2026, 12, 1, 20, 0, 0, i, time.UTC),
		Output:       fmt.Sprintf("Sensitive file opened for reading by non-trusted program (n=%d)", i),
		OutputFields: map[string]any{"proc.name": "cat", "n": json.Number(fmt.Sprint(i))},
		Tags:         []string{"filesystem", "mitre_credential_access"},
	}
}

func publish(t testing.TB, js jetstream.JetStream, id string, a *schema.Alert) {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	m := &nats.Msg{Subject: schema.AlertSubject(a.Priority, a.Rule), Data: b, Header: nats.Header{}}
	m.Header.Set(schema.HeaderMsgID, id)
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func newWebhook(t testing.TB, url string) output.Output {
	t.Helper()
	cfg, err := output.ParseConfig("webhook", "test.yaml", "webhook:\n  address: "+url+"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	out, err := webhook.New(cfg, output.Env{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fastOptions(t *testing.T, mod func(*Options)) Options {
	t.Helper()
	o := DefaultOptions()
	o.Backoff, o.MaxBackoff, o.SendTimeout = 5*time.Millisecond, 50*time.Millisecond, 5*time.Second
	if mod != nil {
		mod(&o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

// start runs r until the test ends and checks Run's result.
func start(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ids(got []webhooktest.Received) []string {
	s := make([]string, len(got))
	for i, g := range got {
		s[i] = g.ID
	}
	return s
}

func TestOutageThenRecoveryDeliversEachOnceInOrder(t *testing.T) {
	js := setup(t)
	recv := webhooktest.New(t)
	recv.FailNext(-1, http.StatusInternalServerError)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	start(t, New(js, newWebhook(t, recv.URL), fastOptions(t, nil), nil, m, quietLog()))

	const n = 40
	var want []string
	for i := range n {
		id := fmt.Sprintf("alert-%02d", i)
		want = append(want, id)
		publish(t, js, id, testAlert(i, schema.PriorityWarning))
	}
	// Let the target fail for a while: wait until it refused a few
	// attempts, then bring it back.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, failed, _ := recv.Stats(); failed >= 5 {
			break
		}
	}
	recv.Recover()
	got := recv.WaitFor(n, 60*time.Second)
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Fatalf("delivered ids (-want +got):\n%s", diff)
	}
	_, failed, dups := recv.Stats()
	if failed < 5 || dups != 0 {
		t.Errorf("failed %d (want >= 5), duplicates %d (want 0)", failed, dups)
	}
	// The counter moves just after the receiver answered.
	delivered := m.Delivered.WithLabelValues("webhook", "Warning")
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(delivered) < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := testutil.ToFloat64(delivered); got != n {
		t.Errorf("delivered metric = %v, want %d", got, n)
	}
	if got := testutil.ToFloat64(m.Failed.WithLabelValues("webhook", "Warning")); got < 5 {
		t.Errorf("failed metric = %v, want >= 5", got)
	}
	if got := got[0].Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
}

func deadLetters(t *testing.T, js jetstream.JetStream, outputName string, n int) []jetstream.Msg {
	t.Helper()
	cons, err := js.OrderedConsumer(context.Background(), schema.StreamDeadLetter, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{DeadLetterSubject(outputName)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jetstream.Msg
	deadline := time.Now().Add(30 * time.Second)
	for len(msgs) < n && time.Now().Before(deadline) {
		batch, err := cons.Fetch(n-len(msgs), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

func TestDeadLetters(t *testing.T) {
	js := setup(t)
	recv := webhooktest.New(t)
	start(t, New(js, newWebhook(t, recv.URL), fastOptions(t, func(o *Options) { o.MaxDeliver = 3 }), nil, nil, quietLog()))

	// A permanent failure: dead-lettered on the first attempt.
	recv.FailNext(1, http.StatusBadRequest)
	publish(t, js, "bad-request", testAlert(1, schema.PriorityError))
	dl := deadLetters(t, js, "webhook", 1)
	// Retryable failures beyond MaxDeliver.
	recv.FailNext(3, http.StatusServiceUnavailable)
	publish(t, js, "unavailable", testAlert(2, schema.PriorityError))
	dl = append(dl, deadLetters(t, js, "webhook", 2)[1:]...)
	// An undecodable message.
	if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: "alerts.error.x", Data: []byte("{not json"),
		Header: nats.Header{schema.HeaderMsgID: []string{"garbage"}}}); err != nil {
		t.Fatal(err)
	}
	dl = append(dl, deadLetters(t, js, "webhook", 3)[2:]...)
	// And the output goes on: a good alert after them arrives.
	publish(t, js, "good", testAlert(3, schema.PriorityError))
	if got := recv.WaitFor(1, 30*time.Second); len(got) != 1 || got[0].ID != "good" {
		t.Fatalf("after dead letters got %v, want [good]", ids(got))
	}

	type dead struct{ ID, Subject, Deliveries, ErrorHas string }
	var got []dead
	wantErr := []string{"status 400", "status 503", "decode alert"}
	for i, m := range dl {
		h := m.Headers()
		e := h.Get(schema.HeaderError)
		has := ""
		if i < len(wantErr) && strings.Contains(e, wantErr[i]) {
			has = wantErr[i]
		}
		got = append(got, dead{h.Get(HeaderAlertID), h.Get(schema.HeaderOrigSubject), h.Get(HeaderDeliveries), has})
		if m.Subject() != "deadletter.notifier.webhook" {
			t.Errorf("dead letter subject %q", m.Subject())
		}
	}
	want := []dead{
		{"bad-request", "alerts.error.read_sensitive_file_untrusted", "1", "status 400"},
		{"unavailable", "alerts.error.read_sensitive_file_untrusted", "3", "status 503"},
		{"garbage", "alerts.error.x", "1", "decode alert"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}

func TestFilters(t *testing.T) {
	js := setup(t)
	recv := webhooktest.New(t)
	opts := fastOptions(t, func(o *Options) {
		o.MinimumPriority = "error"
		o.Tags = []string{"filesystem"}
	})
	start(t, New(js, newWebhook(t, recv.URL), opts, nil, nil, quietLog()))
	notag := testAlert(3, schema.PriorityCritical)
	notag.Tags = []string{"network"}
	publish(t, js, "warning", testAlert(1, schema.PriorityWarning))
	publish(t, js, "no-tag", notag)
	publish(t, js, "critical", testAlert(2, schema.PriorityCritical))
	publish(t, js, "error", testAlert(4, schema.PriorityError))
	// A test alert bypasses the filters.
	b, _ := json.Marshal(testAlert(5, schema.PriorityDebug))
	if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: "alerts.debug.test", Data: b,
		Header: nats.Header{schema.HeaderMsgID: []string{"test"}, HeaderTest: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	got := recv.WaitFor(3, 30*time.Second)
	if diff := cmp.Diff([]string{"critical", "error", "test"}, ids(got)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{"defaults", func(*Options) {}, ""},
		{"bad priority", func(o *Options) { o.MinimumPriority = "loud" }, "field minimumpriority"},
		{"bad template", func(o *Options) { o.MessageFormat = "{{.Rule" }, "field messageformat"},
		{"zero maxdeliver", func(o *Options) { o.MaxDeliver = 0 }, "field maxdeliver"},
		{"backoff order", func(o *Options) { o.MaxBackoff = time.Millisecond }, "field maxbackoff"},
		{"deliver policy", func(o *Options) { o.DeliverPolicy = "last" }, "field deliverpolicy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.mod(&o)
			err := o.Validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// syncBuffer is a log sink for a Runner's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSecretsNeverLogged(t *testing.T) {
	js := setup(t)
	recv := webhooktest.New(t)
	recv.FailNext(-1, http.StatusInternalServerError)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	// The token sits in the URL path and query, as in Slack or Teams hooks.
	out := newWebhook(t, recv.URL+"/T0KEN-S3CRET?sig=S1GNATURE")
	start(t, New(js, out, fastOptions(t, func(o *Options) { o.MaxDeliver = 3 }), nil, nil, log))
	publish(t, js, "s-1", testAlert(1, schema.PriorityCritical))
	dl := deadLetters(t, js, "webhook", 1)
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	for _, where := range []string{logs.String(), dl[0].Headers().Get(schema.HeaderError)} {
		if !strings.Contains(where, "status 500") {
			t.Errorf("log or error lacks the failure: %q", where)
		}
		for _, secret := range []string{"T0KEN-S3CRET", "S1GNATURE"} {
			if strings.Contains(where, secret) {
				t.Errorf("secret %s appears in: %s", secret, where)
			}
		}
	}
}

func TestRunStopsItsGoroutines(t *testing.T) {
	js := setup(t)
	recv := webhooktest.New(t)
	out := newWebhook(t, recv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := New(js, out, fastOptions(t, func(o *Options) { o.InFlight = 8 }), nil, nil, quietLog())
	go func() { done <- r.Run(ctx) }()
	publish(t, js, "g-1", testAlert(1, schema.PriorityError))
	recv.WaitFor(1, 30*time.Second)
	// The server keeps the durable consumer and the HTTP client its idle
	// connection; what must be gone are the Runner's workers and the
	// client's pull subscription.
	leaked := func() string {
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "delivery.(*Runner)") || strings.Contains(g, "jetstream.(*pullConsumer)") ||
				strings.Contains(g, "jetstream.(*pullSubscription)") {
				return g
			}
		}
		return ""
	}
	// While running, the check sees the workers: it can fail.
	if leaked() == "" {
		t.Fatal("no Runner goroutine found while running")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var g string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if g = leaked(); g == "" {
			return
		}
	}
	t.Errorf("goroutine left after Run returned:\n%s", g)
}

func TestReplicasShareTheConsumer(t *testing.T) {
	js := setup(t)
	recv := webhooktest.New(t)
	// Two notifier replicas of the same output: one durable, MaxAckPending 1.
	start(t, New(js, newWebhook(t, recv.URL), fastOptions(t, nil), nil, nil, quietLog()))
	start(t, New(js, newWebhook(t, recv.URL), fastOptions(t, nil), nil, nil, quietLog()))
	const n = 30
	var want []string
	for i := range n {
		id := fmt.Sprintf("rep-%02d", i)
		want = append(want, id)
		publish(t, js, id, testAlert(i, schema.PriorityAlert))
	}
	got := recv.WaitFor(n, 60*time.Second)
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if _, _, dups := recv.Stats(); dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
}

// TestConsumerDeletedIsMadeAgain: an operator deleting the output's
// consumer does not stop delivery, and loses nothing.
func TestConsumerDeletedIsMadeAgain(t *testing.T) {
	js := setup(t)
	recv := webhooktest.New(t)
	start(t, New(js, newWebhook(t, recv.URL), fastOptions(t, nil), nil, nil, quietLog()))
	for i := range 3 {
		publish(t, js, fmt.Sprintf("before-%d", i), testAlert(i, schema.PriorityError))
	}
	recv.WaitFor(3, 30*time.Second)
	// The ack of the third may still be on its way: wait until the server
	// has it, as the Runner's own record does.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c, err := js.Consumer(context.Background(), schema.StreamAlerts, ConsumerName("webhook"))
		if err == nil && c.CachedInfo().AckFloor.Stream >= 3 {
			break
		}
		if err == nil {
			if ci, err := c.Info(context.Background()); err == nil && ci.AckFloor.Stream >= 3 {
				break
			}
		}
	}
	if err := js.DeleteConsumer(context.Background(), schema.StreamAlerts, ConsumerName("webhook")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		publish(t, js, fmt.Sprintf("after-%d", i), testAlert(10+i, schema.PriorityError))
	}
	got := recv.WaitFor(6, 60*time.Second)
	want := []string{"before-0", "before-1", "before-2", "after-0", "after-1", "after-2"}
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	// Usually none is sent again (the new consumer starts after the last
	// settled alert); when the deletion races the re-creation, the server
	// may hand back unacked ones, which the receiver's id check drops.
	_, _, dups := recv.Stats()
	t.Logf("%d alerts sent again after the consumer was made again", dups)
}
