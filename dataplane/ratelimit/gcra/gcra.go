// Package gcra implements the generic cell rate algorithm (virtual
// scheduling) on a single atomic word: the bucket's whole state is its
// theoretical arrival time (TAT), and every update is one compare-and-swap.
// Under any amount of contention a token is granted at most once, and a
// refused request leaves the word untouched, so refusals consume no quota.
//
// Times are int64 nanoseconds on a monotonic scale chosen by the caller
// (ratelimit uses nanoseconds since its store's epoch). A zero word is a
// full bucket. The package must never read a clock, allocate or lock.
package gcra

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Rate is a compiled limit of N requests per Window. It is immutable.
type Rate struct {
	// N is the number of requests per window (the limit, 100%).
	N int64
	// Window is the period of the limit.
	Window int64
	// T is the emission interval: one token comes back every T ns. It is
	// rounded up, so the rate never exceeds N per window.
	T int64
	// Tol is the largest backlog a granted request may leave: N*T scaled by
	// the reject threshold (100% allows exactly N requests at once).
	Tol int64
}

// New returns the rate of n requests per window with a tolerance of
// pct percent of n (pct 100: a full bucket grants exactly n at once).
// n, window and pct must be positive.
func New(n int64, window time.Duration, pct int64) Rate {
	w := int64(window)
	t := (w + n - 1) / n
	return Rate{N: n, Window: w, T: t, Tol: n * t * pct / 100}
}

// Capacity is the backlog at 100% of the limit (N tokens' worth).
func (r *Rate) Capacity() int64 { return r.N * r.T }

// Take consumes one token from w at time now if the resulting backlog stays
// within Tol. It returns the backlog after the grant (ok) or, when refused,
// how long until a token is available (wait > 0). A refusal does not write w.
func (r *Rate) Take(w *atomic.Int64, now int64) (backlog, wait int64, ok bool) {
	for {
		tat := w.Load()
		next := max(tat, now) + r.T
		if next-now > r.Tol {
			return tat - now, next - r.Tol - now, false
		}
		if w.CompareAndSwap(tat, next) {
			return next - now, 0, true
		}
	}
}

// Refund gives back one token taken by Take. It is used when a later check
// of the same request refuses it, so that a refused request consumes no
// quota. Concurrent requests may briefly see the larger backlog: refunds can
// make the limiter momentarily stricter, never looser.
func (r *Rate) Refund(w *atomic.Int64) {
	w.Add(-r.T)
}

// Wait returns how long from now until Take on w would succeed (0: now),
// without taking anything.
func (r *Rate) Wait(w *atomic.Int64, now int64) int64 {
	return max(max(w.Load(), now)+r.T-r.Tol-now, 0)
}

// Backlog returns the current backlog of w at now (0 when full).
func (r *Rate) Backlog(w *atomic.Int64, now int64) int64 {
	return max(w.Load()-now, 0)
}

// Remaining is the number of requests that would still be granted at once
// within the limit (N), given backlog.
func (r *Rate) Remaining(backlog int64) int64 {
	return min(max((r.Capacity()-backlog)/r.T, 0), r.N)
}

// Scale returns max * (x - lo) / (hi - lo), clamped to [0, max], exactly
// (128-bit intermediate). It maps a backlog between two thresholds to a
// delay that grows with usage.
func Scale(max, x, lo, hi int64) int64 {
	if x <= lo || max <= 0 {
		return 0
	}
	if x >= hi {
		return max
	}
	h, l := bits.Mul64(uint64(max), uint64(x-lo))
	q, _ := bits.Div64(h, l, uint64(hi-lo))
	return int64(q)
}
