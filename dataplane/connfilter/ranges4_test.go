package connfilter

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// flat returns all intervals of r in order, checking the chunk structure.
func (r *ranges4) flat(t testing.TB) []iv4 {
	t.Helper()
	if len(r.firsts) != len(r.chunks) {
		t.Fatalf("%d firsts for %d chunks", len(r.firsts), len(r.chunks))
	}
	var out []iv4
	for i, c := range r.chunks {
		if len(c) == 0 || len(c) > chunk4Max || cap(c) != len(c) {
			t.Fatalf("chunk %d: len %d cap %d", i, len(c), cap(c))
		}
		if r.firsts[i] != c[0].first {
			t.Fatalf("firsts[%d] = %#x, chunk starts at %#x", i, r.firsts[i], c[0].first)
		}
		out = append(out, c...)
	}
	for i := 1; i < len(out); i++ {
		if out[i-1].last >= out[i].first {
			t.Fatalf("interval %d [%#x, %#x] not after [%#x, %#x]", i, out[i].first, out[i].last, out[i-1].first, out[i-1].last)
		}
	}
	return out
}

func cidrs(t testing.TB, ss ...string) []cidrset.Prefix {
	t.Helper()
	v4, _, err := cidrset.Split("test", prefixes(ss...))
	if err != nil {
		t.Fatal(err)
	}
	return v4
}

// checkPatch applies add and remove to s and its ranges r and compares the
// patched ranges with ranges built from the new set.
func checkPatch(t testing.TB, s *cidrset.Set, r ranges4, add, remove []cidrset.Prefix) (*cidrset.Set, ranges4) {
	t.Helper()
	next, added, removed := s.Apply(add, remove)
	got := r.patch(toIV4(added), toIV4(removed))
	want := newRanges4(next.Cover())
	if g, w := got.flat(t), want.flat(t); !slices.Equal(g, w) {
		t.Fatalf("patched ranges differ from a rebuild: %d intervals, want %d", len(g), len(w))
	}
	if f := r.flat(t); !slices.Equal(f, toIV4(s.Cover())) {
		t.Fatal("patch modified the previous generation")
	}
	return next, got
}

func TestRanges4Patch(t *testing.T) {
	var grid []string // 10.0.0.0/24, 10.0.2.0/24, ...: 300 separate intervals, 5 chunks
	for i := range 300 {
		grid = append(grid, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 7), byte(i * 2), 0}), 24).String())
	}
	tests := []struct {
		name        string
		start       []string
		add, remove []string
	}{
		{"add to empty", nil, []string{"10.0.0.0/24", "192.0.2.1/32"}, nil},
		{"add before all", grid, []string{"9.0.0.0/8", "0.0.0.0/32"}, nil},
		{"add after all", grid, []string{"255.255.255.255/32"}, nil},
		{"fill gaps merges", grid, []string{"10.0.1.0/24", "10.0.3.0/24"}, nil},
		{"widen at the same first", []string{"10.0.0.0/25"}, []string{"10.0.0.128/25"}, nil},
		{"remove one", grid, nil, grid[7:8]},
		{"remove a whole chunk", grid, nil, grid[64:128]},
		{"remove all", grid, nil, grid},
		{"covering /8 replaces all", grid, []string{"10.0.0.0/8"}, nil},
		{"drop the covering /8", append(slices.Clone(grid), "10.0.0.0/8"), nil, []string{"10.0.0.0/8"}},
		{"grow a chunk past the max", grid, gaps(grid[:200]), nil},
		{"whole space", grid, []string{"0.0.0.0/0"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := cidrset.New(cidrs(t, tc.start...))
			checkPatch(t, s, newRanges4(s.Cover()), cidrs(t, tc.add...), cidrs(t, tc.remove...))
		})
	}
}

// gaps returns the /24 after each of the given /24s.
func gaps(ps []string) []string {
	var out []string
	for _, s := range ps {
		p := netip.MustParsePrefix(s)
		b := p.Addr().As4()
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{b[0], b[1], b[2] + 1, 0}), 24).String())
	}
	return out
}

func TestRanges4PatchRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	randPrefix := func() cidrset.Prefix {
		a := 0x0a000000 | r.Uint32N(1<<18)
		p, _ := cidrset.PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), 14+r.IntN(19)).Masked())
		return p
	}
	var start []cidrset.Prefix
	for range 5000 {
		start = append(start, randPrefix())
	}
	s := cidrset.New(start)
	rs := newRanges4(s.Cover())
	for range 50 {
		held := s.Prefixes()
		var add, remove []cidrset.Prefix
		for range r.IntN(100) {
			add = append(add, randPrefix())
		}
		for range r.IntN(100) {
			remove = append(remove, held[r.IntN(len(held))])
		}
		s, rs = checkPatch(t, s, rs, add, remove)
	}
}

// FuzzDelta drives ApplyBlocklistDelta on a list that starts with 1000
// fixed prefixes (16 chunks) and compares Check with a reference. Every 5 bytes are an IPv4 prefix inside 10.0.0.0/14 (3 address bytes,
// the low 2 bits of the first one used, then length 14 + (byte 3 mod 19),
// then an op byte: bit 0 removes instead of adding, bit 1 ends the delta).
func FuzzDelta(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0, 0, 1, 0, 18, 2, 0, 0, 0, 2, 1})
	f.Add([]byte{0, 0, 0, 10, 0, 0, 0, 128, 10, 2, 0, 0, 0, 10, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		flt := New()
		r := rand.New(rand.NewPCG(1, 1))
		held := make([]netip.Prefix, 1000)
		for i := range held {
			a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
			held[i] = netip.PrefixFrom(a, 24+r.IntN(9)).Masked()
		}
		if err := flt.ReplaceBlocklist(held); err != nil {
			t.Fatal(err)
		}
		var add, remove []netip.Prefix
		var probes []netip.Addr
		for ; len(data) >= 5; data = data[5:] {
			a := netip.AddrFrom4([4]byte{10, data[0] & 3, data[1], data[2]})
			p := netip.PrefixFrom(a, 14+int(data[3])%19).Masked()
			if data[4]&1 != 0 {
				remove = append(remove, p)
			} else {
				add = append(add, p)
			}
			last := lastAddr(p)
			probes = append(probes, p.Addr(), p.Addr().Prev(), last, last.Next())
			if data[4]&2 == 0 && len(data) >= 10 {
				continue
			}
			if err := flt.ApplyBlocklistDelta(add, remove); err != nil {
				t.Fatal(err)
			}
			held = slices.DeleteFunc(append(held, add...), func(p netip.Prefix) bool { return slices.Contains(remove, p) })
			add, remove = nil, nil
			for _, a := range probes {
				want := enforce.ReasonPass
				if slices.ContainsFunc(held, func(p netip.Prefix) bool { return p.Contains(a) }) {
					want = enforce.ReasonDropBlocklist
				}
				if got := flt.Check(a); got != want {
					t.Fatalf("Check(%v) = %s, want %s", a, got, want)
				}
			}
			l := flt.lists.Load()
			if got, want := l.block4.flat(t), toIV4(l.blockSet4.Cover()); !slices.Equal(got, want) {
				t.Fatal("patched ranges differ from the set's cover")
			}
		}
	})
}

// TestDeltaIsAtomic checks addresses blocked before and after each delta
// (inside a prefix the delta widens into a merged range and back, inside a
// covering prefix whose nested prefix comes and goes) from other
// goroutines while deltas swap generations: they must never pass, and an
// unlisted neighbour must never drop.
func TestDeltaIsAtomic(t *testing.T) {
	f := New()
	base := prefixes("192.0.2.0/25", "198.51.100.0/24", "2001:db8:bad::/49")
	for i := range 2000 { // many chunks, so deltas rewrite some and share the rest
		base = append(base, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24))
	}
	if err := f.ReplaceBlocklist(base); err != nil {
		t.Fatal(err)
	}
	delta := prefixes("192.0.2.128/25", "198.51.100.64/26", "10.3.0.0/16", "2001:db8:bad:8000::/49")
	probes := []struct {
		addr netip.Addr
		want enforce.Reason
	}{
		{netip.MustParseAddr("192.0.2.5"), enforce.ReasonDropBlocklist},
		{netip.MustParseAddr("198.51.100.70"), enforce.ReasonDropBlocklist},
		{netip.MustParseAddr("10.2.5.1"), enforce.ReasonDropBlocklist},
		{netip.MustParseAddr("2001:db8:bad::1"), enforce.ReasonDropBlocklist},
		{netip.MustParseAddr("192.0.3.0"), enforce.ReasonPass},
		{netip.MustParseAddr("2001:db8:bae::1"), enforce.ReasonPass},
	}
	var stop atomic.Bool
	var wrong, runs atomic.Int64
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Go(func() {
			for !stop.Load() {
				if f.Check(p.addr) != p.want {
					wrong.Add(1)
				}
				runs.Add(1)
			}
		})
	}
	// At least 100 deltas, and until the readers have had a fair share of
	// them, within a bounded time.
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; (i < 100 || runs.Load() < 5000) && time.Now().Before(deadline); i++ {
		add, remove := delta, []netip.Prefix(nil)
		if i%2 == 1 {
			add, remove = nil, delta
		}
		if err := f.ApplyBlocklistDelta(add, remove); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("delta %d: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if wrong.Load() > 0 {
		t.Fatalf("%d of %d checks saw a wrong verdict during deltas", wrong.Load(), runs.Load())
	}
}
