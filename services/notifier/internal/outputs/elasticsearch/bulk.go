package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Batching defaults, as Falcosidekick's.
const (
	DefaultBatchSize     = 5 << 20 // bytes of request body
	DefaultFlushInterval = time.Second
)

// bulk gathers the alerts that Send calls hand it at the same time into
// one _bulk request. It uses the official client's esapi.Bulk for the
// request (auth, compression, custom headers) but not its BulkIndexer:
// that one acks through callbacks and retries on its own, while an alert
// here must stay unacked until its own item is accepted, and the
// notifier core does the retrying. It is safe for concurrent use.
type bulk struct {
	cfg      Config
	es       *elasticsearch.Client
	maxItems int // the output's inflight: no more Sends can be waiting

	mu      sync.Mutex
	pending []*bulkItem
	size    int
	timer   *time.Timer
}

// bulkItem is one alert's two NDJSON lines and where its result goes.
type bulkItem struct {
	ctx   context.Context
	index string
	lines []byte
	id    bool // created under its delivery id: 409 means already indexed
	done  chan error
}

func newBulk(c Config, client *http.Client, maxItems int) (*bulk, error) {
	ec := elasticsearch.Config{
		Addresses:           []string{c.HostPort},
		Username:            c.Username,
		Password:            string(c.Password),
		APIKey:              string(c.APIKey),
		Header:              http.Header{},
		CompressRequestBody: c.EnableCompression,
		// The core retries a failed delivery with its own backoff.
		DisableRetry: true,
		Transport:    client.Transport,
	}
	for k, v := range c.CustomHeaders {
		ec.Header.Set(k, v)
	}
	es, err := elasticsearch.NewClient(ec)
	if err != nil {
		return nil, output.Redact(fmt.Errorf("elasticsearch client: %w", err), c.Password, c.APIKey)
	}
	return &bulk{cfg: c, es: es, maxItems: maxItems}, nil
}

// action is a bulk action line: {"create":{"_index":…,"_id":…}} for an
// alert with an id, {"index":{"_index":…}} otherwise.
type action struct {
	Index string `json:"_index"`
	ID    string `json:"_id,omitempty"`
	// Type is only sent for a cluster older than 7 that still has types.
	Type string `json:"_type,omitempty"`
}

// send queues the alert and waits for its result, or for ctx to end; an
// alert whose Send gave up may still be indexed by the request it was in,
// and then a retry with the same id answers 409, which is success.
func (b *bulk) send(ctx context.Context, d output.Delivery) error {
	doc, err := json.Marshal(d.Alert)
	if err != nil {
		return output.Permanent(fmt.Errorf("elasticsearch: encode alert: %w", err))
	}
	it := &bulkItem{ctx: ctx, index: IndexName(b.cfg.Index, b.cfg.Suffix, d.Alert.Time), id: d.ID != "", done: make(chan error, 1)}
	a := action{Index: it.index, ID: d.ID}
	if b.cfg.Type != "_doc" {
		a.Type = b.cfg.Type
	}
	op := "index"
	if it.id {
		op = "create"
	}
	line, err := json.Marshal(map[string]action{op: a})
	if err != nil {
		return output.Permanent(fmt.Errorf("elasticsearch: encode action: %w", err))
	}
	it.lines = append(append(append(line, '\n'), doc...), '\n')

	if batch := b.add(it); batch != nil {
		b.flush(batch)
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("elasticsearch: bulk into %s: %w", it.index, ctx.Err())
	}
}

// add queues it and returns the batch to send now, if it is full.
func (b *bulk) add(it *bulkItem) []*bulkItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, it)
	b.size += len(it.lines)
	if len(b.pending) >= b.maxItems || b.size >= b.cfg.Batching.BatchSize {
		return b.takeLocked()
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(b.cfg.Batching.FlushInterval, func() {
			b.mu.Lock()
			batch := b.takeLocked()
			b.mu.Unlock()
			b.flush(batch)
		})
	}
	return nil
}

func (b *bulk) takeLocked() []*bulkItem {
	batch := b.pending
	b.pending, b.size = nil, 0
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	return batch
}

// bulkResponse is the part of the _bulk answer that says what happened to
// each item, in request order.
type bulkResponse struct {
	Errors bool                        `json:"errors"`
	Items  []map[string]bulkItemResult `json:"items"`
}

type bulkItemResult struct {
	Index  string `json:"_index"`
	Status int    `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// flush sends one bulk request and hands each item its result.
func (b *bulk) flush(batch []*bulkItem) {
	if len(batch) == 0 {
		return
	}
	errs := b.do(batch)
	for i, it := range batch {
		it.done <- errs[i]
	}
}

// do returns one result per item: the request's error for all when the
// request failed as a whole, else each item's own.
func (b *bulk) do(batch []*bulkItem) []error {
	all := func(err error) []error {
		errs := make([]error, len(batch))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	var body bytes.Buffer
	for _, it := range batch {
		body.Write(it.lines)
	}
	// The request outlives the Send that started it (others wait on it
	// too), so it keeps the first item's values and deadline, not its
	// cancellation.
	ctx := context.WithoutCancel(batch[0].ctx)
	if dl, ok := batch[0].ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	opts := []func(*esapi.BulkRequest){
		b.es.Bulk.WithContext(ctx),
		b.es.Bulk.WithHeader(map[string]string{"Content-Type": "application/x-ndjson"}),
	}
	if b.cfg.Pipeline != "" {
		opts = append(opts, b.es.Bulk.WithPipeline(b.cfg.Pipeline))
	}
	secrets := []output.Secret{b.cfg.Password, b.cfg.APIKey}
	res, err := b.es.Bulk(&body, opts...)
	if err != nil {
		return all(fmt.Errorf("elasticsearch: bulk of %d: %w", len(batch), output.Redact(err, secrets...)))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return all(fmt.Errorf("elasticsearch: bulk of %d: read answer: %w", len(batch), err))
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		// The host alone: Status hides a URL's path as it may hold a token.
		req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(b.cfg.HostPort, "/"), nil)
		return all(fmt.Errorf("elasticsearch: bulk of %d: %w", len(batch), output.Status(req, res.StatusCode, raw, secrets...)))
	}
	var br bulkResponse
	if err := json.Unmarshal(raw, &br); err != nil {
		return all(fmt.Errorf("elasticsearch: bulk of %d: answer is not a bulk response: %w", len(batch), err))
	}
	if len(br.Items) != len(batch) {
		return all(fmt.Errorf("elasticsearch: bulk of %d: answer has %d items", len(batch), len(br.Items)))
	}
	errs := make([]error, len(batch))
	for i, it := range batch {
		errs[i] = itemError(it, br.Items[i], br.Errors)
	}
	return errs
}

// itemError classifies one item's status as [output.Status] does a
// response's: 2xx is success, and so is 409 for an alert created under its
// id (an earlier try indexed it); 429 and 5xx are retried, other 4xx
// (a mapping conflict) are permanent.
func itemError(it *bulkItem, r map[string]bulkItemResult, errorsFlag bool) error {
	if len(r) != 1 {
		return fmt.Errorf("elasticsearch: bulk into %s: item has %d actions", it.index, len(r))
	}
	var res bulkItemResult
	for _, v := range r {
		res = v
	}
	switch {
	case res.Status >= 200 && res.Status < 300 && res.Error == nil:
		return nil
	case res.Status == http.StatusConflict && it.id:
		return nil
	case res.Status >= 200 && res.Status < 300:
		// A 2xx item with an error is not a documented answer; trust the
		// error.
	case res.Status == 0:
		return fmt.Errorf("elasticsearch: bulk into %s: item without status (errors=%v)", it.index, errorsFlag)
	}
	reason := ""
	if res.Error != nil {
		reason = res.Error.Type + ": " + res.Error.Reason
	}
	err := fmt.Errorf("elasticsearch: bulk into %s: item status %d: %s", it.index, res.Status, reason)
	if res.Status >= 400 && res.Status < 500 && res.Status != http.StatusTooManyRequests && res.Status != http.StatusRequestTimeout {
		return output.Permanent(err)
	}
	return err
}
