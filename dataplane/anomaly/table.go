package anomaly

import (
	"math"
	"time"
)

// table is a bounded map: at capacity, adding a key evicts the oldest
// key added (FIFO, O(1)), so that a flood of new sources or identities
// costs old keys, never memory. It grows as keys come, so a quiet route
// costs nothing.
type table[K comparable, V any] struct {
	idx  map[K]int32
	keys []K
	vals []V
	max  int
	next int // slot the next new key takes once full
}

func newTable[K comparable, V any](n int) *table[K, V] {
	return &table[K, V]{idx: map[K]int32{}, max: max(n, 1)}
}

// resize returns t, or, when its capacity is not n, a table of capacity n
// holding t's newest keys: a reload that changes a bound keeps what was
// learnt (and a restored table takes the configured bound).
func resize[K comparable, V any](t *table[K, V], n int) *table[K, V] {
	if t != nil && t.max == max(n, 1) {
		return t
	}
	nt := newTable[K, V](n)
	if t != nil {
		t.each(func(k K, v *V) {
			p, _ := nt.get(k) // oldest first: the newest n stay
			*p = *v
		})
	}
	return nt
}

// each calls f on every key, oldest first.
func (t *table[K, V]) each(f func(K, *V)) {
	start := 0
	if len(t.keys) == t.max {
		start = t.next // full: next is the oldest slot
	}
	for i := range t.keys {
		j := (start + i) % len(t.keys)
		f(t.keys[j], &t.vals[j])
	}
}

// get returns k's value, adding a zero one (and evicting the oldest key
// when full) if k is new.
func (t *table[K, V]) get(k K) (v *V, added bool) {
	if i, ok := t.idx[k]; ok {
		return &t.vals[i], false
	}
	var zero V
	if len(t.keys) < t.max {
		t.idx[k] = int32(len(t.keys))
		t.keys = append(t.keys, k)
		t.vals = append(t.vals, zero)
		return &t.vals[len(t.vals)-1], true
	}
	i := t.next
	t.next = (t.next + 1) % len(t.keys)
	delete(t.idx, t.keys[i])
	t.keys[i], t.vals[i] = k, zero
	t.idx[k] = int32(i)
	return &t.vals[i], true
}

func (t *table[K, V]) len() int { return len(t.keys) }

// windowCount counts events of one key in tumbling windows and remembers
// whether the key alerted, so that an attack that goes on raises one
// alert, not one per window.
type windowCount struct {
	start    time.Time
	n        int
	alerting bool
	banned   bool
}

// add counts one event at now and reports whether the key just crossed
// threshold (the first time since it last stayed under it for a window).
func (w *windowCount) add(now time.Time, window time.Duration, threshold int) bool {
	if now.Sub(w.start) >= window {
		if w.n < threshold || now.Sub(w.start) >= 2*window {
			w.alerting, w.banned = false, false // quiet for a window: a new attack may alert again
		}
		w.start, w.n = now, 0
	}
	w.n++
	if w.n >= threshold && !w.alerting {
		w.alerting = true
		return true
	}
	return false
}

// sketchBits is the size of a distinct-count sketch: linear counting over
// 1024 bits (128 bytes) counts up to ~1000 distinct IDs within a few
// percent, and a small count exactly but for rare hash collisions.
const sketchBits = 1024

type sketch struct {
	bits [sketchBits / 64]uint64
	set  int // bits set
}

// add records h and reports whether it set a new bit (the count moved).
func (s *sketch) add(h uint64) bool {
	h = mix(h)
	w, b := &s.bits[(h>>6)%uint64(len(s.bits))], uint64(1)<<(h&63)
	if *w&b != 0 {
		return false
	}
	*w |= b
	s.set++
	return true
}

// estimate is the linear-counting estimate -m ln(zero bits / m).
func (s *sketch) estimate() float64 {
	if s.set == sketchBits {
		return sketchBits * math.Log(sketchBits) // saturated: past what it counts
	}
	return -sketchBits * math.Log(float64(sketchBits-s.set)/sketchBits)
}

// FNV-1a, inline so that hashing a path allocates nothing.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func fnvAdd(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func hashString(s string) uint64 {
	h := fnvOffset
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix spreads FNV's low bits (murmur3's finalizer).
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}
