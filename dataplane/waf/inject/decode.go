package inject

import (
	"bytes"
	"unicode/utf8"
)

// Decoders for values that attack tools send encoded once more than their
// source decodes them: URL-encoded (double or triple encoding), HTML
// character references (&lt; &#40; &#x28;, for a value that lands in an
// HTML page or attribute, which the browser decodes), or Base64. Each runs
// in one pass into a reused buffer, only on values that look encoded.

// hasPercentHex reports whether v contains a %XX escape, or an IIS-style
// %uXXXX one (percentUnicode).
func hasPercentHex(v []byte) bool {
	for {
		i := bytes.IndexByte(v, '%')
		if i < 0 || i+2 >= len(v) {
			return false
		}
		if unhex[v[i+1]] < 16 && unhex[v[i+2]] < 16 {
			return true
		}
		if r, ok := percentUnicode(v, i); ok && !isSurrogate(r) {
			return true // a surrogate pair alone decodes to no ASCII
		}
		v = v[i+1:]
	}
}

// percentUnicode reads the %uXXXX escape at v[i], which IIS and ASP
// decode as the UTF-16 code unit XXXX ("%u0027" is a quote; "100%useful"
// is no escape). It returns the code unit.
func percentUnicode(v []byte, i int) (rune, bool) {
	if i+5 >= len(v) || v[i+1] != 'u' && v[i+1] != 'U' {
		return 0, false
	}
	var r rune
	for _, c := range v[i+2 : i+6] {
		if unhex[c] >= 16 {
			return 0, false
		}
		r = r<<4 | rune(unhex[c])
	}
	return r, true
}

// isSurrogate: a UTF-16 surrogate, half of a code point above U+FFFF.
func isSurrogate(r rune) bool { return r >= 0xd800 && r < 0xe000 }

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
// space, as a form or query decoder does, and %uXXXX escapes decoded to the
// UTF-8 of their code point, as IIS does (a surrogate pair of them to the
// code point above U+FFFF); a malformed escape, or a lone surrogate, is
// kept as is.
func urlDecode(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '%' && i+2 < len(v) && unhex[v[i+1]] < 16 && unhex[v[i+2]] < 16:
			dst = append(dst, unhex[v[i+1]]<<4|unhex[v[i+2]])
			i += 2
		case c == '%' && i+5 < len(v) && (v[i+1] == 'u' || v[i+1] == 'U'):
			r, ok := percentUnicode(v, i)
			n := 6
			if ok && r >= 0xd800 && r < 0xdc00 {
				lo, ok2 := percentUnicode(v, i+6)
				ok = ok2 && lo >= 0xdc00 && lo < 0xe000
				r, n = 0x10000+(r-0xd800)<<10+(lo-0xdc00), 12
			}
			if !ok || n == 6 && isSurrogate(r) {
				dst = append(dst, c)
				continue
			}
			dst = utf8.AppendRune(dst, r)
			i += n - 1
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
	t[' '] = 62 // a '+' that a query or form decoder read as a space
	return t
}()

// looksBase64 reports whether v is plausibly Base64: long enough, one
// alphabet (standard or URL-safe, not mixed; a space counts as the '+' a
// query or form decoder turned into one), padding only at the end and a
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
	spaces := 0
	for _, c := range v[:n] {
		switch {
		case c == ' ':
			std = true
			spaces++
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			url = true
		case b64Decode[c] == b64Invalid:
			return false
		}
	}
	// Base64 has a '+' in 64 characters; prose has a space in six.
	if std && url || spaces*16 > n {
		return false
	}
	// Text encodes to quads whose first character holds the top six bits
	// of a byte below 0x80: 'A'-'Z' or 'a'-'f'. Hex digests and ids start
	// most of their quads with a digit or a later letter.
	other := 0
	for i := 0; i < n; i += 4 {
		if c := v[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'f') {
			other++
		}
	}
	return other*10 <= (n+3)/4
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

// hasEntity reports whether v has an HTML character reference: '&' then
// '#' and a digit or 'x', or '&' then a name of htmlEntities and ';'.
func hasEntity(v []byte) bool {
	for i := bytes.IndexByte(v, '&'); i >= 0 && i+2 < len(v); {
		if _, n := entityAt(v, i); n > 0 {
			return true
		}
		j := bytes.IndexByte(v[i+1:], '&')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// htmlDecode appends v to dst with HTML character references decoded, as
// a browser decodes an attribute value; an unknown reference is kept.
// Code points above 0x7f are written as '?': the checks read ASCII.
func htmlDecode(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '&' {
			if c, n := entityAt(v, i); n > 0 {
				dst = append(dst, c)
				i += n - 1
				continue
			}
		}
		dst = append(dst, v[i])
	}
	return dst
}

// entityAt reads a character reference at v[i] ('&'): the byte it stands
// for and its length, or 0. Numeric references may omit the ';' and have
// any number of leading zeros ("&#0000040"), as browsers accept.
func entityAt(v []byte, i int) (byte, int) {
	j := i + 1
	if j >= len(v) {
		return 0, 0
	}
	if v[j] == '#' {
		j++
		hex := j < len(v) && (v[j] == 'x' || v[j] == 'X')
		if hex {
			j++
		}
		start := j
		cp := 0
		for j < len(v) && j-start < 16 {
			d := unhex[v[j]]
			if d >= 16 || !hex && d >= 10 {
				break
			}
			if hex {
				cp = cp*16 + int(d)
			} else {
				cp = cp*10 + int(d)
			}
			if cp > 0x10ffff {
				cp = 0x10ffff + 1
			}
			j++
		}
		if j == start {
			return 0, 0
		}
		if j < len(v) && v[j] == ';' {
			j++
		}
		c := byte('?')
		if cp < 0x80 {
			c = byte(cp)
		}
		return c, j - i
	}
	end := j
	for end < len(v) && end-j < 12 && isAlnum(v[end]) {
		end++
	}
	if end == j || end >= len(v) || v[end] != ';' {
		return 0, 0
	}
	c, ok := htmlEntities.get(v[j:end])
	if !ok {
		return 0, 0
	}
	return c, end + 1 - i
}

// htmlEntities are the named references of ASCII punctuation and white
// space that HTML5 defines and payloads use to hide their syntax.
var htmlEntities = func() wordSet {
	s := wordSet{}
	for name, c := range map[string]byte{
		"lt": '<', "gt": '>', "amp": '&', "quot": '"', "apos": '\'', "lpar": '(', "rpar": ')',
		"colon": ':', "equals": '=', "sol": '/', "bsol": '\\', "semi": ';', "comma": ',', "period": '.',
		"excl": '!', "num": '#', "dollar": '$', "percnt": '%', "grave": '`', "lsqb": '[', "rsqb": ']',
		"lbrack": '[', "rbrack": ']', "lcub": '{', "rcub": '}', "lbrace": '{', "rbrace": '}', "plus": '+',
		"ast": '*', "midast": '*', "verbar": '|', "vert": '|', "quest": '?', "commat": '@', "Hat": '^',
		"lowbar": '_', "Tab": '\t', "NewLine": '\n', "nbsp": ' ', "LT": '<', "GT": '>', "AMP": '&',
		"QUOT": '"',
	} {
		s[name] = c
	}
	return s
}()

// maxStripTag is the longest tag name stripTags removes.
const maxStripTag = 8

// tagInWord reports whether v has a short tag ("<x>", "</b>") right after
// a letter: the split that a payload uses against a sanitizer that deletes
// tags ("o<x>nfocus=alert<x>(1)" becomes "onfocus=alert(1)").
func tagInWord(v []byte) bool {
	for i := bytes.IndexByte(v, '<'); i > 0; {
		if isLetter(v[i-1]) && shortTagAt(v, i) > 0 {
			return true
		}
		j := bytes.IndexByte(v[i+1:], '<')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// shortTagAt returns the length of a short tag at v[i] ('<'), 0 if none.
func shortTagAt(v []byte, i int) int {
	j := i + 1
	if j < len(v) && v[j] == '/' {
		j++
	}
	k := j
	for k < len(v) && k-j < maxStripTag && isLetter(v[k]) {
		k++
	}
	if k == j || k >= len(v) || v[k] != '>' {
		return 0
	}
	return k + 1 - i
}

// stripTags appends v to dst without its short tags.
func stripTags(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '<' {
			if n := shortTagAt(v, i); n > 0 {
				i += n - 1
				continue
			}
		}
		dst = append(dst, v[i])
	}
	return dst
}

// hasEscape reports whether v has a JavaScript or JSON escape that changes
// a byte: \uXXXX, \u{X...} or \xXX. A body that is JSON in all but name
// (sent as text/plain, or with NaN or comments that no JSON reader here
// takes) reaches an application's JSON.parse or json.loads with them
// decoded, as does a value a page drops into a script.
func hasEscape(v []byte) bool {
	for i := bytes.IndexByte(v, '\\'); i >= 0; {
		if _, n := escapeAt(v, i); n > 0 {
			return true
		}
		j := bytes.IndexByte(v[i+1:], '\\')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// escapeAt reads the code point escape at v[i] ('\\'): \uXXXX (a
// surrogate pair of two escapes to its code point; a lone surrogate to
// U+FFFD, as JSON decoders do), \u{X...} (up to U+10FFFF) or \xXX (the code
// point U+00XX). It returns the code point and the escape's length, or
// n == 0.
func escapeAt(v []byte, i int) (r rune, n int) {
	if i+1 >= len(v) {
		return 0, 0
	}
	switch v[i+1] {
	case 'x':
		if r, ok := hexRune(v, i+2, 2); ok {
			return r, 4
		}
	case 'u':
		if r, n := braceEscape(v, i+2); n > 0 {
			return r, 2 + n
		}
		r, ok := hexRune(v, i+2, 4)
		switch {
		case !ok:
			return 0, 0
		case !isSurrogate(r):
			return r, 6
		}
		if r2, ok := hexRune(v, i+8, 4); ok && r < 0xdc00 && v[i+6] == '\\' && v[i+7] == 'u' && r2 >= 0xdc00 && r2 < 0xe000 {
			return 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00), 12
		}
		return utf8.RuneError, 6
	}
	return 0, 0
}

// escapeDecode appends v to dst with JavaScript and JSON escapes decoded:
// the code point escapes of escapeAt and the one-letter escapes (\n, \t,
// \", \\, \/ ...). Anything else is kept as it is.
func escapeDecode(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' || i+1 >= len(v) {
			dst = append(dst, c)
			continue
		}
		if r, n := escapeAt(v, i); n > 0 {
			dst = utf8.AppendRune(dst, r)
			i += n - 1
			continue
		}
		switch e := v[i+1]; e {
		case 'n', 't', 'r', 'b', 'f', 'v', '"', '\'', '\\', '/':
			dst = append(dst, simpleEscapes[e])
			i++
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

var simpleEscapes = [256]byte{'n': '\n', 't': '\t', 'r': '\r', 'b': '\b', 'f': '\f', 'v': '\v', '"': '"', '\'': '\'', '\\': '\\', '/': '/'}

// hexRune reads n hex digits at v[i].
func hexRune(v []byte, i, n int) (rune, bool) {
	if i+n > len(v) {
		return 0, false
	}
	var r rune
	for _, c := range v[i : i+n] {
		if unhex[c] >= 16 {
			return 0, false
		}
		r = r<<4 | rune(unhex[c])
	}
	return r, true
}

// braceEscape reads the "{X...}" of a \u{X...} escape at v[i]: its code
// point and length, or n == 0.
func braceEscape(v []byte, i int) (rune, int) {
	if i >= len(v) || v[i] != '{' {
		return 0, 0
	}
	var r rune
	for j := i + 1; j < len(v) && j-i <= 7; j++ {
		if v[j] == '}' {
			if j == i+1 || r > utf8.MaxRune || isSurrogate(r) {
				return 0, 0
			}
			return r, j - i + 1
		}
		if unhex[v[j]] >= 16 {
			return 0, 0
		}
		r = r<<4 | rune(unhex[v[j]])
	}
	return 0, 0
}

// hasFullwidth reports whether v holds a compatibility form that NFKC
// maps to an ASCII character (compatASCIIAt: fullwidth, small, circled,
// superscript, subscript and mathematical forms) or a Unicode space.
func hasFullwidth(v []byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0xc2 {
			continue
		}
		if _, n := compatASCIIAt(v, i); n > 0 || unicodeSpaceAt(v, i) > 0 {
			return true
		}
	}
	return false
}

var ideographicSpace, noBreakSpace = []byte{0xe3, 0x80, 0x80}, []byte{0xc2, 0xa0}

// unicodeSpaceAt returns the length of a space NFKC maps to ' ' at v[i]
// (U+00A0, U+2000-U+200A, U+202F, U+205F, U+3000), or 0.
func unicodeSpaceAt(v []byte, i int) int {
	switch {
	case i+1 < len(v) && v[i] == 0xc2 && v[i+1] == 0xa0:
		return 2
	case i+2 >= len(v):
		return 0
	case v[i] == 0xe3 && v[i+1] == 0x80 && v[i+2] == 0x80,
		v[i] == 0xe2 && v[i+1] == 0x80 && (v[i+2] >= 0x80 && v[i+2] <= 0x8a || v[i+2] == 0xaf),
		v[i] == 0xe2 && v[i+1] == 0x81 && v[i+2] == 0x9f:
		return 3
	}
	return 0
}

func hasUnicodeSpace(v []byte) bool {
	for i := bytes.IndexByte(v, 0xe2); i >= 0; {
		if unicodeSpaceAt(v, i) > 0 {
			return true
		}
		j := bytes.IndexByte(v[i+1:], 0xe2)
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func fullwidthAt(v []byte, i int) bool {
	return i+2 < len(v) && v[i] == 0xef &&
		(v[i+1] == 0xbc && v[i+2] >= 0x81 && v[i+2] <= 0xbf || v[i+1] == 0xbd && v[i+2] >= 0x80 && v[i+2] <= 0x9e)
}

// smallForms maps U+FE50-U+FE6B (EF B9 90-AB), the small form variants,
// to the ASCII NFKC gives them; 0 where it gives none.
var smallForms = [28]byte{',', 0, '.', 0, ';', ':', '?', '!', 0, '(', ')', '{', '}', 0, 0, '#', '&', '*', '+', '-', '<', '>', '=', 0, '\\', '$', '%', '@'}

// superscripts maps U+2070-U+209C (E2 81 B0 - E2 82 9C) to ASCII.
var superscripts = [45]byte{'0', 'i', 0, 0, '4', '5', '6', '7', '8', '9', '+', '-', '=', '(', ')', 'n',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '-', '=', '(', ')', 0,
	'a', 'e', 'o', 'x', 0, 'h', 'k', 'l', 'm', 'n', 'p', 's', 't'}

// compatASCIIAt returns the ASCII character NFKC maps the character at
// v[i] to, and its length in bytes (0 if it is no such form): fullwidth
// (＜), small (﹦ ﹩), circled (ⓞ Ⓐ ①), superscript and subscript (⁽ ₁),
// mathematical letters and digits (𝐰 𝟏), ſ and the Kelvin sign.
func compatASCIIAt(v []byte, i int) (byte, int) {
	switch c := v[i]; {
	case c == 0xc2 && i+1 < len(v):
		switch v[i+1] {
		case 0xb2:
			return '2', 2
		case 0xb3:
			return '3', 2
		case 0xb9:
			return '1', 2
		}
	case c == 0xc5 && i+1 < len(v) && v[i+1] == 0xbf:
		return 's', 2 // ſ
	case c == 0xef && i+2 < len(v):
		if fullwidthAt(v, i) {
			r := rune(v[i+1]&0x3f)<<6 | rune(v[i+2]&0x3f) | 0xf000 // U+FFxx
			return byte(r - 0xfee0), 3
		}
		if v[i+1] == 0xb9 && v[i+2] >= 0x90 && v[i+2] <= 0xab {
			if a := smallForms[v[i+2]-0x90]; a != 0 {
				return a, 3
			}
		}
	case c == 0xe2 && i+2 < len(v):
		r := rune(c&0x0f)<<12 | rune(v[i+1]&0x3f)<<6 | rune(v[i+2]&0x3f)
		switch {
		case r >= 0x2070 && r <= 0x209c:
			if a := superscripts[r-0x2070]; a != 0 {
				return a, 3
			}
		case r >= 0x24b6 && r <= 0x24cf:
			return byte('A' + r - 0x24b6), 3
		case r >= 0x24d0 && r <= 0x24e9:
			return byte('a' + r - 0x24d0), 3
		case r >= 0x2460 && r <= 0x2468:
			return byte('1' + r - 0x2460), 3
		case r == 0x24ea:
			return '0', 3
		case r == 0x212a:
			return 'K', 3
		}
	case c == 0xf0 && i+3 < len(v) && v[i+1] == 0x9d:
		r := rune(v[i+1]&0x3f)<<12 | rune(v[i+2]&0x3f)<<6 | rune(v[i+3]&0x3f) | 0x10000
		switch {
		case r >= 0x1d400 && r <= 0x1d6a3:
			if k := (r - 0x1d400) % 52; k < 26 {
				return byte('A' + k), 4
			} else {
				return byte('a' + k - 26), 4
			}
		case r >= 0x1d7ce && r <= 0x1d7ff:
			return byte('0' + (r-0x1d7ce)%10), 4
		}
	}
	return 0, 0
}

// foldWidth appends v to dst with the compatibility forms of
// compatASCIIAt folded to the ASCII characters NFKC maps them to, and the
// no-break, ideographic and other Unicode spaces to a space.
func foldWidth(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] >= 0xc2 {
			if a, n := compatASCIIAt(v, i); n > 0 {
				dst = append(dst, a)
				i += n - 1
				continue
			}
		}
		switch n := unicodeSpaceAt(v, i); {
		case n > 0:
			dst = append(dst, ' ')
			i += n - 1
		default:
			dst = append(dst, v[i])
		}
	}
	return dst
}
