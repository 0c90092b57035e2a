package hmacsig

import (
	"crypto/sha256"
	"sync"
)

// ReplayCache remembers accepted signatures until they could no longer be
// accepted anyway (their timestamp plus the skew). Each key has its own, so
// a client that fills its cache (a full cache refuses new signatures:
// forgetting one early would let it be replayed) stops only itself. It is
// sharded by the signature's first byte, each shard a mutex and a map that
// grows to its share of the bound.
type ReplayCache struct {
	shards   [replayShards]replayShard
	perShard int
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

// carry returns c for a verifier built by a reload, with live entries
// moved to a cache of a new size (kept past its bound rather than dropped,
// which would open a replay window) and every expiry extended by extend
// (a larger skew accepts signatures for longer).
func (c *ReplayCache) carry(size int, extend, now int64) *ReplayCache {
	if c.Size() == NewReplayCache(size).Size() && extend <= 0 {
		return c
	}
	n := NewReplayCache(size)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for sig, exp := range s.m {
			if exp > now {
				n.shards[i].m[sig] = exp + max(extend, 0)
			}
		}
		s.mu.Unlock()
	}
	return n
}

// add records sig until expires, or reports it as a replay.
// Size is the bound the cache was made with (rounded to its shards).
func (c *ReplayCache) Size() int { return c.perShard * replayShards }

func (c *ReplayCache) add(sig *[sha256.Size]byte, expires, now int64) error {
	s := &c.shards[sig[0]%replayShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.m[*sig]; ok && exp > now {
		return ErrReplay
	}
	if len(s.m) >= c.perShard {
		for k, exp := range s.m {
			if exp <= now {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.perShard {
			return ErrReplayCacheFull
		}
	}
	s.m[*sig] = expires
	return nil
}
