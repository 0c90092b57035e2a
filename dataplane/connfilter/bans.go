package connfilter

import (
	"encoding/binary"
	"net/netip"
	"slices"
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

	// Network bans (IPv6 only) are few: one copy-on-write map, probed once
	// per distinct prefix length.
	netMu sync.Mutex
	nets  atomic.Pointer[netBans]
}

type netBans struct {
	bits []int // distinct prefix lengths, longest first
	m    map[netip.Prefix]int64
}

func (b *bans) init() {
	for i := range b.shards {
		b.shards[i].m.Store(&banMap{})
	}
	b.nets.Store(&netBans{})
}

func banKey(a netip.Addr) [16]byte { return a.Unmap().As16() }

func (b *bans) shard(k *[16]byte) *banShard {
	h := binary.LittleEndian.Uint64(k[0:8]) ^ binary.LittleEndian.Uint64(k[8:16])
	h *= 0x9e3779b97f4a7c15
	return &b.shards[h>>(64-6)]
}

// active reports whether addr, or for IPv6 a network holding it, is banned
// now; addr is already unmapped.
func (b *bans) active(addr netip.Addr, now func() time.Time) bool {
	if b.n.Load() != 0 {
		k := addr.As16()
		if exp, ok := (*b.shard(&k).m.Load())[k]; ok && now().UnixNano() < exp {
			return true
		}
	}
	if addr.Is4() {
		return false
	}
	nb := b.nets.Load()
	for _, bits := range nb.bits {
		p, _ := addr.Prefix(bits)
		if exp, ok := nb.m[p]; ok && now().UnixNano() < exp {
			return true
		}
	}
	return false
}

// setNet bans an IPv6 network until the given time (Unix ns), or lifts its
// ban for until 0, dropping expired network bans on the way.
func (b *bans) setNet(p netip.Prefix, until int64, now time.Time) {
	b.netMu.Lock()
	defer b.netMu.Unlock()
	old := b.nets.Load()
	next := &netBans{m: make(map[netip.Prefix]int64, len(old.m)+1)}
	cutoff := now.UnixNano()
	for k, exp := range old.m {
		if exp > cutoff {
			next.m[k] = exp
		}
	}
	if until > cutoff {
		next.m[p] = until
	} else {
		delete(next.m, p)
	}
	for k := range next.m {
		if !slices.Contains(next.bits, k.Bits()) {
			next.bits = append(next.bits, k.Bits())
		}
	}
	slices.SortFunc(next.bits, func(a, b int) int { return b - a })
	b.nets.Store(next)
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
				out = append(out, enforce.Ban{Source: enforce.Host(netip.AddrFrom16(k)), Until: time.Unix(0, exp)})
			}
		}
	}
	for p, exp := range b.nets.Load().m {
		if exp > cutoff {
			out = append(out, enforce.Ban{Source: p, Until: time.Unix(0, exp)})
		}
	}
	return out
}
