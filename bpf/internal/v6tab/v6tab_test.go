package v6tab

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

// table is an in-memory map with the kernel's semantics for the writes.
type table struct {
	entries map[Key]Node
	short   uint32
}

func (m *table) apply(w *Writes, t *Table, step func(stage string)) {
	for _, k := range w.InsertKeys {
		m.entries[k] = Node{}
	}
	m.short |= t.ShortBits()
	step("inserts")
	for i, k := range w.NodeKeys {
		m.entries[k] = w.NodeVals[i]
		step("node")
	}
	for _, k := range w.DeleteKeys {
		delete(m.entries, k)
		step("delete")
	}
	m.short = t.ShortBits()
	step("done")
}

func (m *table) blocked(a netip.Addr) bool { return Lookup(m.entries, m.short, a.As16()) }

func prefixes(ps ...netip.Prefix) []cidrset.Prefix {
	out := make([]cidrset.Prefix, len(ps))
	for i, p := range ps {
		out[i], _ = cidrset.PrefixFrom(p)
	}
	return out
}

// randPrefix draws IPv6 CIDRs of every length class the layout treats
// apart: shorter than ExpandMin (tagged entries), spread over nodes
// (ExpandMin-32), and several per /32 (inline and tagged).
func randPrefix(r *rand.Rand) netip.Prefix {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, byte(r.IntN(2)), byte(r.IntN(4))
	b[5], b[15] = byte(r.IntN(4)), byte(r.IntN(256))
	bits := 33 + r.IntN(96)
	switch r.IntN(4) {
	case 0:
		bits = 8 + r.IntN(25)
	case 1:
		bits = 48
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), bits).Masked()
}

// probes returns the edges of ps: first, last and the addresses just
// outside.
func probes(ps []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, p := range ps {
		first := p.Masked().Addr()
		last := first.As16()
		for i := p.Bits(); i < 128; i++ {
			last[i/8] |= 0x80 >> (i % 8)
		}
		l := netip.AddrFrom16(last)
		out = append(out, first, l, first.Prev(), l.Next(), first.Next())
	}
	return out
}

func contains(s *cidrset.Set, a netip.Addr) bool {
	return a.IsValid() && s.Contains(cidrset.AddrFrom(a))
}

func TestBuildMatchesSet(t *testing.T) {
	tests := []struct {
		name string
		ps   []string
	}{
		{"empty", nil},
		{"one /48", []string{"2001:db8:1::/48"}},
		{"several per /32", []string{"2001:db8::/48", "2001:db8:1::/64", "2001:db8:2::1/128", "2001:db8:3::/40"}},
		{"covered /32s", []string{"2001:db8::/30", "2a00::/32"}},
		{"short", []string{"2400::/12", "2001::/19", "::/0"}},
		{"mixed", []string{"2400::/12", "2001:db8::/48", "2001:db9::/31", "2001:dc0::/128"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []netip.Prefix
			for _, s := range tc.ps {
				ps = append(ps, netip.MustParsePrefix(s))
			}
			set := cidrset.New(prefixes(ps...))
			tb := New(set.Cover())
			m := &table{entries: map[Key]Node{}}
			m.apply(tb.Build(set.Cover()), tb, func(string) {})
			for _, a := range append(probes(ps), netip.MustParseAddr("2001:db8:ffff::1"), netip.MustParseAddr("3000::1")) {
				if a.IsValid() && m.blocked(a) != contains(set, a) {
					t.Errorf("%v: blocked %v, set says %v", a, m.blocked(a), contains(set, a))
				}
			}
		})
	}
}

// many returns n CIDRs of bits length in distinct /16s.
func many(n, bits int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = netip.PrefixFrom(netip.AddrFrom16([16]byte{byte(0x20 + bits), byte(i)}), bits).String()
	}
	return out
}

// TestExpandBudget checks that short CIDRs are spread over nodes only
// within the budget.
func TestExpandBudget(t *testing.T) {
	tests := []struct {
		name string
		ps   []string
		want uint8
	}{
		{"none", []string{"2001:db8::/48"}, ExpandMin},
		{"one /20", []string{"2001::/20"}, ExpandMin},
		{"a /16 is never spread", []string{"2001::/16"}, ExpandMin},
		// Longer CIDRs are spread first: the /21s fit, 65 /20s on top
		// do not (64 spend the whole budget).
		{"over budget", append(many(65, 20), many(2, 21)...), 21},
		{"within budget", many(64, 20), 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []netip.Prefix
			for _, s := range tc.ps {
				ps = append(ps, netip.MustParsePrefix(s))
			}
			set := cidrset.New(prefixes(ps...))
			if got := New(set.Cover()).Expand; got != tc.want {
				t.Errorf("Expand %d, want %d", got, tc.want)
			}
		})
	}
}

// TestDeltaKeepsVerdicts applies random deltas write by write: after the
// last write the table matches the new set, and at every write in between
// a source blocked before and after is blocked, one blocked in neither
// passes.
func TestDeltaKeepsVerdicts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var raw []netip.Prefix
	for range 40 {
		raw = append(raw, randPrefix(r))
	}
	set := cidrset.New(prefixes(raw...))
	tb := New(set.Cover())
	m := &table{entries: map[Key]Node{}}
	m.apply(tb.Build(set.Cover()), tb, func(string) {})
	for step := range 300 {
		var add, remove []netip.Prefix
		for range r.IntN(6) {
			add = append(add, randPrefix(r))
		}
		for range r.IntN(6) {
			if len(raw) > 0 {
				remove = append(remove, raw[r.IntN(len(raw))])
			}
		}
		next, added, removed := set.Apply(prefixes(add...), prefixes(remove...))
		ps := probes(append(append(append([]netip.Prefix{}, add...), remove...), raw...))
		w := tb.Delta(set, next, added, removed)
		m.apply(w, tb, func(stage string) {
			for _, a := range ps {
				before, after := contains(set, a), contains(next, a)
				if before == after && a.IsValid() && m.blocked(a) != before {
					t.Fatalf("step %d, after %s: %v blocked %v, before and after %v", step, stage, a, m.blocked(a), before)
				}
			}
		})
		for _, a := range ps {
			if a.IsValid() && m.blocked(a) != contains(next, a) {
				t.Fatalf("step %d: %v blocked %v, set says %v", step, a, m.blocked(a), contains(next, a))
			}
		}
		set = next
		for _, p := range remove {
			for i := 0; i < len(raw); i++ {
				if raw[i] == p {
					raw = append(raw[:i], raw[i+1:]...)
					i--
				}
			}
		}
		raw = append(raw, add...)
	}
	// Nothing stale: a table rebuilt from the final set has the same entries.
	fresh := &table{entries: map[Key]Node{}}
	ft := New(set.Cover())
	fresh.apply(ft.Build(set.Cover()), ft, func(string) {})
	if ft.Expand == tb.Expand && len(fresh.entries) != len(m.entries) {
		t.Errorf("patched table has %d entries, rebuilt %d", len(m.entries), len(fresh.entries))
	}
}
