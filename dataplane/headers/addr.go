package headers

import (
	"bytes"
	"net/netip"
)

// parseForwardedAddr parses one X-Forwarded-For element: a bare IPv4 or IPv6
// address, "[v6]", "[v6]:port" or "v4:port" (some load balancers add the
// port). Zones are rejected: a zone in a forwarded address is meaningless to
// the gateway, and netip would intern it, which allocates. The result is
// unmapped (::ffff:a.b.c.d becomes a.b.c.d) so that IPv4 prefixes match.
//
// It never allocates, which netip.ParseAddr does on its error path: garbage
// entries are attacker-controlled and must cost no more than valid ones.
func parseForwardedAddr(b []byte) (netip.Addr, bool) {
	if len(b) == 0 {
		return netip.Addr{}, false
	}
	if b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := b[end+1:]; len(rest) > 0 && !isPort(rest) {
			return netip.Addr{}, false
		}
		ip, ok := parseIPv6(b[1:end])
		if !ok {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16(ip).Unmap(), true
	}
	// Like netip.ParseAddr, the first '.' or ':' decides the family.
	for i, c := range b {
		switch c {
		case '.':
			if j := bytes.IndexByte(b[i:], ':'); j >= 0 {
				if !isPort(b[i+j:]) {
					return netip.Addr{}, false
				}
				b = b[:i+j]
			}
			ip, ok := parseIPv4(b)
			if !ok {
				return netip.Addr{}, false
			}
			return netip.AddrFrom4(ip), true
		case ':':
			ip, ok := parseIPv6(b)
			if !ok {
				return netip.Addr{}, false
			}
			return netip.AddrFrom16(ip).Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// isPort reports whether b is ":" followed by 1 to 5 decimal digits.
func isPort(b []byte) bool {
	if len(b) < 2 || len(b) > 6 || b[0] != ':' {
		return false
	}
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseIPv4 accepts exactly what netip.ParseAddr accepts for IPv4: four
// decimal octets, no leading zeros, each <= 255.
func parseIPv4(s []byte) (ip [4]byte, ok bool) {
	return ip, parseIPv4Fields(s, ip[:])
}

func parseIPv4Fields(s []byte, fields []byte) bool {
	var val, pos, digLen int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digLen == 1 && val == 0 {
				return false // leading zero
			}
			val = val*10 + int(c-'0')
			digLen++
			if val > 255 {
				return false
			}
		case c == '.':
			if i == 0 || i == len(s)-1 || s[i-1] == '.' || pos == 3 {
				return false
			}
			fields[pos] = byte(val)
			pos++
			val, digLen = 0, 0
		default:
			return false
		}
	}
	if pos < 3 {
		return false
	}
	fields[3] = byte(val)
	return true
}

// parseIPv6 accepts exactly what netip.ParseAddr accepts for IPv6 without a
// zone, including a trailing embedded IPv4 address.
func parseIPv6(s []byte) (ip [16]byte, ok bool) {
	ellipsis := -1 // position of "::" in ip
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return ip, true
		}
	}
	i := 0
	for i < 16 {
		off := 0
		acc := uint32(0)
		for ; off < len(s); off++ {
			v := hexVal[s[off]]
			if v == 0xff {
				break
			}
			if off > 3 {
				return ip, false
			}
			acc = acc<<4 | uint32(v)
		}
		if off == 0 {
			return ip, false
		}
		if off < len(s) && s[off] == '.' {
			if (ellipsis < 0 && i != 12) || i+4 > 16 {
				return ip, false
			}
			if !parseIPv4Fields(s, ip[i:i+4]) {
				return ip, false
			}
			s = nil
			i += 4
			break
		}
		ip[i] = byte(acc >> 8)
		ip[i+1] = byte(acc)
		i += 2
		s = s[off:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return ip, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return ip, false
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return ip, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return ip, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return ip, false // "::" must stand for at least one zero group
	}
	return ip, true
}

// hexVal maps an ASCII hex digit (either case) to its value, anything else
// to 0xff.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
		t[c-'a'+'A'] = byte(c - 'a' + 10)
	}
	return t
}()
