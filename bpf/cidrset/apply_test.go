package cidrset

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// checkSeq verifies a seq's structure: non-empty chunks of at most
// chunkMax, whose capacity ends with them, sorted and unique across chunks,
// and an index that matches them.
func checkSeq(t testing.TB, name string, s *seq) {
	t.Helper()
	if len(s.firsts) != len(s.chunks) {
		t.Fatalf("%s: %d firsts for %d chunks", name, len(s.firsts), len(s.chunks))
	}
	if !s.disjoint && (len(s.last) != len(s.chunks) || len(s.maxLast) != len(s.chunks)) {
		t.Fatalf("%s: %d last, %d maxLast for %d chunks", name, len(s.last), len(s.maxLast), len(s.chunks))
	}
	n := 0
	var prev Prefix
	var m Addr
	for i, c := range s.chunks {
		if len(c) == 0 || len(c) > chunkMax || cap(c) != len(c) {
			t.Fatalf("%s: chunk %d has len %d cap %d", name, i, len(c), cap(c))
		}
		if s.firsts[i] != c[0].Addr {
			t.Fatalf("%s: firsts[%d] = %v, chunk starts with %v", name, i, s.firsts[i], c[0])
		}
		if !s.disjoint {
			if got := maxLastOf(c); s.last[i] != got {
				t.Fatalf("%s: last[%d] stale", name, i)
			}
			if m.Less(s.last[i]) {
				m = s.last[i]
			}
			if s.maxLast[i] != m {
				t.Fatalf("%s: maxLast[%d] stale", name, i)
			}
		}
		for j, p := range c {
			if (i > 0 || j > 0) && compare(prev, p) >= 0 {
				t.Fatalf("%s: %v not after %v (chunk %d, index %d)", name, p, prev, i, j)
			}
			prev = p
		}
		n += len(c)
	}
	if n != s.n {
		t.Fatalf("%s: n = %d, counted %d", name, s.n, n)
	}
}

// checkApply applies add and remove to s and checks the result against
// the reference (a fresh New of the expected prefixes) and the reported
// cover changes against the difference of the two covers.
func checkApply(t testing.TB, s *Set, add, remove []Prefix) *Set {
	t.Helper()
	gone := make(map[Prefix]bool, len(remove))
	for _, p := range remove {
		gone[p] = true
	}
	want := slices.DeleteFunc(append(s.Prefixes(), add...), func(p Prefix) bool { return gone[p] })
	ref := New(want)
	before, beforeCover := s.Prefixes(), s.Cover()
	next, added, removed := s.Apply(add, remove)
	// Generations share chunks: the old one must be untouched.
	if !slices.Equal(s.Prefixes(), before) || !slices.Equal(s.Cover(), beforeCover) {
		t.Fatal("Apply modified the previous generation")
	}
	checkSeq(t, "raw", &next.raw)
	checkSeq(t, "cover", &next.cover)
	if got := next.Prefixes(); !slices.Equal(got, ref.Prefixes()) {
		t.Fatalf("prefixes = %v, want %v", strs(got), strs(ref.Prefixes()))
	}
	if got := next.Cover(); !slices.Equal(got, ref.Cover()) {
		t.Fatalf("cover = %v, want %v", strs(got), strs(ref.Cover()))
	}
	wantAdded, wantRemoved := appendDiff(nil, nil, beforeCover, ref.Cover())
	if !slices.Equal(added, wantAdded) || !slices.Equal(removed, wantRemoved) {
		t.Fatalf("cover changes = +%v -%v, want +%v -%v", strs(added), strs(removed), strs(wantAdded), strs(wantRemoved))
	}
	if next.Len() != ref.Len() || next.CoverLen() != ref.CoverLen() {
		t.Fatalf("Len, CoverLen = %d, %d, want %d, %d", next.Len(), next.CoverLen(), ref.Len(), ref.CoverLen())
	}
	return next
}

// grid returns n /24s 10.x.y.0 spaced two /24s apart: chunks of disjoint,
// non-adjacent prefixes, each its own aggregated range.
func grid(n int) []Prefix {
	ps := make([]Prefix, n)
	for i := range ps {
		a := 0x0a000000 + uint32(i)*512
		ps[i], _ = PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), 0}), 24))
	}
	return ps
}

func TestApplyMatchesRebuild(t *testing.T) {
	base := grid(1000) // 16 chunks: 10.0.0.0/24, 10.0.2.0/24, ... 10.7.206.0/24
	p := func(ss ...string) []Prefix { return mustPrefixes(t, ss...) }
	tests := []struct {
		name        string
		start       []Prefix
		add, remove []Prefix
	}{
		{"add to empty", nil, p("10.0.0.0/24", "10.0.1.0/24"), nil},
		{"no change", base, p("10.0.0.0/24"), p("192.0.2.0/24")},
		{"fill gaps merges ranges", base, p("10.0.1.0/24", "10.0.3.0/24", "10.0.5.0/24"), nil},
		{"covering /8 swallows all", base, p("10.0.0.0/8"), nil},
		{"removing covering /8 uncovers all", append(slices.Clone(base), p("10.0.0.0/8")...), nil, p("10.0.0.0/8")},
		{"removing /16 uncovers shorter and longer", append(slices.Clone(base), p("10.0.0.0/12", "10.1.0.0/16")...), nil, p("10.1.0.0/16")},
		{"remove ancestor keeps nested", p("10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"), nil, p("10.0.0.0/8")},
		{"overlapping adds", base, p("10.0.0.0/22", "10.0.0.0/23", "10.0.2.0/23", "10.0.1.128/25"), nil},
		{"duplicate adds and removes", base, p("10.0.1.0/24", "10.0.1.0/24", "10.0.1.7/24"), p("10.0.0.0/24", "10.0.0.0/24")},
		{"add and remove same", base, p("10.0.1.0/24", "10.0.2.0/24"), p("10.0.1.0/24", "10.0.2.0/24")},
		{"remove absent", base, nil, p("10.0.1.0/24", "10.0.0.0/25", "11.0.0.0/8")},
		{"remove one chunk entirely", base, nil, base[64:128]},
		{"remove everything", base, nil, base},
		{"remove every other", base, nil, everyOther(base)},
		{"split a chunk", base, halves(base[:1]), base[:1]},
		{"grow a chunk past chunkMax", base, gridBetween(base[:200]), nil},
		{"adjacent windows", base, p("10.0.1.0/25", "10.0.1.128/25", "10.0.4.0/24"), p("10.0.2.0/24", "10.0.6.0/24")},
		{"sibling completes parent", p("10.0.0.0/25"), p("10.0.0.128/25"), nil},
		{"sibling removal splits parent", p("10.0.0.0/25", "10.0.0.128/25"), nil, p("10.0.0.0/25")},
		{"before the first prefix", base, p("9.255.255.0/24", "1.0.0.0/8"), nil},
		{"after the last prefix", base, p("10.7.207.0/24", "255.255.255.255/32"), nil},
		{"whole space", base, p("0.0.0.0/0"), nil},
		{"whole space removed", append(slices.Clone(base), p("0.0.0.0/0")...), nil, p("0.0.0.0/0")},
		{"top of v4", p("255.255.255.254/32"), p("255.255.255.255/32", "255.255.255.0/25"), nil},
		{"v6 whole space", p("2001:db8::/32"), p("::/0"), p("2001:db8::/32")},
		{"v6 top", p("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128"), p("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkApply(t, New(tc.start), tc.add, tc.remove)
		})
	}
}

func everyOther(ps []Prefix) []Prefix {
	var out []Prefix
	for i := 0; i < len(ps); i += 2 {
		out = append(out, ps[i])
	}
	return out
}

// halves returns the two halves of each prefix.
func halves(ps []Prefix) []Prefix {
	var out []Prefix
	for _, p := range ps {
		h := Prefix{p.Addr, p.Bits + 1}
		out = append(out, h, Prefix{h.Last().add1(), h.Bits})
	}
	return out
}

// gridBetween returns the /24 after each grid prefix (filling the gaps).
func gridBetween(ps []Prefix) []Prefix {
	var out []Prefix
	for _, p := range ps {
		out = append(out, Prefix{p.Last().add1(), p.Bits})
	}
	return out
}

func TestApplyRandomLarge(t *testing.T) {
	for _, v4 := range []bool{true, false} {
		name := map[bool]string{true: "v4", false: "v6"}[v4]
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(len(name))))
			start := make([]Prefix, 20_000)
			for i := range start {
				start[i] = randPrefix(r, v4)
			}
			s := New(start)
			for range 30 {
				held := s.Prefixes()
				var add, remove []Prefix
				for range r.IntN(300) {
					add = append(add, randPrefix(r, v4))
				}
				for range r.IntN(300) {
					if r.IntN(4) > 0 {
						remove = append(remove, held[r.IntN(len(held))])
					} else {
						remove = append(remove, randPrefix(r, v4))
					}
				}
				s = checkApply(t, s, add, remove)
			}
		})
	}
}

// FuzzApply checks Apply against a fresh build. The input's first 8 bytes
// seed a generator for the starting set (byte 8 sets its size: up to 64
// chunks); the rest is a list of edits of 6 bytes each: kind (even
// adds, odd removes; bit 1 picks a held prefix, indexed by the next two
// bytes), then an address in 10.0.0.0/14 and a length.
func FuzzApply(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 1, 2, 3, 24, 1, 0, 0, 0, 0, 8})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 20, 2, 0, 5, 0, 0, 0, 3, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 8})
	f.Fuzz(runFuzzApply)
}

// runFuzzApply is FuzzApply's body.
func runFuzzApply(t *testing.T, data []byte) {
	if len(data) < 9 {
		return
	}
	r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(data), 1))
	start := make([]Prefix, int(data[8]%64)*chunkFill)
	for i := range start {
		start[i] = randPrefix(r, true)
	}
	s := New(start)
	held := s.Prefixes()
	var add, remove []Prefix
	for e := data[9:]; len(e) >= 6; e = e[6:] {
		var p Prefix
		if e[0]&2 != 0 && len(held) > 0 {
			p = held[int(binary.BigEndian.Uint16(e[1:]))%len(held)]
		} else {
			a := 0x0a000000 | uint32(e[1]&3)<<16 | uint32(e[2])<<8 | uint32(e[3])
			p, _ = PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), int(e[4])%33).Masked())
		}
		if e[0]&1 == 0 {
			add = append(add, p)
		} else {
			remove = append(remove, p)
		}
	}
	checkApply(t, s, add, remove)
}
