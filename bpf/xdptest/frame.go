// Package xdptest builds Ethernet frames for running the XDP program with
// BPF_PROG_TEST_RUN in tests and benchmarks. It must never be used by
// production code.
package xdptest

import (
	"encoding/binary"
	"net/netip"
)

// Tag protocol identifiers for VLAN headers.
const (
	TPID8021Q  = 0x8100 // C-tag
	TPID8021AD = 0x88a8 // S-tag (QinQ outer)
)

// Tag is one VLAN header.
type Tag struct {
	TPID uint16
	VID  uint16
}

var (
	dstMAC = []byte{0x02, 0, 0, 0, 0, 1}
	srcMAC = []byte{0x02, 0, 0, 0, 0, 2}
)

func ethernet(ethertype uint16, tags []Tag) []byte {
	b := append(append([]byte{}, dstMAC...), srcMAC...)
	next := ethertype
	if len(tags) > 0 {
		next = tags[0].TPID
	}
	b = binary.BigEndian.AppendUint16(b, next)
	for i, t := range tags {
		inner := ethertype
		if i+1 < len(tags) {
			inner = tags[i+1].TPID
		}
		b = binary.BigEndian.AppendUint16(b, t.VID&0x0fff)
		b = binary.BigEndian.AppendUint16(b, inner)
	}
	return b
}

// TCP flag bits for TCPSeg.
const (
	FlagSYN = 0x02
	FlagACK = 0x10
)

// TCP returns a TCP SYN frame from src to dst (same family, port 40000 ->
// 443) carried in the given VLAN tags, outermost first.
func TCP(src, dst netip.Addr, tags ...Tag) []byte {
	return TCPSeg(src, dst, 443, FlagSYN, tags...)
}

// TCPSeg returns a TCP segment with the given flags from port 40000 to
// dport.
func TCPSeg(src, dst netip.Addr, dport uint16, flags byte, tags ...Tag) []byte {
	th := []byte{0x9c, 0x40, byte(dport >> 8), byte(dport), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0}
	return ip(src, dst, 6, th, tags)
}

// UDP returns a UDP datagram from port 40000 to dport with 8 bytes of
// payload.
func UDP(src, dst netip.Addr, dport uint16, tags ...Tag) []byte {
	uh := []byte{0x9c, 0x40, byte(dport >> 8), byte(dport), 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	return ip(src, dst, 17, uh, tags)
}

// TCP6 is TCP in an IPv6 header whatever the addresses, IPv4-mapped ones
// included (which TCP sends as IPv4).
func TCP6(src, dst netip.Addr) []byte {
	th := []byte{0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, FlagSYN, 0xff, 0xff, 0, 0, 0, 0}
	return ip6(src, dst, 6, th, nil)
}

// ip wraps an L4 header and payload in IPv4 (valid header checksum) or IPv6.
func ip(src, dst netip.Addr, proto byte, l4 []byte, tags []Tag) []byte {
	if !src.Unmap().Is4() {
		return ip6(src, dst, proto, l4, tags)
	}
	b := ethernet(0x0800, tags)
	s, d := src.Unmap().As4(), dst.Unmap().As4()
	n := 20 + len(l4)
	h := []byte{0x45, 0, byte(n >> 8), byte(n), 0, 0, 0x40, 0, 64, proto, 0, 0}
	h = append(append(h, s[:]...), d[:]...)
	binary.BigEndian.PutUint16(h[10:], checksum(h))
	return append(append(b, h...), l4...)
}

// ip6 wraps an L4 header and payload in IPv6.
func ip6(src, dst netip.Addr, proto byte, l4 []byte, tags []Tag) []byte {
	b := ethernet(0x86dd, tags)
	s, d := src.As16(), dst.As16()
	h := []byte{0x60, 0, 0, 0, byte(len(l4) >> 8), byte(len(l4)), proto, 64}
	h = append(append(h, s[:]...), d[:]...)
	return append(append(b, h...), l4...)
}

// ARP returns an ARP request frame (not IP).
func ARP(tags ...Tag) []byte {
	b := ethernet(0x0806, tags)
	return append(b, []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1}...)
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
