package bus

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func TestStreamConfigs(t *testing.T) {
	tests := []struct {
		name string
		got  jetstream.StreamConfig
		want jetstream.StreamConfig
	}{
		{
			name: "raw defaults",
			got:  RawStream(StreamLimits{}),
			want: jetstream.StreamConfig{
				Name: schema.StreamRaw, Subjects: []string{schema.SubjectRawAll},
				Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld,
				MaxAge: time.Hour, MaxBytes: 1 << 30, Replicas: 1,
			},
		},
		{
			name: "enriched with limits",
			got:  EnrichedStream(StreamLimits{MaxAge: time.Minute, MaxBytes: 1 << 20, Duplicates: time.Hour, Replicas: 3, Memory: true}),
			want: jetstream.StreamConfig{
				Name: schema.StreamEnriched, Subjects: []string{schema.SubjectEnrichedAll},
				Retention: jetstream.WorkQueuePolicy, Storage: jetstream.MemoryStorage, Discard: jetstream.DiscardOld,
				// The duplicate window is cut to MaxAge, which JetStream requires.
				MaxAge: time.Minute, MaxBytes: 1 << 20, Duplicates: time.Minute, Replicas: 3,
			},
		},
		{
			name: "alerts defaults",
			got:  AlertsStream(StreamLimits{}),
			want: jetstream.StreamConfig{
				Name: schema.StreamAlerts, Subjects: []string{schema.SubjectAlertsAll},
				Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld,
				MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: 1,
			},
		},
		{
			name: "dead letters with age",
			got:  DeadLetterStream(StreamLimits{MaxAge: 48 * time.Hour}),
			want: jetstream.StreamConfig{
				Name: schema.StreamDeadLetter, Subjects: []string{schema.SubjectDeadLetterAll},
				Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld,
				MaxAge: 48 * time.Hour, MaxBytes: 1 << 30, Replicas: 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got, cmpopts.IgnoreFields(jetstream.StreamConfig{}, "Description")); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEnsureStreamsIdempotent creates the standard streams twice, then with
// changed limits, on a real server, and checks what the server holds.
func TestEnsureStreamsIdempotent(t *testing.T) {
	env := newEnv(t)
	ctx := testContext(t)
	for range 2 {
		if err := env.conn.EnsureStreams(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Messages survive an update of the limits.
	env.publishSync(t, schema.AlertSubject(schema.PriorityWarning, "r"), 3, "alert")
	changed := AlertsStream(StreamLimits{MaxAge: 24 * time.Hour, MaxBytes: 1 << 20})
	if err := env.conn.EnsureStreams(ctx, changed); err != nil {
		t.Fatal(err)
	}
	names := map[string]jetstream.StreamConfig{}
	for _, cfg := range Streams() {
		names[cfg.Name] = cfg
	}
	names[changed.Name] = changed
	for name, want := range names {
		s, err := env.conn.JS.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		got := s.CachedInfo().Config
		opt := cmp.Comparer(func(a, b jetstream.StreamConfig) bool {
			return a.Name == b.Name && cmp.Equal(a.Subjects, b.Subjects) && a.Retention == b.Retention &&
				a.Storage == b.Storage && a.Discard == b.Discard && a.MaxAge == b.MaxAge && a.MaxBytes == b.MaxBytes
		})
		if !cmp.Equal(want, got, opt) {
			t.Errorf("stream %s: server has %+v, want %+v", name, got, want)
		}
	}
	if got := env.streamMsgs(t, schema.StreamAlerts); got != 3 {
		t.Errorf("ALERTS holds %d messages after update, want 3", got)
	}
}

// TestEnsureStreamRefusedChange checks that a change JetStream refuses is
// returned with the stream's name.
func TestEnsureStreamRefusedChange(t *testing.T) {
	env := newEnv(t)
	ctx := testContext(t)
	if err := env.conn.EnsureStreams(ctx, AlertsStream(StreamLimits{})); err != nil {
		t.Fatal(err)
	}
	mem := AlertsStream(StreamLimits{Memory: true})
	_, err := env.conn.EnsureStream(ctx, mem)
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("changing the storage type: got %v, want a JetStream API error", err)
	}
	if want := "stream " + schema.StreamAlerts + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
}
