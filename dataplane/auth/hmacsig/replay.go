package hmacsig

import (
	"crypto/sha256"
	"sync"
)

// ReplayCache remembers accepted signatures until they could no longer be
// accepted anyway (their timestamp plus the skew). It is sharded by the
// signature's first byte, each shard a mutex and a map preallocated to its
// share of the bound. A shard full of live signatures refuses new ones:
// forgetting one early would let it be replayed.
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
		c.shards[i].m = make(map[[sha256.Size]byte]int64, c.perShard)
	}
	return c
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
