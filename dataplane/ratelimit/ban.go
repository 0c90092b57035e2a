package ratelimit

import (
	"sync/atomic"

	"github.com/edgeguard/edgeguard/internal/loggate"
)

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

// forget clears every memo. Slots are not tied to a source's prefix (an
// unban may name a network), and a source still bursting is simply banned
// again, so clearing all is both simplest and safe.
func (m *banMemo) forget() {
	for i := range m.slots {
		m.slots[i].Store(0)
	}
}

// ForgetBans drops the memo of recent bans. It must follow every unban: the
// memo would otherwise go on closing the source's requests on open
// connections (user-space enforcement), and keep a new burst from banning
// it again, until the lifted ban's end.
func (s *Store) ForgetBans() { s.bans.forget() }

// banLogBurst is how many ban log lines a store writes per second. An attack
// from many sources bans each of them: the bans and their counters are all
// kept, but the log would otherwise get one line per source.
const banLogBurst = 20

func newBanLogGate() *loggate.Gate {
	return &loggate.Gate{Burst: banLogBurst, Suppressed: banLogsSuppressed.Inc}
}
