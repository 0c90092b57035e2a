package connfilter

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// banShards spreads bans over copy-on-write maps so that a ban copies only
// a small map while readers never lock.
const banShards = 64

type banMap = map[[16]byte]int64 // address (IPv4-mapped) -> expiry, Unix ns

type banShard struct {
	mu sync.Mutex // serializes writers
	m  atomic.Pointer[banMap]
}

type bans struct {
	n      atomic.Int64 // entries, expired ones included; 0 skips lookups
	shards [banShards]banShard
}

func (b *bans) init() {
	for i := range b.shards {
		b.shards[i].m.Store(&banMap{})
	}
}

func banKey(a netip.Addr) [16]byte { return a.Unmap().As16() }

func (b *bans) shard(k *[16]byte) *banShard {
	h := binary.LittleEndian.Uint64(k[0:8]) ^ binary.LittleEndian.Uint64(k[8:16])
	h *= 0x9e3779b97f4a7c15
	return &b.shards[h>>(64-6)]
}

// active reports whether addr is banned now; addr is already unmapped.
func (b *bans) active(addr netip.Addr, now func() time.Time) bool {
	if b.n.Load() == 0 {
		return false
	}
	k := addr.As16()
	exp, ok := (*b.shard(&k).m.Load())[k]
	return ok && now().UnixNano() < exp
}

// update copies the shard of addr without expired entries, lets edit change
// the copy, and publishes it.
func (b *bans) update(addr netip.Addr, now time.Time, edit func(m banMap, k [16]byte)) {
	k := banKey(addr)
	s := b.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	next := make(banMap, len(old)+1)
	cutoff := now.UnixNano()
	for key, exp := range old {
		if exp > cutoff {
			next[key] = exp
		}
	}
	edit(next, k)
	s.m.Store(&next)
	b.n.Add(int64(len(next) - len(old)))
}

func (b *bans) set(addr netip.Addr, until, now time.Time) {
	b.update(addr, now, func(m banMap, k [16]byte) { m[k] = until.UnixNano() })
}

func (b *bans) remove(addr netip.Addr, now time.Time) {
	b.update(addr, now, func(m banMap, k [16]byte) { delete(m, k) })
}

func (b *bans) list(now time.Time) []enforce.Ban {
	var out []enforce.Ban
	cutoff := now.UnixNano()
	for i := range b.shards {
		m := *b.shards[i].m.Load()
		for k, exp := range m {
			if exp > cutoff {
				out = append(out, enforce.Ban{Addr: netip.AddrFrom16(k).Unmap(), Until: time.Unix(0, exp)})
			}
		}
	}
	return out
}
