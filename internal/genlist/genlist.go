// Package genlist draws the synthetic blocklists that tests and benchmarks
// load: prefixes spread so that little aggregates away (what is loaded is
// close to what is drawn), with a fixed mix of lengths, reproducible from a
// seed. One generator, so every benchmark measures the same kind of list.
package genlist

import (
	"math/rand/v2"
	"net/netip"
)

// IPv4 draws an IPv4 prefix below the address below (e.g. 0xc0000000
// leaves 192.0.0.0 and up for marker addresses): 60% /32, 20% /24, 20%
// /20-/31. It returns the prefix and the drawn address, which it contains.
func IPv4(r *rand.Rand, below uint32) (netip.Prefix, netip.Addr) {
	a := r.Uint32N(below)
	bits := 32
	switch x := r.IntN(10); {
	case x >= 8:
		bits = 20 + r.IntN(12)
	case x >= 6:
		bits = 24
	}
	addr := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	return netip.PrefixFrom(addr, bits).Masked(), addr
}

// IPv6 draws an IPv6 prefix in 2000::/3 outside 3fff::/16 (left for marker
// addresses): 40% /48, 30% /64, 20% /128, 10% /32-/47. It returns the
// prefix and the drawn address, which it contains.
func IPv6(r *rand.Rand) (netip.Prefix, netip.Addr) {
	var a [16]byte
	for j := range a {
		a[j] = byte(r.Uint32())
	}
	a[0] = 0x20 | a[0]&0x1f
	if a[0] == 0x3f && a[1] == 0xff {
		a[1] = 0
	}
	bits := 48
	switch x := r.IntN(10); {
	case x >= 9:
		bits = 32 + r.IntN(16)
	case x >= 7:
		bits = 128
	case x >= 4:
		bits = 64
	}
	addr := netip.AddrFrom16(a)
	return netip.PrefixFrom(addr, bits).Masked(), addr
}

// Mixed returns n prefixes from seed, every v6Every-th IPv6 (0: none), the
// IPv4 ones below the address below.
func Mixed(seed uint64, n, v6Every int, below uint32) []netip.Prefix {
	r := rand.New(rand.NewPCG(seed, 99))
	ps := make([]netip.Prefix, n)
	for i := range ps {
		if v6Every > 0 && i%v6Every == v6Every-1 {
			ps[i], _ = IPv6(r)
		} else {
			ps[i], _ = IPv4(r, below)
		}
	}
	return ps
}
