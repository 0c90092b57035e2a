// Package loggate rate-limits log lines that an attack can make arrive at
// any rate (one per banned source, one per refused connection): a few lines
// a second pass, the rest are counted, and the next line that passes says
// how many were left out. It never blocks and never allocates.
package loggate

import "sync/atomic"

// Gate lets through Burst lines per second. The zero value passes none;
// set Burst before use. Suppressed, when set, is called for each line left
// out (e.g. to count it in a metric).
type Gate struct {
	Burst      uint64
	Suppressed func()

	w          atomic.Uint64 // second (low 32 bits) << 32 | lines in it
	suppressed atomic.Int64  // left out since the last line that passed
}

// Pass reports whether a line may be written at nowSec (seconds on any
// clock) and, if so, how many were left out before it.
func (g *Gate) Pass(nowSec int64) (bool, int64) {
	sec := uint64(uint32(nowSec))
	for {
		old := g.w.Load()
		n := old & 0xffffffff
		if old>>32 != sec {
			n = 0 // a new second
		}
		if n >= g.Burst {
			g.suppressed.Add(1)
			if g.Suppressed != nil {
				g.Suppressed()
			}
			return false, 0
		}
		if g.w.CompareAndSwap(old, sec<<32|(n+1)) {
			return true, g.suppressed.Swap(0)
		}
	}
}
