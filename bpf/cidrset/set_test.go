package cidrset

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/edgeguard/edgeguard/internal/genlist"
)

// refContains is the reference: does any prefix of raw cover a?
func refContains(raw []Prefix, a Addr) bool {
	for _, p := range raw {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func mustPrefixes(t testing.TB, ss ...string) []Prefix {
	t.Helper()
	var out []Prefix
	for _, s := range ss {
		p, _ := PrefixFrom(netip.MustParsePrefix(s))
		out = append(out, p)
	}
	return out
}

func strs(ps []Prefix) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func TestCover(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, nil},
		{"single", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}},
		{"duplicates", []string{"10.0.0.0/8", "10.1.2.3/8"}, []string{"10.0.0.0/8"}},
		{"nested", []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32"}, []string{"10.0.0.0/8"}},
		{"siblings merge", []string{"10.0.0.0/25", "10.0.0.128/25"}, []string{"10.0.0.0/24"}},
		{"cascade merge", []string{"10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/25"}, []string{"10.0.0.0/24"}},
		{"adjacent not aligned", []string{"10.0.0.128/25", "10.0.1.0/25"}, []string{"10.0.0.128/25", "10.0.1.0/25"}},
		{"whole v4", []string{"0.0.0.0/1", "128.0.0.0/1"}, []string{"0.0.0.0/0"}},
		{"top of v4", []string{"255.255.255.255/32", "255.255.255.254/32"}, []string{"255.255.255.254/31"}},
		{"v6", []string{"2001:db8::/33", "2001:db8:8000::/33", "2001:db8::1/128"}, []string{"2001:db8::/32"}},
		{"whole v6", []string{"::/1", "8000::/1"}, []string{"::/0"}},
		{"top of v6", []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"}, []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strs(New(mustPrefixes(t, tc.in...)).Cover())
			if !slices.Equal(got, tc.want) {
				t.Fatalf("cover = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name         string
		start        []string
		add, remove  []string
		want         []string // cover after
		added, remvd []string
	}{
		{"add to empty", nil, []string{"10.0.0.0/24"}, nil, []string{"10.0.0.0/24"}, []string{"10.0.0.0/24"}, nil},
		{"remove restores covering", []string{"10.0.0.0/8", "10.1.0.0/16"}, nil, []string{"10.0.0.0/8"},
			[]string{"10.1.0.0/16"}, []string{"10.1.0.0/16"}, []string{"10.0.0.0/8"}},
		{"remove absent is no-op", []string{"10.0.0.0/8"}, nil, []string{"10.1.0.0/16"},
			[]string{"10.0.0.0/8"}, nil, nil},
		{"remove one sibling splits", []string{"10.0.0.0/25", "10.0.0.128/25"}, nil, []string{"10.0.0.0/25"},
			[]string{"10.0.0.128/25"}, []string{"10.0.0.128/25"}, []string{"10.0.0.0/24"}},
		{"add and remove same", nil, []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, nil, nil, nil},
		{"add completes sibling", []string{"10.0.0.0/25"}, []string{"10.0.0.128/25"}, nil,
			[]string{"10.0.0.0/24"}, []string{"10.0.0.0/24"}, []string{"10.0.0.0/25"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(mustPrefixes(t, tc.start...))
			next, added, removed := s.Apply(mustPrefixes(t, tc.add...), mustPrefixes(t, tc.remove...))
			if got := strs(next.Cover()); !slices.Equal(got, tc.want) {
				t.Errorf("cover = %v, want %v", got, tc.want)
			}
			if got := strs(added); !slices.Equal(got, tc.added) {
				t.Errorf("added = %v, want %v", got, tc.added)
			}
			if got := strs(removed); !slices.Equal(got, tc.remvd) {
				t.Errorf("removed = %v, want %v", got, tc.remvd)
			}
		})
	}
}

// randPrefix draws prefixes clustered in a small region so that they
// overlap, nest and touch often.
func randPrefix(r *rand.Rand, v4 bool) Prefix {
	if v4 {
		a := 0x0a000000 | r.Uint32N(1<<14)<<4 | r.Uint32N(16)
		if r.IntN(8) == 0 {
			a = r.Uint32()
		}
		bits := uint8(8 + r.IntN(25))
		p, _ := PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), int(bits)))
		return p
	}
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[4] = byte(r.IntN(4))
	b[6] = byte(r.IntN(256))
	b[15] = byte(r.IntN(256))
	bits := 32 + r.IntN(97)
	p, _ := PrefixFrom(netip.PrefixFrom(netip.AddrFrom16(b), bits))
	return p
}

// probes returns addresses around every prefix boundary plus random ones.
func probes(r *rand.Rand, ps []Prefix, v4 bool, n int) []Addr {
	var out []Addr
	for _, p := range ps {
		f, l := p.First(), p.Last()
		out = append(out, f, l, l.add1(), f.sub(Addr{0, 1}))
	}
	for range n {
		out = append(out, randPrefix(r, v4).Addr)
	}
	return out
}

func checkCoverInvariants(t *testing.T, s *Set) {
	t.Helper()
	c := s.Cover()
	for i := range c {
		if c[i].Addr != c[i].First() || (c[i].Addr.Lo&hostMask(c[i].Bits).Lo) != 0 || (c[i].Addr.Hi&hostMask(c[i].Bits).Hi) != 0 {
			t.Fatalf("cover[%d] %v not masked", i, c[i])
		}
		if i > 0 && !c[i-1].Last().Less(c[i].First()) {
			t.Fatalf("cover[%d] %v overlaps %v", i, c[i], c[i-1])
		}
		// Minimal: no two siblings both present.
		if i > 0 && c[i-1].Bits == c[i].Bits && c[i].Bits > 0 {
			parent := Prefix{c[i-1].Addr, c[i].Bits - 1}
			m := hostMask(parent.Bits)
			parent.Addr = Addr{parent.Addr.Hi &^ m.Hi, parent.Addr.Lo &^ m.Lo}
			if parent.Addr == c[i-1].Addr && c[i-1].Last().add1() == c[i].Addr {
				t.Fatalf("cover not minimal: %v and %v are siblings", c[i-1], c[i])
			}
		}
	}
}

func TestRandomAgainstReference(t *testing.T) {
	for _, v4 := range []bool{true, false} {
		name := map[bool]string{true: "v4", false: "v6"}[v4]
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(name))))
			s := Empty
			var raw []Prefix
			for step := range 200 {
				var add, remove []Prefix
				for range r.IntN(20) {
					add = append(add, randPrefix(r, v4))
				}
				for range r.IntN(10) {
					if len(raw) > 0 && r.IntN(3) > 0 {
						remove = append(remove, raw[r.IntN(len(raw))])
					} else {
						remove = append(remove, randPrefix(r, v4))
					}
				}
				next, added, removed := s.Apply(add, remove)
				raw = append(raw, add...)
				raw = slices.DeleteFunc(raw, func(p Prefix) bool { return slices.Contains(remove, p) })
				slices.SortFunc(raw, compare)
				raw = slices.Compact(raw)
				if !slices.Equal(next.Prefixes(), raw) {
					t.Fatalf("step %d: prefixes differ from reference", step)
				}
				checkCoverInvariants(t, next)
				if want := New(raw).Cover(); !slices.Equal(next.Cover(), want) {
					t.Fatalf("step %d: incremental cover differs from a fresh build", step)
				}
				// Applying the reported diff to the old cover gives the new one.
				patched := slices.DeleteFunc(slices.Clone(s.Cover()), func(p Prefix) bool { return slices.Contains(removed, p) })
				patched = append(patched, added...)
				slices.SortFunc(patched, compare)
				if !slices.Equal(patched, next.Cover()) {
					t.Fatalf("step %d: diff does not turn old cover into new", step)
				}
				for _, a := range probes(r, append(add, remove...), v4, 50) {
					if got, want := next.Contains(a), refContains(raw, a); got != want {
						t.Fatalf("step %d: Contains(%v) = %v, want %v", step, netip.AddrFrom16(a.As16()), got, want)
					}
				}
				s = next
			}
		})
	}
}

func TestRanges(t *testing.T) {
	s := New(mustPrefixes(t, "10.0.0.128/25", "10.0.1.0/24", "10.0.3.0/24"))
	got := s.Ranges()
	want := []Range{
		{AddrFrom(netip.MustParseAddr("10.0.0.128")), AddrFrom(netip.MustParseAddr("10.0.1.255"))},
		{AddrFrom(netip.MustParseAddr("10.0.3.0")), AddrFrom(netip.MustParseAddr("10.0.3.255"))},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Ranges = %v, want %v", got, want)
	}
}

func TestSplit(t *testing.T) {
	v4, v6, err := Split("blocklist", []netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/8"),
		netip.MustParsePrefix("::ffff:192.0.2.0/120"),
		netip.MustParsePrefix("64:ff9b::/96"),
		netip.MustParsePrefix("2001:db8::/32"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strs(v4), []string{"10.0.0.0/8", "192.0.2.0/24"}; !slices.Equal(got, want) {
		t.Errorf("v4 = %v, want %v", got, want)
	}
	if got, want := strs(v6), []string{"64:ff9b::/96", "2001:db8::/32"}; !slices.Equal(got, want) {
		t.Errorf("v6 = %v, want %v", got, want)
	}
	_, _, err = Split("blocklist", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}})
	if err == nil || err.Error() != `check blocklist: blocklist[1]: invalid prefix "invalid Prefix"` {
		t.Fatalf("err = %v", err)
	}
}

// TestSplitLarge splits a list long enough for two goroutines: both
// families keep the list's order, and an invalid entry in the second half
// is named by its index.
func TestSplitLarge(t *testing.T) {
	ps := genlist.Mixed(5, 3*splitParallelMin, 3, 0xf0000000)
	ps = append(ps, netip.MustParsePrefix("::ffff:10.0.0.0/100"), netip.MustParsePrefix("::ffff:0:0/90"))
	var want4, want6 []Prefix
	for _, p := range ps {
		if pfx, is4 := PrefixFrom(p); is4 {
			want4 = append(want4, pfx)
		} else {
			want6 = append(want6, pfx)
		}
	}
	v4, v6, err := Split("blocklist", ps)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v4, want4) || !slices.Equal(v6, want6) {
		t.Fatalf("Split: %d/%d IPv4/IPv6, want %d/%d, or out of order", len(v4), len(v6), len(want4), len(want6))
	}
	ps[len(ps)-5] = netip.Prefix{}
	_, _, err = Split("blocklist", ps)
	if want := fmt.Sprintf(`check blocklist: blocklist[%d]: invalid prefix "invalid Prefix"`, len(ps)-5); err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func BenchmarkNew1M(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ps := make([]Prefix, 1_000_000)
	for i := range ps {
		ps[i], _ = PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}), 16+r.IntN(17)))
	}
	b.ReportAllocs()
	for b.Loop() {
		New(ps)
	}
}

func TestParallelSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	ps := make([]Prefix, parallelSortMin*2+17)
	for i := range ps {
		ps[i] = randPrefix(r, i%2 == 0)
	}
	want := slices.Clone(ps)
	slices.SortFunc(want, compare)
	if got := sorted(ps); !slices.Equal(got, want) {
		t.Fatal("parallel sort differs from slices.SortFunc")
	}
}

// benchList draws n IPv4 prefixes as bench/blocklist's lists.
func benchList(seed uint64, n int) []Prefix {
	ps := make([]Prefix, n)
	for i, p := range genlist.Mixed(seed, n, 0, 0xc0000000) {
		ps[i], _ = PrefixFrom(p)
	}
	return ps
}

// BenchmarkApply1k adds 1000 prefixes to a 1M-prefix set, then removes
// them again, alternating (one Apply per op).
func BenchmarkApply1k(b *testing.B) {
	s := New(benchList(1, 1_000_000))
	delta := benchList(2, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			s, _, _ = s.Apply(delta, nil)
		} else {
			s, _, _ = s.Apply(nil, delta)
		}
		i++
	}
}

// BenchmarkContains looks up random IPv4 addresses in a 1M-prefix set (the
// user-space filter's per-connection check), and one address repeatedly.
func BenchmarkContains(b *testing.B) {
	s := New(benchList(1, 1_000_000))
	r := rand.New(rand.NewPCG(5, 5))
	addrs := make([]Addr, 4096)
	for i := range addrs {
		addrs[i] = AddrFromV4(r.Uint32())
	}
	b.Run("random", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s.Contains(addrs[i%len(addrs)])
			i++
		}
	})
	b.Run("same", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Contains(addrs[0])
		}
	})
}

// BenchmarkSplit1M splits a 1M-entry mixed list (a quarter IPv6), the
// first step of a replace.
func BenchmarkSplit1M(b *testing.B) {
	ps := genlist.Mixed(7, 1_000_000, 4, 0xf0000000)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Split("blocklist", ps); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIntersects checks Intersects and Disjoint against address-by-address
// membership on random sets of prefixes inside one /24.
func TestIntersects(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	draw := func(n int) *Set {
		var ps []Prefix
		for range n {
			bits := 26 + r.IntN(7)
			a := netip.AddrFrom4([4]byte{10, 1, 2, byte(r.IntN(256))})
			p, _ := PrefixFrom(netip.PrefixFrom(a, bits).Masked())
			ps = append(ps, p)
		}
		return New(ps)
	}
	addr := func(i int) Addr { return AddrFromV4(0x0a010200 | uint32(i)) }
	for range 500 {
		s, u := draw(r.IntN(4)), draw(r.IntN(4))
		first := r.IntN(256)
		last := first + r.IntN(256-first)
		want := false
		for i := first; i <= last; i++ {
			want = want || s.Contains(addr(i))
		}
		if got := s.Intersects(addr(first), addr(last)); got != want {
			t.Fatalf("%v Intersects [%d, %d] = %v, want %v", s.Cover(), first, last, got, want)
		}
		disjoint := true
		for i := range 256 {
			disjoint = disjoint && !(s.Contains(addr(i)) && u.Contains(addr(i)))
		}
		if got := s.Disjoint(u); got != disjoint {
			t.Fatalf("%v Disjoint %v = %v, want %v", s.Cover(), u.Cover(), got, disjoint)
		}
	}
}
