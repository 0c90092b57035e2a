package cidrset

import (
	"math/bits"
	"net/netip"
)

// Addr is a 128-bit address, most significant half first. IPv4 addresses are
// held IPv4-mapped (::ffff:a.b.c.d), so one code path serves both families.
type Addr struct {
	Hi, Lo uint64
}

// AddrFrom converts a netip.Addr (IPv4 becomes IPv4-mapped).
func AddrFrom(a netip.Addr) Addr {
	b := a.As16()
	return Addr{
		Hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]),
		Lo: uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
			uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15]),
	}
}

// AddrFromV4 returns the IPv4-mapped Addr of an IPv4 address (host order).
func AddrFromV4(v uint32) Addr { return Addr{Lo: 0xffff<<32 | uint64(v)} }

// As16 returns the address bytes in network order.
func (a Addr) As16() [16]byte {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(a.Hi >> (56 - 8*i))
		b[8+i] = byte(a.Lo >> (56 - 8*i))
	}
	return b
}

// V4 returns the low 32 bits: the IPv4 address of an IPv4-mapped Addr.
func (a Addr) V4() uint32 { return uint32(a.Lo) }

// Compare returns -1, 0 or +1.
func (a Addr) Compare(b Addr) int {
	switch {
	case a.Hi < b.Hi:
		return -1
	case a.Hi > b.Hi:
		return 1
	case a.Lo < b.Lo:
		return -1
	case a.Lo > b.Lo:
		return 1
	}
	return 0
}

// Less reports a < b.
func (a Addr) Less(b Addr) bool {
	return a.Hi < b.Hi || (a.Hi == b.Hi && a.Lo < b.Lo)
}

func (a Addr) isMax() bool { return a.Hi == ^uint64(0) && a.Lo == ^uint64(0) }

func (a Addr) add1() Addr {
	lo, carry := bits.Add64(a.Lo, 1, 0)
	return Addr{a.Hi + carry, lo}
}

func (a Addr) sub(b Addr) Addr {
	lo, borrow := bits.Sub64(a.Lo, b.Lo, 0)
	return Addr{a.Hi - b.Hi - borrow, lo}
}

// addPow2 returns a + 2^k (k < 128), wrapping on overflow.
func (a Addr) addPow2(k uint) Addr {
	if k >= 64 {
		return Addr{a.Hi + 1<<(k-64), a.Lo}
	}
	lo, carry := bits.Add64(a.Lo, 1<<k, 0)
	return Addr{a.Hi + carry, lo}
}

func (a Addr) trailingZeros() uint {
	if a.Lo != 0 {
		return uint(bits.TrailingZeros64(a.Lo))
	}
	if a.Hi != 0 {
		return 64 + uint(bits.TrailingZeros64(a.Hi))
	}
	return 128
}

// bitLen is the number of bits needed to represent a (0 for zero).
func (a Addr) bitLen() uint {
	if a.Hi != 0 {
		return 64 + uint(bits.Len64(a.Hi))
	}
	return uint(bits.Len64(a.Lo))
}

// hostMask returns the mask of the low 128-n bits.
func hostMask(n uint8) Addr {
	switch {
	case n == 0:
		return Addr{^uint64(0), ^uint64(0)}
	case n < 64:
		return Addr{^uint64(0) >> n, ^uint64(0)}
	case n < 128:
		return Addr{0, ^uint64(0) >> (n - 64)}
	}
	return Addr{}
}

// Prefix is a masked prefix; Bits counts in the 128-bit space, so IPv4
// 10.0.0.0/8 is ::ffff:10.0.0.0/104.
type Prefix struct {
	Addr Addr
	Bits uint8
}

// PrefixFrom converts p, which must be valid, masking host bits. IPv4 and
// IPv4-mapped prefixes of length >= 96 yield IPv4 (is4 true).
func PrefixFrom(p netip.Prefix) (pfx Prefix, is4 bool) {
	a := p.Addr()
	n := p.Bits()
	switch {
	case a.Is4():
		n += 96
		is4 = true
	case a.Is4In6() && n >= 96:
		is4 = true
	}
	pfx = Prefix{Addr: AddrFrom(a), Bits: uint8(n)}
	m := hostMask(pfx.Bits)
	pfx.Addr.Hi &^= m.Hi
	pfx.Addr.Lo &^= m.Lo
	return pfx, is4
}

// Netip converts back; prefixes inside ::ffff:0:0/96 come back as IPv4.
func (p Prefix) Netip() netip.Prefix {
	a := netip.AddrFrom16(p.Addr.As16())
	if a.Is4In6() && p.Bits >= 96 {
		return netip.PrefixFrom(a.Unmap(), int(p.Bits)-96)
	}
	return netip.PrefixFrom(a, int(p.Bits))
}

// String formats p as a CIDR.
func (p Prefix) String() string { return p.Netip().String() }

// First returns the first address of p.
func (p Prefix) First() Addr { return p.Addr }

// Last returns the last address of p.
func (p Prefix) Last() Addr {
	m := hostMask(p.Bits)
	return Addr{p.Addr.Hi | m.Hi, p.Addr.Lo | m.Lo}
}

// Contains reports whether a is inside p.
func (p Prefix) Contains(a Addr) bool {
	return !a.Less(p.First()) && !p.Last().Less(a)
}

// V4 returns the IPv4 network address and length of an IPv4 prefix.
func (p Prefix) V4() (addr uint32, bits uint8) { return p.Addr.V4(), p.Bits - 96 }

// compare orders by first address, then by length (shorter first), so that
// a prefix sorts before every prefix it contains.
func compare(a, b Prefix) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	switch {
	case a.Bits < b.Bits:
		return -1
	case a.Bits > b.Bits:
		return 1
	}
	return 0
}
