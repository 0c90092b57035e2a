package connfilter

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/internal/genlist"
)

// benchList draws n prefixes, every fourth IPv6, as bench/blocklist's lists.
func benchList(seed uint64, n int) []netip.Prefix {
	return genlist.Mixed(seed, n, 4, 0xc0000000)
}

// BenchmarkBlocklistDelta1k applies 1000 additions to a 1M-entry
// blocklist, then removes them again, alternating: the user-space
// enforcer's share of issue 4's 20 ms budget for a delta.
func BenchmarkBlocklistDelta1k(b *testing.B) {
	f := New()
	if err := f.ReplaceBlocklist(benchList(1, 1_000_000)); err != nil {
		b.Fatal(err)
	}
	delta := benchList(2, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		add, remove := delta, []netip.Prefix(nil)
		if i%2 == 1 {
			add, remove = nil, delta
		}
		if err := f.ApplyBlocklistDelta(add, remove); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCheck measures lookups in a 1M-entry blocklist (3/4 IPv4) with
// some bans present.
func BenchmarkCheck(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ps := make([]netip.Prefix, 0, 1_000_000)
	for i := range cap(ps) {
		if i%4 == 3 {
			var a [16]byte
			a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
			for j := 4; j < 16; j++ {
				a[j] = byte(r.Uint32())
			}
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(97)).Masked())
			continue
		}
		a := r.Uint32()
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), 16+r.IntN(17)).Masked())
	}
	f := New()
	if err := f.ReplaceBlocklist(ps); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		f.Ban(enforce.Host(netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)})), time.Now().Add(time.Hour))
	}
	cases := []struct {
		name string
		addr netip.Addr
	}{
		{"ipv4-hit", ps[0].Addr()},
		{"ipv4-miss", netip.MustParseAddr("0.0.0.1")},
		{"ipv6-hit", ps[3].Addr()},
		{"ipv6-miss", netip.MustParseAddr("2001:db9::1")},
		{"ipv4-banned", netip.MustParseAddr("192.0.1.1")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Check(c.addr)
			}
		})
	}
	// Random sources: every lookup walks a different path through the
	// 1M-entry structure, as a flood from many sources does.
	random := make([]netip.Addr, 4096)
	for i := range random {
		if i%4 == 3 {
			random[i] = ps[r.IntN(len(ps))].Addr()
			continue
		}
		a := r.Uint32()
		random[i] = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	}
	b.Run("random", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			f.Check(random[i%len(random)])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				f.Check(cases[i%len(cases)].addr)
				i++
			}
		})
	})
}
