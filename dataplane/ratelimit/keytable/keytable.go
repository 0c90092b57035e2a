// Package keytable is a bounded, sharded hash table from 64-bit keys to
// per-key state, built for rate limiting: lookups are lock-free (two atomic
// loads and a short linear probe), the table never holds more than its
// configured number of keys, and when it is full it evicts idle entries
// first, then the least busy ones. It must never lock, allocate or block on
// the lookup path, and never grow past its bound.
//
// Concurrency: each shard publishes an open-addressing slot array through
// an atomic pointer. Readers probe it without locks. Writers (inserting a
// new key, evicting, sweeping, resizing) take the shard's mutex, so only
// new keys ever wait, and only for other writers of the same shard. Entries
// are heap objects never reused: a reader holding an entry that is evicted
// at that moment updates a dead object, which costs at most that update;
// idle eviction only takes entries idle for a grace period to keep this to
// requests stalled longer than that between lookup and update.
package keytable

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// State is what a table stores per key. IdleAt is called by writers only
// (eviction and sweeps), never on the lookup path.
type State[V any] interface {
	*V
	// IdleAt returns the time from which the state is indistinguishable
	// from a fresh one (plus any grace period), so that dropping it then
	// loses nothing. Under pressure the entry with the smallest IdleAt of a
	// small sample is evicted: the one closest to forgetting anyway.
	IdleAt() int64
}

type entry[V any] struct {
	key uint64
	val V
}

type slots[V any] struct {
	mask uint64
	s    []atomic.Pointer[entry[V]]
}

type shard[V any] struct {
	arr    atomic.Pointer[slots[V]]
	mu     sync.Mutex
	live   int   // entries in arr (under mu)
	used   int   // entries plus tombstones (under mu)
	idleAt int64 // a sweep before this time cannot find an idle entry (under mu)...
	fresh  int   // ...among the entries present at the last sweep; fresh ones were inserted since
	cursor uint64
	_      [8]byte // keep shards on separate cache lines
}

// Stats are a table's counters.
type Stats struct {
	Keys          int64  // entries tracked now
	EvictedIdle   uint64 // idle entries dropped (no information lost)
	EvictedActive uint64 // busy entries dropped because the table was full
}

// Table maps keys to states. The zero value is not usable; use New.
type Table[V any, P State[V]] struct {
	shards  []shard[V]
	shift   uint
	maxKeys atomic.Int64
	keys    atomic.Int64
	idle    atomic.Uint64
	active  atomic.Uint64
	tomb    *entry[V]
}

const (
	minSlots   = 8
	sampleSize = 8 // entries examined to pick a victim under pressure
)

// ShardsFor returns the number of shards New uses: the smallest power of
// two that is at least four times GOMAXPROCS, and at least 16.
func ShardsFor() int {
	n := max(4*runtime.GOMAXPROCS(0), 16)
	return 1 << bits.Len(uint(n-1))
}

// New returns a table holding at most maxKeys entries (at least 1). When
// shards insert concurrently at the bound, the count may pass it by at
// most the number of shards.
func New[V any, P State[V]](maxKeys int) *Table[V, P] {
	n := ShardsFor()
	t := &Table[V, P]{
		shards: make([]shard[V], n),
		shift:  uint(64 - bits.TrailingZeros(uint(n))),
		tomb:   &entry[V]{},
	}
	t.SetMaxKeys(maxKeys)
	for i := range t.shards {
		t.shards[i].arr.Store(&slots[V]{mask: minSlots - 1, s: make([]atomic.Pointer[entry[V]], minSlots)})
	}
	return t
}

// SetMaxKeys changes the bound (at least 1). A lower bound takes effect as
// new keys arrive: each insertion over the bound evicts one entry.
func (t *Table[V, P]) SetMaxKeys(n int) { t.maxKeys.Store(int64(max(n, 1))) }

// MaxKeys returns the bound.
func (t *Table[V, P]) MaxKeys() int { return int(t.maxKeys.Load()) }

// Stats returns the table's counters.
func (t *Table[V, P]) Stats() Stats {
	return Stats{Keys: t.keys.Load(), EvictedIdle: t.idle.Load(), EvictedActive: t.active.Load()}
}

// Len returns the number of keys tracked.
func (t *Table[V, P]) Len() int { return int(t.keys.Load()) }

// Get returns the state of key, or nil if it is not tracked. Keys 0 and 1
// are the same key (0 marks free slots). Lock-free; allocates nothing.
func (t *Table[V, P]) Get(key uint64) P {
	if key == 0 {
		key = 1
	}
	s := &t.shards[key>>t.shift&uint64(len(t.shards)-1)]
	a := s.arr.Load()
	for i := key & a.mask; ; i = (i + 1) & a.mask {
		e := a.s[i].Load()
		if e == nil {
			return nil
		}
		if e.key == key {
			return &e.val
		}
	}
}

// GetOrInsert returns the state of key, inserting a fresh (zero) state if
// the key is not tracked, evicting another entry when the table is full.
// now is used to judge idleness. Only inserting allocates (one entry) and
// locks (its shard).
func (t *Table[V, P]) GetOrInsert(key uint64, now int64) P {
	if v := t.Get(key); v != nil {
		return v
	}
	if key == 0 {
		key = 1
	}
	return t.insert(key, now)
}

func (t *Table[V, P]) insert(key uint64, now int64) P {
	s := &t.shards[key>>t.shift&uint64(len(t.shards)-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.arr.Load()
	for i := key & a.mask; ; i = (i + 1) & a.mask {
		e := a.s[i].Load()
		if e == nil {
			break
		}
		if e.key == key {
			return &e.val
		}
	}
	if t.keys.Load() >= t.maxKeys.Load() && s.live > 0 {
		t.evictOne(s, now)
	}
	e := &entry[V]{key: key}
	a = s.arr.Load() // eviction may have compacted the array
	if s.used+1 > int(a.mask+1)*3/4 {
		a = t.resize(s, max(minSlots, 2*(s.live+1)))
	}
	t.place(s, a, e)
	return &e.val
}

// place stores e in the first empty or tombstone slot of its probe sequence.
func (t *Table[V, P]) place(s *shard[V], a *slots[V], e *entry[V]) {
	for i := e.key & a.mask; ; i = (i + 1) & a.mask {
		cur := a.s[i].Load()
		if cur == nil {
			s.used++
			a.s[i].Store(e)
			break
		}
		if cur == t.tomb {
			a.s[i].Store(e)
			break
		}
	}
	s.live++
	s.fresh++
	t.keys.Add(1)
}

// resize publishes a new slot array of at least n slots (a power of two)
// holding the live entries; tombstones are dropped. Readers still on the
// old array keep working: every entry in it stays valid.
func (t *Table[V, P]) resize(s *shard[V], n int) *slots[V] {
	size := 1 << bits.Len(uint(max(n, minSlots)-1))
	for size*3/4 < s.live+1 {
		size *= 2
	}
	old := s.arr.Load()
	a := &slots[V]{mask: uint64(size - 1), s: make([]atomic.Pointer[entry[V]], size)}
	for i := range old.s {
		e := old.s[i].Load()
		if e == nil || e == t.tomb {
			continue
		}
		for j := e.key & a.mask; ; j = (j + 1) & a.mask {
			if a.s[j].Load() == nil {
				a.s[j].Store(e)
				break
			}
		}
	}
	s.used = s.live
	s.arr.Store(a)
	return a
}

// evictOne makes room in s: it drops every idle entry if one may exist,
// otherwise the least busy of a few sampled entries. A shard is rescanned
// only when an entry it held at the last scan may have become idle, or when
// half of it was inserted since: a full table under key spraying costs O(1)
// amortized per insertion, not a scan each.
func (t *Table[V, P]) evictOne(s *shard[V], now int64) {
	if (now >= s.idleAt || 2*s.fresh >= s.live) && t.sweepShard(s, now) > 0 {
		return
	}
	a := s.arr.Load()
	var victim uint64
	var best int64
	found := false
	seen := 0
	for k := uint64(0); k <= a.mask && seen < sampleSize; k++ {
		i := (s.cursor + k) & a.mask
		e := a.s[i].Load()
		if e == nil || e == t.tomb {
			continue
		}
		seen++
		if b := P(&e.val).IdleAt(); !found || b < best {
			victim, best, found = i, b, true
		}
	}
	s.cursor += sampleSize
	if !found {
		return
	}
	a.s[victim].Store(t.tomb)
	s.live--
	t.keys.Add(-1)
	t.active.Add(1)
}

// sweepShard drops the idle entries of s and returns how many. It records
// the earliest time a remaining entry can become idle, so that a full
// table under attack does not rescan a shard in which nothing can be idle.
func (t *Table[V, P]) sweepShard(s *shard[V], now int64) int {
	a := s.arr.Load()
	dropped := 0
	next := int64(1<<63 - 1)
	for i := range a.s {
		e := a.s[i].Load()
		if e == nil || e == t.tomb {
			continue
		}
		at := P(&e.val).IdleAt()
		if now >= at {
			a.s[i].Store(t.tomb)
			dropped++
			continue
		}
		next = min(next, at)
	}
	s.idleAt = next
	s.fresh = 0
	if dropped > 0 {
		s.live -= dropped
		t.keys.Add(int64(-dropped))
		t.idle.Add(uint64(dropped))
		if s.live < int(a.mask+1)/8 && a.mask+1 > minSlots {
			t.resize(s, 2*s.live)
		}
	}
	return dropped
}

// Sweep drops every idle entry and shrinks shards that became sparse. It
// locks one shard at a time; lookups never wait for it.
func (t *Table[V, P]) Sweep(now int64) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		if now >= s.idleAt || s.fresh > 0 {
			n += t.sweepShard(s, now)
		}
		s.mu.Unlock()
	}
	return n
}
