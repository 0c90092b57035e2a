package jwtauth

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// cache holds verified tokens in a fixed table of 4-way buckets of atomic
// pointers: lookups take no lock and allocate nothing, inserts replace an
// empty, expired or pseudo-randomly chosen entry of the bucket, so the
// memory bound is fixed. Entries are keyed by a keyed (per-process random
// seed) hash of the token and confirmed by comparing the whole token, so a
// hash collision can never hand one token's identity to another.
type cache struct {
	seed  maphash.Seed
	slots []atomic.Pointer[Verified]
	mask  uint64
}

const ways = 4

func newCache(size int) *cache {
	n := max(size, 4*ways)
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	return &cache{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[Verified], n), mask: uint64(n - 1)}
}

func (c *cache) bucket(h uint64) []atomic.Pointer[Verified] {
	b := h & c.mask &^ (ways - 1)
	return c.slots[b : b+ways : b+ways]
}

// get returns the live entry for token, or nil. An entry is live until its
// expiry and while the key set that verified it is still the current one.
func (c *cache) get(token []byte, now int64) *Verified {
	h := maphash.Bytes(c.seed, token)
	b := c.bucket(h)
	for i := range b {
		e := b[i].Load()
		if e == nil || e.hash != h || !bytes.Equal(e.token, token) {
			continue
		}
		if now >= e.expires || e.cell.Load() != e.set {
			return nil
		}
		return e
	}
	return nil
}

func (c *cache) put(e *Verified, now int64) {
	h := maphash.Bytes(c.seed, e.token)
	e.hash = h
	b := c.bucket(h)
	victim := int(h>>32) & (ways - 1)
	for i := range b {
		old := b[i].Load()
		if old == nil || old.hash == h || now >= old.expires || old.cell.Load() != old.set {
			victim = i
			break
		}
	}
	b[victim].Store(e)
}
