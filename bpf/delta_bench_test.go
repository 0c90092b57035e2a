package bpf

import (
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/edgeguard/edgeguard/internal/privileged"
)

// benchList draws n prefixes, every fourth IPv6, spread like
// bench/blocklist's lists so that little aggregates away.
func benchList(seed uint64, n int) []netip.Prefix {
	r := rand.New(rand.NewPCG(seed, 99))
	ps := make([]netip.Prefix, n)
	for i := range ps {
		if i%4 == 3 {
			var a [16]byte
			for j := range a {
				a[j] = byte(r.Uint32())
			}
			a[0] = 0x20 | a[0]&0x1f
			ps[i] = netip.PrefixFrom(netip.AddrFrom16(a), []int{48, 64, 128, 40}[r.IntN(4)]).Masked()
			continue
		}
		a := r.Uint32N(0xc0000000)
		bits := []int{32, 32, 32, 24, 20 + r.IntN(12)}[r.IntN(5)]
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits).Masked()
	}
	return ps
}

// BenchmarkBlocklistDelta1k applies 1000 additions to a live 1M-entry
// blocklist, then removes them again, alternating: the enforcer's share of
// issue 4's 20 ms budget for a delta (management API to live in the maps).
func BenchmarkBlocklistDelta1k(b *testing.B) {
	privileged.Require(b)
	x, err := Open(Options{PinPath: testPinPath(b), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { x.Detach() })
	if err := x.ReplaceBlocklist(benchList(1, 1_000_000)); err != nil {
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
		if err := x.ApplyBlocklistDelta(add, remove); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
