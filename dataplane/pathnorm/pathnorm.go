// Package pathnorm normalizes request paths before routing so that one
// resource has one spelling: a route protected as /admin cannot be reached as
// //admin, /./admin, /%61dmin or /api/../admin.
//
// Normalize decodes percent-encoded unreserved characters (RFC 3986 §2.3)
// exactly once, upper-cases the hex digits of every other percent-encoding,
// collapses repeated slashes and removes dot segments (RFC 3986 §5.2.4), keeping
// a trailing slash. Input that an upstream server could read as a different
// path than the gateway does is rejected with ErrAmbiguous instead of being
// "fixed". The principle: the path the gateway routes must be the path every
// common upstream resolves, however many times it decodes the path and
// whatever it strips. So these are ambiguous:
//
//   - an encoded slash or backslash (%2F, %5C), a literal backslash, NUL
//     (literal or %00), and overlong UTF-8 lead bytes (%C0, %C1, which lenient
//     decoders turn into '.' or '/');
//   - a dot segment spelt with an encoded dot (/%2e%2e/, /.%2E/);
//   - double encoding: a %25 that a second decoding would turn into another
//     encoding (%25 followed by two hex digits, or by 'u' as in IIS's %u002e).
//     Unreserved characters are decoded first, so nested forms such as
//     %25%32%65 are caught too, and a path without such a %25 stays the same
//     under any number of further decodings;
//   - path parameters: ';' literal or encoded (%3B), which Tomcat, Spring and
//     Jetty cut from each segment (/admin;x/y is served as /admin/y); callers
//     that allow them (AllowParams) route on CutParams of the result, and a
//     dot or empty segment carrying parameters (/..;/, /;x/) stays ambiguous;
//   - a segment ending in '.' or an encoded space (/admin./, /admin%20/) other
//     than the dot segments resolved above: Windows, IIS and several
//     frameworks trim them.
//
// Malformed input is rejected with ErrInvalid: a path that does not start
// with '/', bad or truncated percent-encodings, control characters, raw bytes
// >= 0x80, and the characters space, '"', '<', '>', '#' and '?', which cannot
// appear unencoded in a path. A Mode relaxes single rules for deployments
// that opt in (server.allow_ambiguous_paths, a route's matrix parameters).
//
// The package must never decode anything twice (%252e stays %252e, or is
// refused), never allocate when the destination has room, and never take more
// than linear time in the length of the input: it runs on every request.
package pathnorm

import (
	"bytes"
	"errors"
	"slices"
	"unicode/utf8"
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
	for _, c := range []byte{'/', '\\', 0x00, 0xc0, 0xc1, 0x7f} {
		decodedAmbiguous[c] = true
	}
	for c := 1; c < 0x20; c++ {
		decodedAmbiguous[c] = true // CR and LF end up in Location headers and log lines
	}
}

// Mode relaxes single rules of Normalize. The zero value is the strict
// default.
type Mode uint8

const (
	// AllowEncodedSlash keeps %2F and %5C encoded, as opaque bytes of their
	// segment, instead of rejecting them: routing sees "/a%2Fb" as one
	// segment, an upstream that decodes it sees "/a/b".
	AllowEncodedSlash Mode = 1 << iota
	// AllowDoubleEncoding keeps a %25 followed by hex digits (%252e) as it
	// is.
	AllowDoubleEncoding
	// AllowTrailingDot keeps segments that end in '.' or %20.
	AllowTrailingDot
	// AllowParams keeps ';' path parameters on name segments (encoded
	// semicolons stay ambiguous unless AllowEncodedSemicolon is set too).
	// Callers route on CutParams of the result.
	AllowParams
	// AllowEncodedSemicolon keeps %3B encoded.
	AllowEncodedSemicolon

	// Legacy is what server.allow_ambiguous_paths relaxes for deployments
	// whose identifiers need it. Path parameters are not part of it: they
	// are allowed per route, and routed on the cut path.
	Legacy = AllowEncodedSlash | AllowDoubleEncoding | AllowTrailingDot | AllowEncodedSemicolon
)

// Normalize appends the normalized form of raw (the request-target path as
// received, without the query string) to dst and returns it. On error it
// returns dst unchanged together with ErrInvalid or ErrAmbiguous.
//
// The result always starts with '/', is never longer than raw, and is a fixed
// point: normalizing it again yields the same bytes. Normalize does not
// allocate when cap(dst)-len(dst) >= len(raw).
func Normalize(dst, raw []byte) ([]byte, error) {
	return NormalizeMode(dst, raw, 0)
}

// NormalizeKeepEncodedSlash is Normalize with every relaxation of Legacy,
// for deployments whose APIs put encoded slashes or other ambiguous bytes in
// identifiers (server.allow_ambiguous_paths). Every other rule still applies.
func NormalizeKeepEncodedSlash(dst, raw []byte) ([]byte, error) {
	return NormalizeMode(dst, raw, Legacy)
}

// NormalizeMode is Normalize with the rules that mode relaxes.
func NormalizeMode(dst, raw []byte, mode Mode) ([]byte, error) {
	base := len(dst)
	n := len(raw)
	if n == 0 || raw[0] != '/' {
		return dst, ErrInvalid
	}
	dst = slices.Grow(dst, n)
	keepSlash := mode&AllowEncodedSlash != 0
	pct25 := false   // a %25 was emitted: checked for double encoding at the end
	pctHigh := false // an encoded byte >= 0x80 was emitted: checked as UTF-8 at the end

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
				case v == ';' && mode&AllowEncodedSemicolon == 0:
					return dst[:base], ErrAmbiguous
				default:
					pct25 = pct25 || v == '%'
					pctHigh = pctHigh || v >= 0x80
					dst = append(dst, '%', upperHex[hi], upperHex[lo])
				}
				i += 3
			case cSemi:
				if mode&AllowParams == 0 {
					return dst[:base], ErrAmbiguous
				}
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
		case mode&AllowTrailingDot == 0 && trimmedByServers(name):
			return dst[:base], ErrAmbiguous
		}
	}
	if trailing || len(dst) == base {
		dst = append(dst, '/')
	}
	if pct25 && mode&AllowDoubleEncoding == 0 && doubleEncoded(dst[base:]) {
		return dst[:base], ErrAmbiguous
	}
	if pctHigh && !validUTF8(dst[base:]) {
		return dst[:base], ErrAmbiguous
	}
	return dst, nil
}

// trimmedByServers reports whether a segment name has an end that common
// servers trim before they resolve it: a trailing '.' (Windows, IIS and
// frameworks that imitate them) or an encoded space at either end (Java's
// String.trim in older Spring matchers, Windows). Encoded control bytes are
// refused everywhere.
func trimmedByServers(name []byte) bool {
	return name[len(name)-1] == '.' || bytes.HasSuffix(name, encodedSpace) || bytes.HasPrefix(name, encodedSpace)
}

var encodedSpace = []byte("%20")

// doubleEncoded reports whether a normalized path holds a %25 that a second
// decoding would turn into another percent-encoding: "%25" followed by two
// hex digits ("%252e") or by 'u' and four (IIS's "%u002e"). Hex digits are
// unreserved, so normalization has already decoded any encoded ones
// ("%25%32%65").
func doubleEncoded(p []byte) bool {
	for {
		i := bytes.Index(p, pct25)
		if i < 0 {
			return false
		}
		p = p[i+3:]
		if len(p) >= 5 && (p[0] == 'u' || p[0] == 'U') && allHex(p[1:5]) {
			return true
		}
		if len(p) >= 2 && allHex(p[:2]) {
			return true
		}
	}
}

func allHex(b []byte) bool {
	for _, c := range b {
		if hexVal[c] > 0xf {
			return false
		}
	}
	return true
}

// validUTF8 reports whether the percent-encoded bytes of a normalized path
// decode to valid UTF-8 (no overlong forms such as %E0%80%AE for '.', no
// stray continuation bytes) without a character that Unicode
// normalization or Windows best-fit mapping turns into '.', '/' or '\'
// (fullwidth and small forms).
func validUTF8(p []byte) bool {
	var seq [utf8.UTFMax]byte
	n, need := 0, 0
	for i := 0; i < len(p); {
		c := p[i]
		if c == '%' {
			c = hexVal[p[i+1]]<<4 | hexVal[p[i+2]]
			i += 3
		} else {
			i++
		}
		switch {
		case need > 0:
			if c&0xc0 != 0x80 {
				return false
			}
			seq[n] = c
			n++
			if need--; need == 0 {
				r, size := utf8.DecodeRune(seq[:n])
				if r == utf8.RuneError && size <= 1 || confusable(r) {
					return false
				}
			}
		case c < 0x80:
		case c >= 0xc2 && c <= 0xdf:
			seq[0], n, need = c, 1, 1
		case c >= 0xe0 && c <= 0xef:
			seq[0], n, need = c, 1, 2
		case c >= 0xf0 && c <= 0xf4:
			seq[0], n, need = c, 1, 3
		default:
			return false
		}
	}
	return need == 0
}

// confusable reports whether r is mapped to '.', '/' or '\' by NFKC
// normalization or by Windows best-fit code page conversion.
func confusable(r rune) bool {
	switch r {
	case '\uff0e', '\ufe52', '\u2024', // fullwidth, small and one-dot-leader full stops
		'\uff0f', '\u2215', '\u2044', // fullwidth solidus, division slash, fraction slash
		'\uff3c', '\ufe68', '\u2216': // fullwidth and small reverse solidus, set minus
		return true
	}
	return false
}

var pct25 = []byte("%25")

// CutParams appends path, a result of NormalizeMode with AllowParams, to dst
// with the ';' parameters of every segment removed: "/v1/admin;a=b/y"
// becomes "/v1/admin/y", the path Tomcat, Spring and Jetty serve. It does
// not allocate when dst has room for path.
func CutParams(dst, path []byte) []byte {
	for len(path) > 0 {
		i := bytes.IndexByte(path, ';')
		if i < 0 {
			return append(dst, path...)
		}
		dst = append(dst, path[:i]...)
		path = path[i:]
		j := bytes.IndexByte(path, '/')
		if j < 0 {
			return dst
		}
		path = path[j:]
	}
	return dst
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
