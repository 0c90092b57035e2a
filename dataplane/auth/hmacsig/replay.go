package hmacsig

import (
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
)

// ReplayCache remembers accepted signatures until they could no longer be
// accepted anyway (their timestamp plus the skew). Each secret has its own
// (keys that share a secret share it), so a client that fills its cache (a full cache refuses new signatures:
// forgetting one early would let it be replayed) stops only itself. It is
// sharded by the signature's first byte, each shard a mutex and a map that
// grows to its share of the bound.
type ReplayCache struct {
	shards   [replayShards]replayShard
	perShard int
	prev     atomic.Pointer[prevCache] // see carry
	grace    atomic.Int64              // entries are kept this long past their expiry (see carry)
}

const replayShards = 64

type replayShard struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]int64 // signature -> expiry, unix ns
	_  [40]byte                    // keep shards on separate cache lines
}

// NewReplayCache makes a cache bounded to about size signatures.
func NewReplayCache(size int) *ReplayCache {
	c := &ReplayCache{perShard: max(1, (size+replayShards-1)/replayShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]int64)
	}
	return c
}

// carry returns the cache a verifier built by a reload uses for a key: c
// itself when its size and the skew stay, else a new cache linked to c.
// While a signature accepted before the reload could still be replayed
// (maxLife from now), every new signature is first claimed in c, under c's
// own lock: the verifier being replaced, still serving requests in flight,
// uses c too, so the two can never both accept one signature, and nothing
// accepted before the reload is forgotten. c's entries count as live for
// extend longer (a larger skew accepts signatures for longer).
func (c *ReplayCache) carry(size int, extend, maxLife, now int64) *ReplayCache {
	if c.Size() == NewReplayCache(size).Size() && extend <= 0 {
		return c
	}
	n := NewReplayCache(size)
	extend = max(extend, 0)
	// c must keep its entries as long as the new skew honours them, even
	// while the verifier being replaced still cleans it up.
	for {
		g := c.grace.Load()
		if g >= extend || c.grace.CompareAndSwap(g, extend) {
			break
		}
	}
	n.prev.Store(&prevCache{c: c, extend: extend, until: now + maxLife})
	return n
}

// prevCache links a cache to the one it replaced at a reload.
type prevCache struct {
	c      *ReplayCache
	extend int64 // c's entries stay live this much longer
	until  int64 // after this, nothing in c matters any more
}

// add records sig until expires, or reports it as a replay.
// Size is the bound the cache was made with (rounded to its shards).
func (c *ReplayCache) Size() int { return c.perShard * replayShards }

func (c *ReplayCache) add(sig *[sha256.Size]byte, expires, now int64) error {
	return c.addAt(sig, expires, now, false)
}

// addAt is add; claim (a newer cache claiming sig here) records it even
// past the bound: the claim is what keeps the two verifiers of a reload
// from both accepting one signature, so it must never be skipped.
func (c *ReplayCache) addAt(sig *[sha256.Size]byte, expires, now int64, claim bool) error {
	if p := c.prev.Load(); p != nil {
		if now >= p.until {
			c.prev.CompareAndSwap(p, nil)
		} else if err := p.c.addAt(sig, expires, now-p.extend, true); errors.Is(err, ErrReplay) {
			return ErrReplay
		}
	}
	s := &c.shards[sig[0]%replayShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.m[*sig]; ok && exp > now {
		return ErrReplay
	}
	if len(s.m) >= c.perShard {
		grace := c.grace.Load()
		for k, exp := range s.m {
			if exp+grace <= now {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.perShard && !claim {
			return ErrReplayCacheFull
		}
	}
	s.m[*sig] = expires
	return nil
}
