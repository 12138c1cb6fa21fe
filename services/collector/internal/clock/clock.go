// Package clock converts the probe's CLOCK_BOOTTIME timestamps to wall
// clock nanoseconds since the Unix epoch.
package clock

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Boot maps boot-time ns to wall-clock ns with an offset measured at
// [New] and refreshed by [Boot.Resync]. Safe for concurrent use.
type Boot struct {
	offset atomic.Int64
}

// New measures the offset now.
func New() *Boot {
	b := &Boot{}
	b.Resync()
	return b
}

// Resync measures the offset again (after a wall-clock step).
func (b *Boot) Resync() {
	var ts unix.Timespec
	// Bracket the boot-time read with two wall-clock reads and take the
	// midpoint, so the offset error is at most half the bracket.
	w1 := time.Now().UnixNano()
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	w2 := time.Now().UnixNano()
	b.offset.Store(w1 + (w2-w1)/2 - ts.Nano())
}

// Now returns the current boot-time ns.
func Now() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// Wall converts boot-time ns to wall-clock ns.
func (b *Boot) Wall(bootNs uint64) int64 { return int64(bootNs) + b.offset.Load() }
