package ratelimit

import "sync/atomic"

// banMemo remembers recent bans so that a source far over its limit is
// banned once per ban period, not on every request it still manages to send
// (keep-alive requests already in flight, or every connection in user-space
// fallback mode until accept-time filtering sees the ban). It is a fixed
// direct-mapped array: one word per slot packs the top 32 bits of the
// address key and the ban's expiry in store seconds. Two sources that meet
// in a slot evict each other's memo, which only costs an extra ban call.
type banMemo struct {
	slots [banSlots]atomic.Uint64
}

const banSlots = 4096

// active reports whether a ban for key is known to last past nowSec.
func (m *banMemo) active(key uint64, nowSec uint32) bool {
	w := m.slots[key&(banSlots-1)].Load()
	return w>>32 == key>>32 && uint32(w) > nowSec
}

// claim reports whether the caller should issue a ban for key lasting until
// untilSec: false when a ban for key is known to last past nowSec. Of
// concurrent callers for one key only one wins.
func (m *banMemo) claim(key uint64, nowSec, untilSec uint32) bool {
	sl := &m.slots[key&(banSlots-1)]
	tag := key >> 32
	for {
		w := sl.Load()
		if w>>32 == tag && uint32(w) > nowSec {
			return false
		}
		if sl.CompareAndSwap(w, tag<<32|uint64(untilSec)) {
			return true
		}
	}
}

// banLogBurst is how many ban log lines a store writes per second. An attack
// from many sources bans each of them: the bans and their counters are all
// kept, but the log would otherwise get one line per source.
const banLogBurst = 20

// logGate lets through banLogBurst log lines per second and counts the rest,
// so that the next line that passes can say how many were left out.
type logGate struct {
	w          atomic.Uint64 // second (store time, low 32 bits) << 32 | lines in it
	suppressed atomic.Int64  // left out since the last line that passed
}

// pass reports whether a line may be written at nowSec and, if so, how many
// were left out before it.
func (g *logGate) pass(nowSec int64) (bool, int64) {
	sec := uint64(uint32(nowSec))
	for {
		old := g.w.Load()
		n := old & 0xffffffff
		if old>>32 != sec {
			n = 0 // a new second
		}
		if n >= banLogBurst {
			g.suppressed.Add(1)
			banLogsSuppressed.Inc()
			return false, 0
		}
		if g.w.CompareAndSwap(old, sec<<32|(n+1)) {
			return true, g.suppressed.Swap(0)
		}
	}
}
