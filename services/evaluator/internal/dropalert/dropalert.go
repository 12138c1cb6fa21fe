// Package dropalert turns the collector's synthetic drop events into
// Falco's internal "syscall event drop" alert, rate limited per node.
//
// Falco checks its drop counters every second and, when more than
// threshold percent of the events were lost, runs the configured actions
// (by default log and alert) through a token bucket (syscall_event_drops
// rate and max_burst in falco.yaml). The collector does the counting here
// and reports each period with one [schema.EventDrop] event; this package
// applies the threshold and the bucket.
package dropalert

import (
	"fmt"
	"strconv"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Rule is the rule name of the internal alert, after Falco's
// "Falco internal: syscall event drop".
const Rule = "Peregrine internal: syscall event drop"

// Falco raises its internal alerts at Debug.
const priority = schema.PriorityDebug

// Indexes of the drop event's parameters in its schema spec.
var (
	paramKernel = schema.EventDrop.Param("kernel_drops")
	paramUser   = schema.EventDrop.Param("user_drops")
	paramEvents = schema.EventDrop.Param("events")
	paramPeriod = schema.EventDrop.Param("period_ns")
)

// Options tune the limiter. The zero value means the defaults.
type Options struct {
	// Interval is the time to earn one alert (Falco's 1/rate); default 10s.
	Interval time.Duration
	// Burst is how many alerts may go out at once (max_burst); default 3.
	Burst int
	// Threshold is the percentage of dropped events above which a period
	// alerts, as in Falco; default 0.1.
	Threshold float64
}

// Validate reports a negative knob.
func (o Options) Validate() error {
	switch {
	case o.Interval < 0:
		return fmt.Errorf("drop alert interval %v: must not be negative", o.Interval)
	case o.Burst < 0:
		return fmt.Errorf("drop alert burst %d: must not be negative", o.Burst)
	case o.Threshold < 0:
		return fmt.Errorf("drop alert threshold %v: must not be negative", o.Threshold)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Interval == 0 {
		o.Interval = 10 * time.Second
	}
	if o.Burst == 0 {
		o.Burst = 3
	}
	if o.Threshold == 0 {
		o.Threshold = 0.1
	}
	return o
}

// maxNodes bounds the per-node buckets; past it the oldest bucket is
// forgotten, which at worst lets that node alert once more.
const maxNodes = 4096

// Limiter decides which drop events alert. Buckets are per node and
// refill by the events' own timestamps, so the outcome does not depend on
// when a batch is processed (a replay or `evaluator test` gives the same
// alerts). Not safe for concurrent use: guard it or keep one per worker.
type Limiter struct {
	opts    Options
	buckets map[string]*bucket
	order   []string // insertion order, for eviction
}

type bucket struct {
	tokens float64
	last   int64 // ns epoch of the last refill
}

// New returns a limiter; it returns an error when opts is invalid.
func New(opts Options) (*Limiter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Limiter{opts: opts.withDefaults(), buckets: map[string]*bucket{}}, nil
}

// Counts are the numbers one drop event reports.
type Counts struct {
	KernelDrops, UserDrops, Events uint64
	Period                         time.Duration
}

// Drops is the total of lost events.
func (c Counts) Drops() uint64 { return c.KernelDrops + c.UserDrops }

// CountsOf reads the parameters of a drop event. ok is false for any
// other type.
func CountsOf(ev *schema.Event) (c Counts, ok bool) {
	if ev.Type != schema.EventDrop {
		return Counts{}, false
	}
	get := func(i int) uint64 {
		a, _ := ev.Arg(i)
		return uint64(a.Int)
	}
	return Counts{KernelDrops: get(paramKernel), UserDrops: get(paramUser), Events: get(paramEvents),
		Period: time.Duration(get(paramPeriod))}, true
}

// Check returns the alert for a drop event of node, and false when the
// event is not a drop, is under the threshold or the bucket is empty.
func (l *Limiter) Check(node, hostname string, ev *schema.Event) (schema.Alert, bool) {
	c, ok := CountsOf(ev)
	if !ok || c.Drops() == 0 {
		return schema.Alert{}, false
	}
	ratio := float64(c.Drops()) * 100
	if c.Events > 0 {
		ratio /= float64(c.Events)
	}
	if ratio <= l.opts.Threshold || !l.take(node, ev.Ts) {
		return schema.Alert{}, false
	}
	return Alert(hostname, ev.Ts, c), true
}

func (l *Limiter) take(node string, ts int64) bool {
	b := l.buckets[node]
	if b == nil {
		if len(l.order) >= maxNodes {
			delete(l.buckets, l.order[0])
			l.order = l.order[1:]
		}
		b = &bucket{tokens: float64(l.opts.Burst), last: ts}
		l.buckets[node] = b
		l.order = append(l.order, node)
	}
	if ts > b.last {
		b.tokens += float64(ts-b.last) / float64(l.opts.Interval)
		if max := float64(l.opts.Burst); b.tokens > max {
			b.tokens = max
		}
		b.last = ts
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Alert builds the internal alert for c at ts (ns epoch). Falco writes its
// drop counters as strings in output_fields, and so does this, so that
// consumers of Falco's alert keep working.
func Alert(hostname string, ts int64, c Counts) schema.Alert {
	period := "in last second"
	if c.Period > 0 && c.Period != time.Second {
		period = "in last " + c.Period.String()
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	return schema.Alert{
		Hostname: hostname,
		Output: fmt.Sprintf("Peregrine internal: syscall event drop. %d system calls dropped %s.",
			c.Drops(), period),
		OutputFields: map[string]any{
			"n_evts":               u(c.Events),
			"n_drops":              u(c.Drops()),
			"n_drops_buffer_total": u(c.KernelDrops),
			"n_drops_user":         u(c.UserDrops),
			"period_ns":            u(uint64(c.Period)),
		},
		Priority: priority,
		Rule:     Rule,
		Source:   "syscall",
		Tags:     []string{},
		Time:     time.Unix(0, ts).UTC(),
	}
}
