package genlist

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func TestMixed(t *testing.T) {
	ps := Mixed(1, 10_000, 4, 0xc0000000)
	if !slices.Equal(ps, Mixed(1, 10_000, 4, 0xc0000000)) {
		t.Fatal("the same seed drew another list")
	}
	bits := map[bool]map[int]int{true: {}, false: {}}
	for i, p := range ps {
		is4 := p.Addr().Is4()
		if is4 != (i%4 != 3) || p != p.Masked() {
			t.Fatalf("prefix %d = %v", i, p)
		}
		if is4 && !p.Addr().Less(netip.MustParseAddr("192.0.0.0")) {
			t.Fatalf("IPv4 %v not below 192.0.0.0", p)
		}
		if !is4 && (!netip.MustParsePrefix("2000::/3").Contains(p.Addr()) || netip.MustParsePrefix("3fff::/16").Overlaps(p)) {
			t.Fatalf("IPv6 %v outside 2000::/3 or in 3fff::/16", p)
		}
		bits[is4][p.Bits()]++
	}
	// The documented mix, within sampling noise (7500 IPv4, 2500 IPv6).
	if n := bits[true][32]; n < 4200 || n > 4800 {
		t.Errorf("%d IPv4 /32 of 7500, want about 60%%", n)
	}
	if n := bits[false][48]; n < 900 || n > 1100 {
		t.Errorf("%d IPv6 /48 of 2500, want about 40%%", n)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		if p, a := IPv4(r, 1<<31); !p.Contains(a) {
			t.Fatalf("%v does not contain its drawn address %v", p, a)
		}
		if p, a := IPv6(r); !p.Contains(a) {
			t.Fatalf("%v does not contain its drawn address %v", p, a)
		}
	}
}
