// Package pathnorm normalizes request paths before routing so that one
// resource has one spelling: a route protected as /admin cannot be reached as
// //admin, /./admin, /%61dmin or /api/../admin.
//
// Normalize decodes percent-encoded unreserved characters (RFC 3986 §2.3)
// exactly once, upper-cases the hex digits of every other percent-encoding,
// collapses repeated slashes and removes dot segments (RFC 3986 §5.2.4), keeping
// a trailing slash. Input that an upstream server could read as a different
// path than the gateway does is rejected with ErrAmbiguous instead of being
// "fixed": an encoded slash or backslash (%2F, %5C), a literal backslash, NUL
// (literal or %00), overlong UTF-8 lead bytes (%C0, %C1, which lenient
// decoders turn into '.' or '/'), a dot segment spelt with an encoded dot
// (/%2e%2e/, /.%2E/), and a dot or empty segment carrying ';' parameters
// (/..;/, /;x/), which Tomcat-style servlet containers strip and then
// resolve. Malformed input is rejected with ErrInvalid: a path that does not
// start with '/', bad or truncated percent-encodings, control characters,
// raw bytes >= 0x80, and the characters space, '"', '<', '>', '#' and '?',
// which cannot appear unencoded in a path. NormalizeKeepEncodedSlash relaxes
// only the %2F/%5C rule, for deployments that opt in because their
// identifiers contain encoded slashes.
//
// The package must never decode anything twice (%252e stays %252e), never
// allocate when the destination has room, and never take more than linear
// time in the length of the input: it runs on every request.
package pathnorm

import (
	"bytes"
	"errors"
	"slices"
)

// ErrInvalid reports a malformed request path.
var ErrInvalid = errors.New("normalize path: malformed")

// ErrAmbiguous reports a path that an upstream server could resolve to a
// different resource than the gateway routes it to.
var ErrAmbiguous = errors.New("normalize path: ambiguous")

// Byte classes for the scanner.
const (
	cCopy      = iota // copied verbatim
	cSlash            // segment separator
	cPercent          // start of a percent-encoding
	cSemi             // ';' path parameter separator: copied, but remembered
	cInvalid          // ErrInvalid
	cAmbiguous        // ErrAmbiguous
)

var (
	class      [256]uint8
	unreserved [256]bool
	// decodedAmbiguous marks percent-encoded octets rejected with ErrAmbiguous.
	decodedAmbiguous [256]bool
	hexVal           [256]uint8 // 0xff for a non-hex byte
)

const upperHex = "0123456789ABCDEF"

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c == 0:
			class[c] = cAmbiguous
		case c < 0x20, c == 0x7f, c >= 0x80:
			class[c] = cInvalid
		}
		hexVal[c] = 0xff
	}
	for _, c := range []byte(" \"<>#?") {
		class[c] = cInvalid
	}
	class['\\'] = cAmbiguous
	class['/'] = cSlash
	class['%'] = cPercent
	class[';'] = cSemi

	for c := '0'; c <= '9'; c++ {
		unreserved[c] = true
		hexVal[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'z'; c++ {
		unreserved[c] = true
		unreserved[c-'a'+'A'] = true
	}
	for c := 'a'; c <= 'f'; c++ {
		hexVal[c] = uint8(c-'a') + 10
		hexVal[c-'a'+'A'] = uint8(c-'a') + 10
	}
	for _, c := range []byte("-._~") {
		unreserved[c] = true
	}
	for _, c := range []byte{'/', '\\', 0x00, 0xc0, 0xc1} {
		decodedAmbiguous[c] = true
	}
}

// Normalize appends the normalized form of raw (the request-target path as
// received, without the query string) to dst and returns it. On error it
// returns dst unchanged together with ErrInvalid or ErrAmbiguous.
//
// The result always starts with '/', is never longer than raw, and is a fixed
// point: normalizing it again yields the same bytes. Normalize does not
// allocate when cap(dst)-len(dst) >= len(raw).
func Normalize(dst, raw []byte) ([]byte, error) {
	return normalize(dst, raw, false)
}

// NormalizeKeepEncodedSlash is Normalize for deployments whose APIs put
// encoded slashes in identifiers (server.allow_ambiguous_paths): %2F and %5C
// are kept encoded, as opaque bytes of their segment, instead of being
// rejected. Routing then sees "/a%2Fb" as one segment; an upstream that
// decodes it sees "/a/b". Every other rule of Normalize still applies.
func NormalizeKeepEncodedSlash(dst, raw []byte) ([]byte, error) {
	return normalize(dst, raw, true)
}

func normalize(dst, raw []byte, keepSlash bool) ([]byte, error) {
	base := len(dst)
	n := len(raw)
	if n == 0 || raw[0] != '/' {
		return dst, ErrInvalid
	}
	dst = slices.Grow(dst, n)

	// The output is kept as a sequence of "/segment" items; a trailing slash
	// (or the lone "/" of the root) is appended at the end.
	trailing := false
	i := 0
	for i < n {
		i++ // raw[i-1] == '/'
		start := len(dst)
		dst = append(dst, '/')
		encodedDot := false
		semi := -1 // offset of the first ';' in the segment
	scan:
		for i < n {
			c := raw[i]
			switch class[c] {
			case cCopy:
				j := i + 1
				for j < n && class[raw[j]] == cCopy {
					j++
				}
				dst = append(dst, raw[i:j]...)
				i = j
			case cSlash:
				break scan
			case cPercent:
				if i+2 >= n {
					return dst[:base], ErrInvalid
				}
				hi, lo := hexVal[raw[i+1]], hexVal[raw[i+2]]
				if hi|lo > 0xf {
					return dst[:base], ErrInvalid
				}
				v := hi<<4 | lo
				switch {
				case unreserved[v]:
					dst = append(dst, v)
					encodedDot = encodedDot || v == '.'
				case decodedAmbiguous[v] && !(keepSlash && (v == '/' || v == '\\')):
					return dst[:base], ErrAmbiguous
				default:
					dst = append(dst, '%', upperHex[hi], upperHex[lo])
				}
				i += 3
			case cSemi:
				if semi < 0 {
					semi = len(dst) - start - 1
				}
				dst = append(dst, ';')
				i++
			case cInvalid:
				return dst[:base], ErrInvalid
			default: // cAmbiguous
				return dst[:base], ErrAmbiguous
			}
		}

		seg := dst[start+1:]
		name := seg // the segment without its ';' parameters
		if semi >= 0 {
			name = seg[:semi]
		}
		trailing = false
		switch {
		case len(seg) == 0:
			dst = dst[:start]
			trailing = true
		case isDotSegment(name):
			if encodedDot || semi >= 0 {
				return dst[:base], ErrAmbiguous
			}
			dst = dst[:start]
			if len(name) == 2 {
				// Each output byte is popped at most once, so the
				// backward scans stay linear overall.
				if j := bytes.LastIndexByte(dst[base:], '/'); j >= 0 {
					dst = dst[:base+j]
				}
			}
			trailing = true
		case len(name) == 0: // ";x": an empty segment to servlet containers
			return dst[:base], ErrAmbiguous
		}
	}
	if trailing || len(dst) == base {
		dst = append(dst, '/')
	}
	return dst, nil
}

func isDotSegment(s []byte) bool {
	switch len(s) {
	case 1:
		return s[0] == '.'
	case 2:
		return s[0] == '.' && s[1] == '.'
	}
	return false
}
