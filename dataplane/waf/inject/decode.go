package inject

import "bytes"

// Decoders for values that attack tools send encoded once more than their
// source decodes them: URL-encoded (double encoding) or Base64. Each runs
// in one pass into a reused buffer, only on values that look encoded.

// hasPercentHex reports whether v contains a %XX escape.
func hasPercentHex(v []byte) bool {
	for {
		i := bytes.IndexByte(v, '%')
		if i < 0 || i+2 >= len(v) {
			return false
		}
		if unhex[v[i+1]] < 16 && unhex[v[i+2]] < 16 {
			return true
		}
		v = v[i+1:]
	}
}

var unhex = func() (t [256]uint8) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = uint8(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = uint8(10 + i)
	}
	return t
}()

// urlDecode appends v to dst with %XX escapes decoded and '+' read as a
// space, as a form or query decoder does; a malformed escape is kept as is.
func urlDecode(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '%' && i+2 < len(v) && unhex[v[i+1]] < 16 && unhex[v[i+2]] < 16:
			dst = append(dst, unhex[v[i+1]]<<4|unhex[v[i+2]])
			i += 2
		case c == '+':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// Base64 alphabets: b64std for '+' '/', b64url for '-' '_'.
const (
	b64Invalid = 0xff
	minBase64  = 8 // shorter values decode to at most 5 bytes: nothing to find
)

var b64Decode = func() (t [256]uint8) {
	for i := range t {
		t[i] = b64Invalid
	}
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for i := 0; i < len(letters); i++ {
		t[letters[i]] = uint8(i)
	}
	t['+'], t['/'] = 62, 63
	t['-'], t['_'] = 62, 63
	return t
}()

// looksBase64 reports whether v is plausibly Base64: long enough, one
// alphabet (standard or URL-safe, not mixed), padding only at the end and a
// length that a Base64 encoder can produce. Plain words pass this test too;
// mostlyPrintable on the decoded bytes rejects them.
func looksBase64(v []byte) bool {
	n := len(v)
	for n > 0 && v[n-1] == '=' {
		n--
	}
	pad := len(v) - n
	if n < minBase64 || pad > 2 || (pad > 0 && len(v)%4 != 0) || n%4 == 1 {
		return false
	}
	std, url := false, false
	for _, c := range v[:n] {
		switch {
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			url = true
		case b64Decode[c] == b64Invalid:
			return false
		}
	}
	return !(std && url)
}

// decodeBase64 appends the decoding of v (which passed looksBase64) to
// dst. ok is false when the trailing bits are not zero, as no encoder
// leaves them set.
func decodeBase64(dst, v []byte) ([]byte, bool) {
	n := len(v)
	for n > 0 && v[n-1] == '=' {
		n--
	}
	v = v[:n]
	var acc uint32
	bits := 0
	for _, c := range v {
		acc = acc<<6 | uint32(b64Decode[c])
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst = append(dst, byte(acc>>bits))
		}
	}
	return dst, acc&(1<<bits-1) == 0
}

// mostlyPrintable reports whether b reads as text: at least 4 bytes, of
// which at most one in ten is outside printable ASCII and white space.
// Base64 of random or binary data (hashes, tokens, images) fails this.
func mostlyPrintable(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	bad := 0
	for _, c := range b {
		if (c < ' ' && c != '\t' && c != '\n' && c != '\r') || c >= 0x7f {
			bad++
		}
	}
	return bad*10 <= len(b)
}
