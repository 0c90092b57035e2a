package router

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
)

// index is an open-addressing hash table from the case-folded hash of a
// route key to the routes with that hash, in declaration order. Keys that
// differ only in case (or whose hashes collide) share a slot: callers check
// each candidate's key, so the hash only has to be fast, not perfect.
type index struct {
	slots  []slot
	mask   uint64
	shift  uint // slots are chosen by the top bits of the hash, the best mixed
	cands  []int32
	size   int // number of routes
	maxLen int // longest key
	lens   lengthSet
}

type slot struct {
	hash       uint64
	start, end int32 // cands[start:end]; end == 0 marks an empty slot
}

func (t *Table[T]) buildIndex(routes []int32) index {
	ix := index{size: len(routes)}
	if len(routes) == 0 {
		return ix
	}
	type entry struct {
		hash  uint64
		route int32
	}
	entries := make([]entry, len(routes))
	for i, ri := range routes {
		key := t.routes[ri].key
		entries[i] = entry{hash: hashFold([]byte(key)), route: ri}
		ix.maxLen = max(ix.maxLen, len(key))
		ix.lens.add(len(key))
	}
	// Stable: routes sharing a hash stay in declaration order.
	slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(a.hash, b.hash) })
	distinct := 0
	for i := range entries {
		if i == 0 || entries[i].hash != entries[i-1].hash {
			distinct++
		}
	}
	ix.slots = make([]slot, tableSize(distinct))
	ix.mask, ix.shift = tableMask(len(ix.slots))
	ix.cands = make([]int32, len(entries))
	for i := 0; i < len(entries); {
		j := i
		for j < len(entries) && entries[j].hash == entries[i].hash {
			ix.cands[j] = entries[j].route
			j++
		}
		p := entries[i].hash >> ix.shift
		for ix.slots[p].end != 0 {
			p = (p + 1) & ix.mask
		}
		ix.slots[p] = slot{hash: entries[i].hash, start: int32(i), end: int32(j)}
		i = j
	}
	return ix
}

// find returns the candidates for hash h, or nil.
func (ix *index) find(h uint64) []int32 {
	for p := h >> ix.shift; ; p = (p + 1) & ix.mask {
		s := &ix.slots[p]
		if s.end == 0 {
			return nil
		}
		if s.hash == h {
			return ix.cands[s.start:s.end:s.end]
		}
	}
}

// mayHold reports whether ix may hold a key of length n.
func (ix *index) mayHold(n int) bool {
	return ix.size > 0 && n <= ix.maxLen && ix.lens.has(n)
}

// tableSize returns a power of two at least twice n: a load factor of at
// most 1/2 keeps probe chains short and guarantees an empty slot.
func tableSize(n int) int {
	size := 2
	for size < 2*n {
		size <<= 1
	}
	return size
}

// tableMask returns the probe mask and the hash shift for a table of size
// slots, a power of two.
func tableMask(size int) (mask uint64, shift uint) {
	return uint64(size - 1), uint(64 - bits.TrailingZeros(uint(size)))
}

// lengthSet records which key lengths an index holds, so that Match skips
// the hash and the probe at most segment boundaries and host dots.
type lengthSet [4]uint64

// lengthSetMax is the first length a lengthSet does not track.
const lengthSetMax = 256

func (ls *lengthSet) add(n int) {
	if n < lengthSetMax {
		ls[n>>6] |= 1 << (n & 63)
	}
}

func (ls *lengthSet) union(o *lengthSet) {
	for i := range ls {
		ls[i] |= o[i]
	}
}

// has reports whether a key of length n may exist; lengths from 256 up are
// not tracked and always may.
func (ls *lengthSet) has(n int) bool {
	return n >= lengthSetMax || ls[n>>6&3]&(1<<(n&63)) != 0
}

// hostIndex is an open-addressing hash table from host names (exact names,
// and wildcard suffixes with their leading dot) to their route groups.
type hostIndex struct {
	slots []hostEntry
	mask  uint64
	shift uint
	lens  lengthSet // lengths of the names
}

type hostEntry struct {
	hash  uint64
	name  string // lower-case; ".example.com" for "*.example.com"
	wild  bool
	group *hostGroup // nil marks an empty slot
}

func buildHostIndex(entries []hostEntry) hostIndex {
	if len(entries) == 0 {
		return hostIndex{}
	}
	ix := hostIndex{slots: make([]hostEntry, tableSize(len(entries)))}
	ix.mask, ix.shift = tableMask(len(ix.slots))
	for _, e := range entries {
		e.hash = hashFold([]byte(e.name))
		ix.lens.add(len(e.name))
		p := e.hash >> ix.shift
		for ix.slots[p].group != nil {
			p = (p + 1) & ix.mask
		}
		ix.slots[p] = e
	}
	return ix
}

// find returns the group named name (compared ignoring ASCII case), or nil.
func (ix *hostIndex) find(h uint64, name []byte, wild bool) *hostGroup {
	for p := h >> ix.shift; ; p = (p + 1) & ix.mask {
		e := &ix.slots[p]
		if e.group == nil {
			return nil
		}
		if e.hash == h && e.wild == wild && equalFold(e.name, name) {
			return e.group
		}
	}
}

// equalFold reports whether the lower-case string s equals b ignoring ASCII
// case.
func equalFold(s string, b []byte) bool {
	if len(s) != len(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if s[i] != lower[b[i]] {
			return false
		}
	}
	return true
}

var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c) + 'a' - 'A'
	}
	return t
}()

// The key hash reads eight bytes at a time and lower-cases them with SWAR
// arithmetic, so it costs one multiply per word rather than one per byte;
// Match hashes path prefixes at segment boundaries as it walks the path.
const (
	hashSeed = 0x9e3779b97f4a7c15
	hashMul  = 0xbf58476d1ce4e5b9
	ones     = 0x0101010101010101
	highBits = 0x8080808080808080
)

// foldWord lower-cases the ASCII letters among the eight bytes of w.
func foldWord(w uint64) uint64 {
	low := w &^ highBits                // no byte can carry into the next below
	ge := low + (0x80-'A')*ones         // high bit set where byte >= 'A'
	gt := low + (0x80-'Z'-1)*ones       // high bit set where byte > 'Z'
	upper := (ge &^ gt) &^ w & highBits // 'A'..'Z', excluding bytes >= 0x80
	return w | upper>>2                 // 0x80>>2 == 0x20, within the same byte
}

func mix(h, w uint64) uint64 {
	h = (h ^ w) * hashMul
	return h ^ bits.RotateLeft64(h, 31)
}

// prefixHasher hashes prefixes p[:j] of increasing length j, reusing the
// work done for shorter ones.
type prefixHasher struct {
	p []byte
	h uint64 // hash of the first k bytes
	k int    // a multiple of 8
}

func newPrefixHasher(p []byte) prefixHasher {
	return prefixHasher{p: p, h: hashSeed}
}

// at returns the case-folded hash of p[:j]; j must not decrease between
// calls.
func (ph *prefixHasher) at(j int) uint64 {
	// Work on locals: state kept in *ph would put a store and a reload on
	// the multiply chain of every word.
	p, h, k := ph.p, ph.h, ph.k
	for ; k+8 <= j; k += 8 {
		h = mix(h, foldWord(binary.LittleEndian.Uint64(p[k:])))
	}
	ph.h, ph.k = h, k
	var tail uint64
	if r := uint(j - k); r > 0 {
		if k+8 <= len(p) {
			tail = binary.LittleEndian.Uint64(p[k:]) & (1<<(r*8&63) - 1)
		} else {
			for i := j - 1; i >= k; i-- {
				tail = tail<<8 | uint64(p[i])
			}
		}
		tail = foldWord(tail)
	}
	// The tail holds at most seven bytes, which leaves room for the length
	// in the low byte. Lengths equal modulo 256 only risk a collision,
	// which callers check.
	return mix(h, tail<<8|uint64(j&0xff))
}

// hashFold returns the case-folded hash of b.
func hashFold(b []byte) uint64 {
	ph := newPrefixHasher(b)
	return ph.at(len(b))
}
