package inject

import (
	"bytes"
	"encoding/binary"
)

// Every value is first read once, byte by byte, into a class mask: one bit
// per kind of byte it contains (letters, digits, each ASCII punctuation
// mark, line breaks, controls, non-ASCII). Each check below declares the
// bytes it needs (a path traversal needs '.' and a slash, an LDAP filter a
// '(', a template an opening brace...) and runs only when the mask has
// them, so the typical value of an API request (an id, a date, an email, a
// sentence) costs one table look-up per byte and a few mask tests.

// Byte classes, one bit each in a class mask.
const (
	bLower     uint64 = 1 << iota // a-z
	bUpper                        // A-Z
	bDigit                        // 0-9
	bSpace                        // ' ', \t, \v, \f
	bNL                           // \r, \n
	bCtl                          // other C0 controls and DEL
	bNUL                          // 0x00
	bHigh                         // 0x80-0xff
	bOverlong                     // 0xc0, 0xc1: never valid in UTF-8
	bBang                         // !
	bDQuote                       // "
	bHash                         // #
	bDollar                       // $
	bPercent                      // %
	bAmp                          // &
	bQuote                        // '
	bLParen                       // (
	bRParen                       // )
	bStar                         // *
	bPlus                         // +
	bComma                        // ,
	bDash                         // -
	bDot                          // .
	bSlash                        // /
	bColon                        // :
	bSemi                         // ;
	bLT                           // <
	bEq                           // =
	bGT                           // >
	bQuestion                     // ?
	bAt                           // @
	bLBracket                     // [
	bBackslash                    // \
	bRBracket                     // ]
	bCaret                        // ^
	bUnder                        // _
	bBacktick                     // `
	bLBrace                       // {
	bPipe                         // |
	bRBrace                       // }
	bTilde                        // ~
)

const (
	bLetter = bLower | bUpper
	bAlnum  = bLetter | bDigit
	// bWordOnly are the bytes of a single word: libinjection reads such a
	// value as one token (see singleWord).
	bWordOnly = bAlnum | bUnder | bHigh | bOverlong
	// bBase64 are the bytes a Base64 value may hold: both alphabets,
	// padding, and ' ' for a '+' that a form or query decoder turned into
	// a space.
	bBase64 = bAlnum | bPlus | bSlash | bDash | bUnder | bEq | bSpace
)

var classOf = func() (t [256]uint64) {
	for i := range t {
		c := byte(i)
		switch {
		case c >= 'a' && c <= 'z':
			t[i] = bLower
		case c >= 'A' && c <= 'Z':
			t[i] = bUpper
		case c >= '0' && c <= '9':
			t[i] = bDigit
		case c == 0:
			t[i] = bNUL
		case c == ' ' || c == '\t' || c == '\v' || c == '\f':
			t[i] = bSpace
		case c == '\r' || c == '\n':
			t[i] = bNL
		case c < ' ' || c == 0x7f:
			t[i] = bCtl
		case c == 0xc0 || c == 0xc1:
			t[i] = bHigh | bOverlong
		case c >= 0x80:
			t[i] = bHigh
		}
	}
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	bitsOf := [...]uint64{bBang, bDQuote, bHash, bDollar, bPercent, bAmp, bQuote, bLParen, bRParen, bStar,
		bPlus, bComma, bDash, bDot, bSlash, bColon, bSemi, bLT, bEq, bGT, bQuestion, bAt, bLBracket,
		bBackslash, bRBracket, bCaret, bUnder, bBacktick, bLBrace, bPipe, bRBrace, bTilde}
	for i := 0; i < len(punct); i++ {
		t[punct[i]] = bitsOf[i]
	}
	return t
}()

// classMask returns the classes of the bytes of v, eight bytes at a time.
func classMask(v []byte) uint64 {
	var m0, m1 uint64
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		m0 |= classOf[byte(x)] | classOf[byte(x>>8)] | classOf[byte(x>>16)] | classOf[byte(x>>24)]
		m1 |= classOf[byte(x>>32)] | classOf[byte(x>>40)] | classOf[byte(x>>48)] | classOf[byte(x>>56)]
		v = v[8:]
	}
	for _, c := range v {
		m0 |= classOf[c]
	}
	return m0 | m1
}

// has reports whether m has every class of want.
func has(m, want uint64) bool { return m&want == want }

// hasAny reports whether m has one of the classes of want.
func hasAny(m, want uint64) bool { return m&want != 0 }

// Helpers shared by the checks. They work on ASCII and never allocate.

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func isLetter(c byte) bool { return classOf[c]&bLetter != 0 }

func isAlnum(c byte) bool { return classOf[c]&bAlnum != 0 }

// isIdent reports whether c may be part of an identifier in the languages
// the checks read (JavaScript, PHP, Python, shell words).
func isIdent(c byte) bool { return classOf[c]&(bAlnum|bUnder|bDollar) != 0 }

func isSpaceByte(c byte) bool { return classOf[c]&(bSpace|bNL) != 0 }

// hasPrefixFold reports whether v[at:] starts with lower, ignoring ASCII
// case; lower must be lower case.
func hasPrefixFold(v []byte, at int, lower string) bool {
	if at < 0 || len(v)-at < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		if lowerASCII(v[at+i]) != lower[i] {
			return false
		}
	}
	return true
}

// hasPrefixAt reports whether v[at:] starts with s, case-sensitively.
func hasPrefixAt(v []byte, at int, s string) bool {
	return at >= 0 && len(v)-at >= len(s) && string(v[at:at+len(s)]) == s
}

// indexFold returns the index of the first occurrence of lower in v,
// ignoring ASCII case, or -1. lower must be lower case and start with a
// letter or a byte without case.
//
// It finds the candidates for the first byte with bytes.IndexByte, one
// vectorized search per case, instead of comparing every byte: most of
// its callers look for a word in values that hold none.
func indexFold(v []byte, lower string) int {
	n := len(lower)
	if n == 0 {
		return 0
	}
	if len(v) < n {
		return -1
	}
	last := len(v) - n + 1 // candidates start before last
	c0 := lower[0]
	if c0 < 'a' || c0 > 'z' {
		for off := 0; off < last; {
			i := bytes.IndexByte(v[off:last], c0)
			if i < 0 {
				return -1
			}
			if hasPrefixFold(v, off+i, lower) {
				return off + i
			}
			off += i + 1
		}
		return -1
	}
	c1 := c0 - ('a' - 'A')
	lo, up := -2, -2 // the next candidate of each case at or after off; -2: not searched, -1: none left
	for off := 0; off < last; {
		if lo != -1 && lo < off {
			if lo = bytes.IndexByte(v[off:last], c0); lo >= 0 {
				lo += off
			}
		}
		if up != -1 && up < off {
			if up = bytes.IndexByte(v[off:last], c1); up >= 0 {
				up += off
			}
		}
		i := lo
		if i < 0 || up >= 0 && up < i {
			i = up
		}
		if i < 0 {
			return -1
		}
		if hasPrefixFold(v, i, lower) {
			return i
		}
		off = i + 1
	}
	return -1
}

// skipSpace returns the index of the first byte at or after i that is not
// white space.
func skipSpace(v []byte, i int) int {
	for i < len(v) && isSpaceByte(v[i]) {
		i++
	}
	return i
}

// identAt returns the end of the identifier starting at i (i when there
// is none).
func identAt(v []byte, i int) int {
	for i < len(v) && classOf[v[i]]&(bAlnum|bUnder) != 0 {
		i++
	}
	return i
}

// identBefore returns the start of the identifier ending at end (end when
// there is none).
func identBefore(v []byte, end int) int {
	for end > 0 && classOf[v[end-1]]&(bAlnum|bUnder) != 0 {
		end--
	}
	return end
}

// wordSet is a set of lower-case ASCII words, looked up case-insensitively
// or exactly, without allocating.
type wordSet map[string]uint8

const maxSetWord = 32

// getFold returns the value of w, ignoring ASCII case, and whether it is in s.
func (s wordSet) getFold(w []byte) (uint8, bool) {
	if len(w) == 0 || len(w) > maxSetWord {
		return 0, false
	}
	var buf [maxSetWord]byte
	for i, c := range w {
		buf[i] = lowerASCII(c)
	}
	v, ok := s[string(buf[:len(w)])]
	return v, ok
}

// get returns the value of w, case-sensitively, and whether it is in s.
func (s wordSet) get(w []byte) (uint8, bool) {
	if len(w) == 0 || len(w) > maxSetWord {
		return 0, false
	}
	v, ok := s[string(w)]
	return v, ok
}

func newWordSet(words ...string) wordSet {
	s := make(wordSet, len(words))
	for _, w := range words {
		if len(w) > maxSetWord {
			panic("inject: word longer than maxSetWord: " + w)
		}
		s[w] = 1
	}
	return s
}
