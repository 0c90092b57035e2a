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

// check verifies every set of f against the table: each way's /32 has a
// node that says what the way says, and a set is complete unless a node of
// its /32s found no way. Each probe gets no answer from the front, or the
// list's verdict, or "no node" for a /32 the table has no node for. It
// returns how many probes the front answered.
func check(t *testing.T, f *Front, m table, set *cidrset.Set, probes []netip.Addr) int {
	t.Helper()
	inWays := map[uint32]bool{}
	for si := range f.Sets() {
		s := f.Set(si)
		if s[StateWord]>>16 != 0 {
			t.Fatalf("set %#x is marked invalid", si)
		}
		for i := range Ways {
			w := s[i*WayWords:]
			if w[1] == 0 {
				continue
			}
			if f.SetOf(w[0]) != si {
				t.Fatalf("set %#x holds /32 %#x of set %#x", si, w[0], f.SetOf(w[0]))
			}
			n, ok := m[nodeKey(w[0])]
			if !ok {
				t.Fatalf("set %#x caches /32 %#x, which has no node", si, w[0])
			}
			if l, addr := way(&n); l != w[1] || addr != [3]uint32(w[2:5]) {
				t.Fatalf("set %#x way %d = %x, node %+v", si, i, w[:5], n)
			}
			inWays[w[0]] = true
		}
	}
	incomplete := map[uint32]bool{}
	for k := range m {
		if k.Tag == v6tab.TagNode && !inWays[Key(k.Addr)] {
			incomplete[f.SetOf(Key(k.Addr))] = true
		}
	}
	for si := range f.Sets() {
		if got := f.Set(si)[StateWord]&Incomplete != 0; got != incomplete[si] {
			t.Fatalf("set %#x: incomplete %v, want %v", si, got, incomplete[si])
		}
	}
	answered := 0
	for _, a := range probes {
		if !a.IsValid() {
			continue
		}
		switch got := f.Lookup(a.As16()); got {
		case Table:
		case NoNode:
			answered++
			if _, ok := m[nodeKey(Key(a.As16()))]; ok {
				t.Fatalf("%v: front says no node, the table has one", a)
			}
		default:
			answered++
			if want := set.Contains(cidrset.AddrFrom(a)); (got == Blocked) != want {
				t.Fatalf("%v: front says %d, the list blocked=%v", a, got, want)
			}
		}
	}
	return answered
}

func nodeKey(key uint32) v6tab.Key {
	k := v6tab.Key{Tag: v6tab.TagNode}
	binary.LittleEndian.PutUint32(k.Addr[:4], key)
	return k
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
	f := New(BitsFor(len(w.NodeKeys)))
	f.Apply(w)
	if n, all := check(t, f, m, set, edges(raw, r)), 5*len(raw); n < all*3/4 {
		t.Fatalf("the front answered %d of %d probes", n, all)
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
			if si >= f.Sets() {
				t.Fatalf("step %d: changed set %d out of range", step, si)
			}
		}
		set = next
		check(t, f, m, set, edges(append(add, remove...), r))
	}
}

// TestFullSet fills one set past its ways: the fourth /32 finds no way,
// the set turns incomplete (no "no node" answers from it), and dropping
// the fourth makes it complete again.
func TestFullSet(t *testing.T) {
	f := New(MinBits)
	// /32s of 2000::/8 that share a set (those of one /16 never do).
	var same []netip.Prefix
	want := f.SetOf(Key(netip.MustParseAddr("2001::").As16()))
	var stranger [16]byte // a /32 of the set not in the list
	for i := 1; i < 1<<24; i++ {
		a := netip.AddrFrom16([16]byte{0x20, byte(i >> 16), byte(i >> 8), byte(i)})
		if f.SetOf(Key(a.As16())) != want {
			continue
		}
		if len(same) < 4 {
			same = append(same, netip.PrefixFrom(a, 48))
		} else {
			stranger = a.As16()
			break
		}
	}
	if stranger[0] == 0 {
		t.Fatal("no five /32s share a set")
	}
	set := cidrset.New(toCidr(same))
	tb := v6tab.New(set.Cover())
	f.Apply(tb.Build(set.Cover()))
	cached := 0
	var leftOut netip.Prefix
	for _, p := range same {
		switch got := f.Lookup(p.Addr().As16()); got {
		case Blocked:
			cached++
		case Table:
			leftOut = p
		default:
			t.Errorf("%v: answer %d", p, got)
		}
		out := p.Addr().As16()
		out[5] = 1 // same /32, outside the /48
		if got := f.Lookup(out); got == Blocked || got == NoNode {
			t.Errorf("%v: answer %d", netip.AddrFrom16(out), got)
		}
	}
	if cached != Ways || !leftOut.IsValid() {
		t.Fatalf("%d of 4 /32s of one set cached, want %d and one left to the table", cached, Ways)
	}
	if got := f.Lookup(stranger); got != Table {
		t.Errorf("an incomplete set answered %d for a /32 it does not hold", got)
	}
	next, added, removed := set.Apply(nil, toCidr([]netip.Prefix{leftOut}))
	f.Apply(tb.Delta(set, next, added, removed))
	if got := f.Lookup(leftOut.Addr().As16()); got != NoNode {
		t.Errorf("%v removed: answer %d, want no node", leftOut, got)
	}
	if got := f.Lookup(stranger); got != NoNode {
		t.Errorf("the complete set answered %d for a /32 without a node", got)
	}
}
