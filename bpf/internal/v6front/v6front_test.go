package v6front

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/bpf/internal/v6tab"
)

// table is an in-memory IPv6 hash table with the kernel's semantics for
// the writes.
type table map[v6tab.Key]v6tab.Node

func (m table) apply(w *v6tab.Writes) {
	for _, k := range w.InsertKeys {
		m[k] = v6tab.Node{}
	}
	for i, k := range w.NodeKeys {
		m[k] = w.NodeVals[i]
	}
	for _, k := range w.DeleteKeys {
		delete(m, k)
	}
}

// check verifies every way of f against the table: each cached /32 has a
// node that says what the way says, and each probe the front answers gets
// the set's verdict. It returns how many probes the front answered.
func check(t *testing.T, f *Front, m table, set *cidrset.Set, probes []netip.Addr) int {
	t.Helper()
	for si := range uint32(Sets) {
		s := f.Set(si)
		if s[StateWord] != 0 {
			t.Fatalf("set %#x has state %#x", si, s[StateWord])
		}
		for i := range Ways {
			w := s[i*WayWords:]
			if w[1] == 0 {
				continue
			}
			if SetOf(w[0]) != si {
				t.Fatalf("set %#x holds /32 %#x of set %#x", si, w[0], SetOf(w[0]))
			}
			k := v6tab.Key{Tag: v6tab.TagNode}
			binary.LittleEndian.PutUint32(k.Addr[:4], w[0])
			n, ok := m[k]
			if !ok {
				t.Fatalf("set %#x caches /32 %#x, which has no node", si, w[0])
			}
			l, addr, fits := way(&n)
			if !fits || l != w[1] || addr != [3]uint32(w[2:5]) {
				t.Fatalf("set %#x way %d = %x, node %+v", si, i, w[:5], n)
			}
		}
	}
	answered := 0
	for _, a := range probes {
		if !a.IsValid() {
			continue
		}
		blocked, ok := f.Lookup(a.As16())
		if !ok {
			continue
		}
		answered++
		if want := set.Contains(cidrset.AddrFrom(a)); blocked != want {
			t.Fatalf("%v: front says blocked=%v, the list %v", a, blocked, want)
		}
	}
	return answered
}

func randPrefix(r *rand.Rand) netip.Prefix {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, byte(r.IntN(4)), byte(r.IntN(256))
	b[5], b[9], b[15] = byte(r.IntN(4)), byte(r.Uint32()), byte(r.IntN(256))
	bits := 33 + r.IntN(96)
	switch r.IntN(5) {
	case 0:
		bits = 20 + r.IntN(13) // spread over nodes, or short entries
	case 1:
		bits = 48
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), bits).Masked()
}

func edges(ps []netip.Prefix, r *rand.Rand) []netip.Addr {
	var out []netip.Addr
	for _, p := range ps {
		first := p.Masked().Addr()
		last := first.As16()
		for i := p.Bits(); i < 128; i++ {
			last[i/8] |= 0x80 >> (i % 8)
		}
		l := netip.AddrFrom16(last)
		mid := first.As16()
		mid[15] ^= byte(r.Uint32())
		out = append(out, first, l, first.Prev(), l.Next(), netip.AddrFrom16(mid))
	}
	return out
}

func toCidr(ps []netip.Prefix) []cidrset.Prefix {
	out := make([]cidrset.Prefix, len(ps))
	for i, p := range ps {
		out[i], _ = cidrset.PrefixFrom(p)
	}
	return out
}

// TestFrontFollowsTable builds a table and runs random deltas on it: after
// each, the front caches only what the nodes say, answers right for every
// probe it answers, and answers most probes inside nodes.
func TestFrontFollowsTable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var raw []netip.Prefix
	for range 3000 {
		raw = append(raw, randPrefix(r))
	}
	set := cidrset.New(toCidr(raw))
	tb := v6tab.New(set.Cover())
	w := tb.Build(set.Cover())
	m := table{}
	m.apply(w)
	f := New()
	f.Apply(w)
	if n := check(t, f, m, set, edges(raw, r)); n < len(raw) {
		t.Fatalf("the front answered %d of %d probes", n, 5*len(raw))
	}
	for step := range 30 {
		var add, remove []netip.Prefix
		for range 1 + r.IntN(100) {
			add = append(add, randPrefix(r))
		}
		for range r.IntN(100) {
			remove = append(remove, raw[r.IntN(len(raw))])
		}
		next, added, removed := set.Apply(toCidr(add), toCidr(remove))
		w := tb.Delta(set, next, added, removed)
		m.apply(w)
		f.ClearDirty()
		f.Apply(w)
		for _, si := range f.Changed() {
			if si >= Sets {
				t.Fatalf("step %d: changed set %d out of range", step, si)
			}
		}
		set = next
		check(t, f, m, set, edges(append(add, remove...), r))
	}
}

// TestFullSet fills one set past its ways: the fourth /32 is not cached
// and answers from the table; dropping a cached one frees its way.
func TestFullSet(t *testing.T) {
	// /32s of 2000::/8 that share a set (those of one /16 never do).
	var same []netip.Prefix
	want := SetOf(Key(netip.MustParseAddr("2001:0:0::").As16()))
	for i := 0; len(same) < 4 && i < 1<<24; i++ {
		a := netip.AddrFrom16([16]byte{0x20, byte(i >> 16), byte(i >> 8), byte(i)})
		if SetOf(Key(a.As16())) == want {
			same = append(same, netip.PrefixFrom(a, 48))
		}
	}
	if len(same) < 4 {
		t.Fatal("no four /32s share a set")
	}
	set := cidrset.New(toCidr(same))
	tb := v6tab.New(set.Cover())
	w := tb.Build(set.Cover())
	f := New()
	f.Apply(w)
	cached := 0
	for _, p := range same {
		blocked, ok := f.Lookup(p.Addr().As16())
		if ok {
			cached++
			if !blocked {
				t.Errorf("%v: cached as not blocked", p)
			}
		}
		out := p.Addr().As16()
		out[5] = 1 // same /32, outside the /48
		if blocked, ok := f.Lookup(out); ok && blocked {
			t.Errorf("%v: blocked outside its /48", netip.AddrFrom16(out))
		}
	}
	if cached != Ways {
		t.Fatalf("%d of 4 /32s of one set cached, want %d", cached, Ways)
	}
	next, added, removed := set.Apply(nil, toCidr(same[:1]))
	f.Apply(tb.Delta(set, next, added, removed))
	if _, ok := f.Lookup(same[0].Addr().As16()); ok {
		t.Error("a removed /32 is still cached")
	}
}
