package blocklist

import (
	"bytes"
	"net/netip"
	"unicode/utf8"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

// maxEntryBytes bounds one JSON string. The longest valid entry, an IPv6
// CIDR with an embedded IPv4 tail, has 49 bytes; text lines are bounded by
// the reader's 64 KiB buffer (comments may be long).
const maxEntryBytes = 1024

// Reasons an entry is refused. Constant strings: the parser reports them
// without formatting, except for the host-bits hint.
const (
	reasonNotCIDR   = "not an IP address or CIDR"
	reasonBits      = "bad prefix length"
	reasonZone      = "IPv6 zones are not allowed"
	reasonTrailing  = "unexpected text after the entry (one entry per line)"
	reasonTooLong   = "line longer than 64 KiB"
	reasonNotString = "must be a string"
)

// ParseEntry parses one address (a host prefix) or CIDR, strictly: no host
// bits past the prefix length, no zones, no leading zeros. IPv4-mapped IPv6
// addresses count as IPv4.
func ParseEntry(s string) (netip.Prefix, error) {
	p, reason := parseEntry([]byte(s))
	if reason != "" {
		return netip.Prefix{}, &LineError{Text: quoteText([]byte(s)), Reason: reason}
	}
	return p.Netip(), nil
}

// parseEntry parses b (already trimmed). The reason is "" on success.
func parseEntry(b []byte) (cidrset.Prefix, string) {
	if p, ok := parseV4Fast(b); ok {
		return p, ""
	}
	return parseSlow(b)
}

// parseV4Fast handles the common case, dotted-quad IPv4 with an optional
// length, without allocating. Anything unusual (including every error) is
// left to parseSlow, which is authoritative.
func parseV4Fast(b []byte) (cidrset.Prefix, bool) {
	var a uint32
	i := 0
	for octet := 0; octet < 4; octet++ {
		if octet > 0 {
			if i >= len(b) || b[i] != '.' {
				return cidrset.Prefix{}, false
			}
			i++
		}
		start, v := i, uint32(0)
		for i < len(b) && i-start < 3 && b[i] >= '0' && b[i] <= '9' {
			v = v*10 + uint32(b[i]-'0')
			i++
		}
		if i == start || v > 255 || (i-start > 1 && b[start] == '0') {
			return cidrset.Prefix{}, false
		}
		a = a<<8 | v
	}
	bits := 32
	if i < len(b) {
		if b[i] != '/' {
			return cidrset.Prefix{}, false
		}
		i++
		start := i
		bits = 0
		for i < len(b) && i-start < 2 && b[i] >= '0' && b[i] <= '9' {
			bits = bits*10 + int(b[i]-'0')
			i++
		}
		if i == start || i != len(b) || bits > 32 || (i-start > 1 && b[start] == '0') {
			return cidrset.Prefix{}, false
		}
	}
	if bits < 32 && a&(^uint32(0)>>bits) != 0 {
		return cidrset.Prefix{}, false // host bits: parseSlow words the hint
	}
	return cidrset.Prefix{Addr: cidrset.Addr{Lo: 0xffff<<32 | uint64(a)}, Bits: uint8(96 + bits)}, true
}

func parseSlow(b []byte) (cidrset.Prefix, string) {
	if len(b) > 64 || !utf8.Valid(b) {
		return cidrset.Prefix{}, reasonNotCIDR
	}
	s := string(b)
	if bytes.IndexByte(b, '%') >= 0 {
		return cidrset.Prefix{}, reasonZone
	}
	var p netip.Prefix
	if i := bytes.IndexByte(b, '/'); i < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return cidrset.Prefix{}, reasonNotCIDR
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			if _, err := netip.ParseAddr(s[:i]); err != nil {
				return cidrset.Prefix{}, reasonNotCIDR
			}
			return cidrset.Prefix{}, reasonBits
		}
		if p.Masked() != p {
			return cidrset.Prefix{}, "host bits set (did you mean " + p.Masked().String() + "?)"
		}
	}
	out, _ := cidrset.PrefixFrom(p)
	return out, ""
}

// quoteText returns b for an error report, cut to 80 bytes and with
// invalid UTF-8 and control characters replaced, so that a report never
// echoes binary junk.
func quoteText(b []byte) string {
	const max = 80
	cut := len(b) > max
	if cut {
		b = b[:max]
	}
	buf := make([]byte, 0, len(b)+3)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1, r < 0x20, r == 0x7f:
			buf = append(buf, '?')
		default:
			buf = append(buf, b[:n]...)
		}
		b = b[n:]
	}
	if cut {
		buf = append(buf, "..."...)
	}
	return string(buf)
}
