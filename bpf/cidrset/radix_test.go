package cidrset

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/edgeguard/edgeguard/internal/genlist"
)

func TestSortPrefixes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	draw := func(n int, f func(i int) Prefix) []Prefix {
		ps := make([]Prefix, n)
		for i := range ps {
			ps[i] = f(i)
		}
		return ps
	}
	tests := []struct {
		name string
		ps   []Prefix
	}{
		{"small", draw(100, func(int) Prefix { return randPrefix(r, true) })},
		{"ipv4", draw(50_000, func(int) Prefix { return randPrefix(r, true) })},
		{"ipv4 duplicates", draw(20_000, func(i int) Prefix { return randPrefix(rand.New(rand.NewPCG(uint64(i%300), 1)), true) })},
		{"ipv6 random", draw(20_000, func(int) Prefix { return randPrefix(r, false) })},
		{"ipv6 one /80", draw(20_000, func(int) Prefix {
			p, _ := PrefixFrom(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 10: byte(r.IntN(256)), 12: byte(r.IntN(256)), 15: byte(r.IntN(256))}), 96+r.IntN(33)))
			return p
		})},
		{"mixed", draw(20_000, func(i int) Prefix { return randPrefix(r, i%3 == 0) })},
		{"sorted", slices.SortedFunc(slices.Values(draw(20_000, func(int) Prefix { return randPrefix(r, true) })), compare)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := slices.Clone(tc.ps)
			slices.SortFunc(want, compare)
			got := slices.Clone(tc.ps)
			sortPrefixes(got)
			if !slices.Equal(got, want) {
				t.Fatal("sortPrefixes differs from slices.SortFunc")
			}
		})
	}
}

// BenchmarkSort sorts a 750k-entry IPv4 list (a 1M mixed list's IPv4 part)
// by radix and by comparison.
func BenchmarkSort(b *testing.B) {
	ps := make([]Prefix, 750_000)
	for i, p := range genlist.Mixed(9, len(ps), 0, 0xf0000000) {
		ps[i], _ = PrefixFrom(p)
	}
	buf := make([]Prefix, len(ps))
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(buf, ps)
			sortPrefixes(buf)
		}
	})
	b.Run("pdqsort", func(b *testing.B) {
		for b.Loop() {
			copy(buf, ps)
			slices.SortFunc(buf, compare)
		}
	})
}
