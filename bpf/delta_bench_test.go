package bpf

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/edgeguard/edgeguard/internal/genlist"
	"github.com/edgeguard/edgeguard/internal/privileged"
)

// benchList draws n prefixes, every fourth IPv6, as bench/blocklist's lists.
func benchList(seed uint64, n int) []netip.Prefix {
	return genlist.Mixed(seed, n, 4, 0xc0000000)
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
