package ruleset

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/rules"
)

// Log keys.
const (
	keyGen      = "generation"
	keyFiles    = "files"
	keyRules    = "rules"
	keyIssue    = "issue"
	keyReason   = "reason"
	keyWarnings = "warnings"
)

// Options tune a [Reloader]. The zero value polls every second and
// reports nothing.
type Options struct {
	// Poll is the interval between checks of the files' size and mtime.
	Poll time.Duration
	// OnReload, when set, is called after each reload attempt with the
	// set in force afterwards and the attempt's error (nil when the new
	// set was accepted), for metrics and tests.
	OnReload func(cur *Set, err error)
}

// Reloader owns the current rule set. Safe for concurrent use.
type Reloader struct {
	src  Source
	log  *slog.Logger
	opts Options

	cur atomic.Pointer[Set]

	mu     sync.Mutex // serializes reloads
	stamps []stamp    // of the files the current attempt read
	// pending holds the stamps of a change seen by the last poll: a reload
	// waits until a poll sees the same stamps again, so a file being
	// written in place (truncated, then filled) is not compiled half-way.
	pending []stamp
	gen     uint64
}

// New loads src and returns a reloader holding it. It returns the load's
// [rules.Issues] when the first set does not compile: a service must not
// start without rules.
func New(src Source, log *slog.Logger, opts Options) (*Reloader, error) {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	set, stamps, err := load(src)
	if err != nil {
		return nil, err
	}
	r := &Reloader{src: src, log: log, opts: opts, stamps: stamps, gen: 1}
	r.cur.Store(set)
	r.logLoaded(set, "initial")
	return r, nil
}

// Current returns the rule set in force. Take it once per unit of work
// (a batch) and use that pointer throughout.
func (r *Reloader) Current() *Set { return r.cur.Load() }

// Reload compiles the files now and swaps the new set in when it
// compiles. On failure it returns the [rules.Issues] and the current set
// stays. reason is logged ("signal", "file changed").
func (r *Reloader) Reload(reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(reason)
}

func (r *Reloader) reloadLocked(reason string) error {
	set, stamps, err := load(r.src)
	// Keep the new stamps even on failure: a broken file is reported once,
	// not every poll, and retried when it changes again.
	r.stamps = stamps
	if err != nil {
		r.logRejected(err, reason)
		if r.opts.OnReload != nil {
			r.opts.OnReload(r.cur.Load(), err)
		}
		return err
	}
	r.gen++
	set.Gen = r.gen
	r.cur.Store(set)
	r.logLoaded(set, reason)
	if r.opts.OnReload != nil {
		r.opts.OnReload(set, nil)
	}
	return nil
}

// Run polls the files every Options.Poll and reloads when one changed and
// then stayed the same for one more poll, and reloads on each receive
// from hup, until ctx ends; then it returns nil. hup may be nil. Writing
// the new file aside and renaming it over the old one is the safe way to
// edit; an in-place write slower than one poll can still be compiled
// half-written, which then fails and is retried at the next change.
func (r *Reloader) Run(ctx context.Context, hup <-chan struct{}) error {
	t := time.NewTicker(r.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			_ = r.Reload("signal")
		case <-t.C:
			r.poll()
		}
	}
}

func (r *Reloader) poll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := stat(r.src.files())
	switch {
	case sameStamps(r.stamps, cur):
		r.pending = nil
	case r.pending == nil || !sameStamps(r.pending, cur):
		r.pending = cur // changed: let it settle for one interval
	default:
		r.pending = nil
		_ = r.reloadLocked("file changed")
	}
}

func (r *Reloader) logLoaded(set *Set, reason string) {
	warns := set.Engine.Warnings()
	r.log.Info("rules loaded", keyReason, reason, keyGen, set.Gen, keyFiles, set.Files,
		keyRules, len(set.Engine.Rules()), keyWarnings, len(warns))
	for _, w := range warns {
		r.log.Debug("rules warning", keyGen, set.Gen, keyIssue, w.String())
	}
}

func (r *Reloader) logRejected(err error, reason string) {
	cur := r.cur.Load()
	var is rules.Issues
	if !errors.As(err, &is) {
		r.log.Error("rules rejected, keeping the current set", keyReason, reason, keyGen, cur.Gen, "error", err)
		return
	}
	r.log.Error("rules rejected, keeping the current set", keyReason, reason, keyGen, cur.Gen, "errors", len(is))
	for _, i := range is {
		r.log.Error("rules error", keyIssue, i.String())
	}
}
