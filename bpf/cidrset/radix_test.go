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
		// From bucketSortMin on, lists radix cannot take are bucket sorted.
		{"ipv6 random large", draw(3*bucketSortMin, func(int) Prefix { return randPrefix(r, false) })},
		{"ipv6 large, one /48", draw(3*bucketSortMin, func(int) Prefix {
			p, _ := PrefixFrom(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 0, 7, 6: byte(r.IntN(4)), 9: byte(r.IntN(256)), 12: byte(r.IntN(256)), 15: byte(r.IntN(256))}), 56+r.IntN(73)))
			return p
		})},
		{"ipv6 large, one /64", draw(3*bucketSortMin, func(int) Prefix {
			p, _ := PrefixFrom(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 8: byte(r.IntN(256)), 10: byte(r.IntN(256)), 12: byte(r.IntN(256)), 15: byte(r.IntN(256))}), 64+r.IntN(65)))
			return p
		})},
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

// BenchmarkSortIPv6 sorts a 250k-entry IPv6 list (a 1M mixed list's IPv6
// part) by bucket sort and by comparison.
func BenchmarkSortIPv6(b *testing.B) {
	ps := make([]Prefix, 250_000)
	for i, p := range genlist.Mixed(9, len(ps), 1, 0xf0000000) {
		ps[i], _ = PrefixFrom(p)
	}
	buf := make([]Prefix, len(ps))
	b.Run("sortPrefixes", func(b *testing.B) {
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

func TestCoverDiff(t *testing.T) {
	set := func(ss ...string) *Set {
		ps := make([]Prefix, len(ss))
		for i, s := range ss {
			ps[i], _ = PrefixFrom(netip.MustParsePrefix(s))
		}
		return New(ps)
	}
	base := set("10.0.0.0/24", "10.0.2.0/24", "192.0.2.7/32")
	tests := []struct {
		name             string
		to               *Set
		limit            int
		ok               bool
		nAdded, nRemoved int
	}{
		{"same", set("10.0.0.0/24", "10.0.2.0/24", "192.0.2.7/32"), 0, true, 0, 0},
		{"one swapped", set("10.0.0.0/24", "10.0.3.0/24", "192.0.2.7/32"), 2, true, 1, 1},
		{"merged", set("10.0.0.0/23", "10.0.2.0/24", "192.0.2.7/32"), 2, true, 1, 1},
		{"over the limit", set("10.0.0.0/23", "10.0.2.0/24", "192.0.2.8/32"), 3, false, 0, 0},
		{"sizes too far apart", set("10.0.0.0/24"), 1, false, 0, 0},
		{"to empty", Empty, 3, true, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			added, removed, ok := CoverDiff(base, tc.to, tc.limit)
			if ok != tc.ok || len(added) != tc.nAdded || len(removed) != tc.nRemoved {
				t.Fatalf("CoverDiff: %d added, %d removed, ok %v; want %d, %d, %v", len(added), len(removed), ok, tc.nAdded, tc.nRemoved, tc.ok)
			}
			if ok {
				want := appendDiffRef(base.Cover(), tc.to.Cover())
				if got := len(added) + len(removed); got != want {
					t.Fatalf("%d changes, reference %d", got, want)
				}
			}
		})
	}
}

// TestCoverDiffLarge checks the sampled shortcut on covers large enough to
// take it: unrelated sets are refused, sets whose difference is at or just
// under the limit are still diffed exactly.
func TestCoverDiffLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	gen := func(n int) []Prefix {
		ps := make([]Prefix, n)
		for i := range ps {
			ps[i] = Prefix{Addr: AddrFromV4(r.Uint32() &^ 0xff), Bits: 120}
		}
		return ps
	}
	base := gen(20_000)
	from := New(base)
	n := from.CoverLen()
	if !farApart(from.Cover(), New(gen(20_000)).Cover(), n/4) {
		t.Error("farApart: unrelated sets not told apart")
	}
	if _, _, ok := CoverDiff(from, New(gen(20_000)), n/4); ok {
		t.Error("CoverDiff of unrelated sets: ok")
	}
	for _, share := range []int{100, 10, 5} { // 1%, 10%, 20% of the prefixes replaced
		next := slices.Clone(base)
		for i := 0; i < len(next); i += share {
			next[i] = gen(1)[0]
		}
		to := New(next)
		limit := n / 4
		if share == 5 {
			limit = 2*n/share + 50 // the difference is about 2n/share: just within
		}
		if farApart(from.Cover(), to.Cover(), limit) {
			t.Errorf("1/%d replaced, limit %d: farApart", share, limit)
		}
		added, removed, ok := CoverDiff(from, to, limit)
		if !ok {
			t.Fatalf("1/%d replaced, limit %d: not ok", share, limit)
		}
		if got, want := len(added)+len(removed), appendDiffRef(from.Cover(), to.Cover()); got != want {
			t.Fatalf("1/%d replaced: %d changes, reference %d", share, got, want)
		}
	}
}

// appendDiffRef counts the CIDRs in exactly one of a and b.
func appendDiffRef(a, b []Prefix) int {
	added, removed := appendDiff(nil, nil, a, b)
	return len(added) + len(removed)
}
