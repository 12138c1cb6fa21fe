// Package evaluate runs the events of a batch through a rule set and
// turns the matches, and the collector's drop reports, into alerts with
// their bus subject and a deterministic message id.
//
// The id is derived from the batch's own id, the event's index and the
// rule, so a batch delivered twice (its ack was lost, or a replica died
// after publishing) produces the same ids and JetStream drops the second
// copy of every alert.
package evaluate

import (
	"strconv"
	"sync"

	"github.com/peregrine-rt/peregrine/pkg/rules"
	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
)

// Alert is one alert ready to publish.
type Alert struct {
	Subject string // schema.AlertSubject of its priority and rule
	MsgID   string // Nats-Msg-Id
	Event   int    // index of the event in its batch
	Alert   schema.Alert
}

// Evaluator holds what the workers share: the alerts' hostname and the
// drop alert limiter. Safe for concurrent use; each goroutine evaluates
// through its own [Worker].
type Evaluator struct {
	hostname string

	mu    sync.Mutex // guards drops: the buckets are per node, not per worker
	drops *dropalert.Limiter
}

// New returns an evaluator. hostname overrides the alerts' hostname;
// empty means the node the event came from (the batch's Node).
func New(hostname string, drops dropalert.Options) (*Evaluator, error) {
	l, err := dropalert.New(drops)
	if err != nil {
		return nil, err
	}
	return &Evaluator{hostname: hostname, drops: l}, nil
}

// Worker evaluates events one at a time, reusing its extraction context so
// the hot path does not allocate. Not safe for concurrent use.
type Worker struct {
	e   *Evaluator
	ctx fields.Ctx

	// State of the event being evaluated, read by onMatch: a method value
	// made once instead of a closure per event, which would allocate.
	match   func(*rules.Rule)
	eng     *rules.Engine
	batchID string
	index   int
	emit    func(Alert)
}

// NewWorker returns a worker of e.
func (e *Evaluator) NewWorker() *Worker {
	w := &Worker{e: e}
	w.match = w.onMatch
	return w
}

func (w *Worker) onMatch(r *rules.Rule) {
	a := w.eng.Alert(r, &w.ctx)
	w.emit(Alert{Subject: schema.AlertSubject(a.Priority, a.Rule), MsgID: MsgID(w.batchID, w.index, a.Rule), Event: w.index, Alert: a})
}

// Batch evaluates every event of b against eng and calls emit for each
// alert, in event order. batchID is the batch's bus message id, the base
// of the alerts' ids. It returns the number of events evaluated.
func (w *Worker) Batch(eng *rules.Engine, b *schema.Batch, batchID string, emit func(Alert)) int {
	host := w.e.hostname
	if host == "" {
		host = b.Node
	}
	w.eng, w.batchID, w.emit = eng, batchID, emit
	defer func() { w.eng, w.emit = nil, nil }()
	for i := range b.Events {
		ev := &b.Events[i]
		if ev.Type == schema.EventDrop {
			w.drop(b.Node, host, batchID, i, ev, emit)
			continue
		}
		w.index = i
		w.ctx.Reset(b, i, host)
		eng.Eval(&w.ctx, w.match)
	}
	return len(b.Events)
}

func (w *Worker) drop(node, host, batchID string, i int, ev *schema.Event, emit func(Alert)) {
	w.e.mu.Lock()
	a, ok := w.e.drops.Check(node, host, ev)
	w.e.mu.Unlock()
	if ok {
		emit(Alert{Subject: schema.AlertSubject(a.Priority, a.Rule), MsgID: MsgID(batchID, i, a.Rule), Event: i, Alert: a})
	}
}

// Flat evaluates one hand-written event (Falco field names to values, see
// [fields.Ctx].Flat) and calls emit for each alert. hostname is used when
// the evaluator has none.
func (w *Worker) Flat(eng *rules.Engine, flat map[string]any, hostname string, emit func(Alert)) {
	if w.e.hostname != "" {
		hostname = w.e.hostname
	}
	c := &fields.Ctx{Flat: flat, Hostname: hostname}
	eng.Eval(c, func(r *rules.Rule) {
		a := eng.Alert(r, c)
		emit(Alert{Subject: schema.AlertSubject(a.Priority, a.Rule), Alert: a})
	})
}

// MsgID is the Nats-Msg-Id of the alert of rule for event i of the batch
// whose id is batchID.
func MsgID(batchID string, i int, rule string) string {
	return batchID + ":" + strconv.Itoa(i) + ":" + schema.RuleSlug(rule)
}
