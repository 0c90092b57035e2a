package schema

import (
	"bytes"
	"unicode"
)

// The asserted formats, hand-written over bytes so that a check allocates
// nothing and runs no regexp. Each follows the RFC named by draft 2020-12.

// isUUID: RFC 4122 text form, 8-4-4-4-12 hex digits, any case, any version.
func isUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// isDate: RFC 3339 full-date, YYYY-MM-DD with the day valid for the month.
func isDate(s []byte) bool {
	return len(s) == 10 && validDate(s)
}

func validDate(s []byte) bool {
	y, ok1 := num(s[0:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// isTime: RFC 3339 full-time, HH:MM:SS[.frac] then Z or ±HH:MM. A leap
// second (:60) is valid only at 23:59 UTC.
func isTime(s []byte) bool {
	if len(s) < 9 || s[2] != ':' || s[5] != ':' {
		return false
	}
	h, ok1 := num(s[0:2])
	m, ok2 := num(s[3:5])
	sec, ok3 := num(s[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 60 {
		return false
	}
	i := 8
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	if i >= len(s) {
		return false
	}
	offset := 0 // minutes east of UTC
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return false
		}
		oh, ok1 := num(s[i+1 : i+3])
		om, ok2 := num(s[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return false
		}
		offset = oh*60 + om
		if s[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return false
	}
	if i != len(s) {
		return false
	}
	if sec == 60 {
		utc := ((h*60+m-offset)%1440 + 1440) % 1440
		return utc == 23*60+59
	}
	return true
}

// isDateTime: RFC 3339 date-time, full-date T full-time (T and Z in either case).
func isDateTime(s []byte) bool {
	return len(s) > 11 && validDate(s[:10]) && (s[10] == 'T' || s[10] == 't') && isTime(s[11:])
}

// isIPv4: RFC 2673 dotted-quad, four decimal octets without leading zeros.
func isIPv4(s []byte) bool {
	i := 0
	for part := 1; ; part++ {
		start, v := i, 0
		for i < len(s) && isDigit(s[i]) && i-start < 3 {
			v = v*10 + int(s[i]-'0')
			i++
		}
		n := i - start
		if n == 0 || v > 255 || n > 1 && s[start] == '0' {
			return false
		}
		if part == 4 {
			return i == len(s)
		}
		if i >= len(s) || s[i] != '.' {
			return false
		}
		i++
	}
}

// isIPv6: RFC 4291 text form: eight groups of 1-4 hex digits, one "::" for
// one or more zero groups, an optional dotted-quad as the last two groups.
// No zone, no prefix length, no brackets.
func isIPv6(s []byte) bool {
	groups := 0
	compressed := false
	i := 0
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		compressed = true
		i = 2
	} else if len(s) > 0 && s[0] == ':' {
		return false
	}
	for i < len(s) {
		start := i
		for i < len(s) && isHex(s[i]) && i-start < 5 {
			i++
		}
		if i < len(s) && s[i] == '.' {
			if !isIPv4(s[start:]) {
				return false
			}
			groups += 2
			break
		}
		if n := i - start; n == 0 || n > 4 {
			return false
		}
		groups++
		if i == len(s) {
			break
		}
		if s[i] != ':' {
			return false
		}
		i++
		if i < len(s) && s[i] == ':' {
			if compressed {
				return false
			}
			compressed = true
			i++
		} else if i == len(s) {
			return false // a trailing single colon
		}
	}
	if compressed {
		return groups <= 7
	}
	return groups == 8
}

// isHostname: RFC 1123 host name: dot-separated labels of 1-63 letters,
// digits and hyphens, not starting or ending with a hyphen, 253 bytes in
// all, no trailing dot. A label starting "xn--" must be an IDNA A-label:
// valid Punycode whose U-label passes the checks of validULabel.
func isHostname(s []byte) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for len(s) > 0 {
		label := s
		if i := bytes.IndexByte(s, '.'); i >= 0 {
			label, s = s[:i], s[i+1:]
			if len(s) == 0 {
				return false // trailing dot
			}
		} else {
			s = nil
		}
		if !validLabel(label) {
			return false
		}
	}
	return true
}

func validLabel(l []byte) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, c := range l {
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	if len(l) >= 4 && l[2] == '-' && l[3] == '-' && (l[0]|0x20) == 'x' && (l[1]|0x20) == 'n' {
		var u [63]rune
		n, ok := decodePunycode(l[4:], u[:])
		return ok && validULabel(u[:n])
	}
	return true
}

// Punycode parameters, RFC 3492 section 5.
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
)

// decodePunycode decodes in (the part of an A-label after "xn--") into out
// and returns the number of code points.
func decodePunycode(in []byte, out []rune) (int, bool) {
	n, i, bias, count := rune(pcInitialN), 0, pcInitialBias, 0
	pos := 0
	if d := bytes.LastIndexByte(in, '-'); d > 0 {
		for _, c := range in[:d] {
			if count == len(out) {
				return 0, false
			}
			out[count] = rune(c)
			count++
		}
		pos = d + 1
	}
	for pos < len(in) {
		oldi, w := i, 1
		for k := pcBase; ; k += pcBase {
			if pos >= len(in) {
				return 0, false
			}
			digit := punyDigit(in[pos])
			pos++
			if digit < 0 || digit > (1<<30-i)/w {
				return 0, false
			}
			i += digit * w
			t := min(max(k-bias, pcTMin), pcTMax)
			if digit < t {
				break
			}
			if w > (1<<30)/(pcBase-t) {
				return 0, false
			}
			w *= pcBase - t
		}
		count++
		bias = punyAdapt(i-oldi, count, oldi == 0)
		n += rune(i / count)
		i %= count
		if n > unicode.MaxRune || n >= 0xD800 && n <= 0xDFFF || count > len(out) {
			return 0, false
		}
		copy(out[i+1:count], out[i:count-1])
		out[i] = n
		i++
	}
	return count, true
}

func punyDigit(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a')
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= '0' && c <= '9':
		return int(c-'0') + 26
	}
	return -1
}

func punyAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

// validULabel applies the IDNA2008 rules (RFC 5891, RFC 5892) that can be
// checked without Unicode's derived property tables: the label is not all
// ASCII, has no "--" in positions 3 and 4, does not start with a combining
// mark, uses only letters, digits, marks and the PVALID exceptions (no
// upper case, symbols or punctuation), none of the DISALLOWED exceptions,
// and meets the CONTEXTJ and CONTEXTO rules of RFC 5892 appendix A. The
// ZERO WIDTH NON-JOINER joining-type rule is approximated by scripts.
func validULabel(u []rune) bool {
	if len(u) == 0 || len(u) >= 4 && u[2] == '-' && u[3] == '-' || u[0] == '-' || u[len(u)-1] == '-' {
		return false
	}
	if unicode.Is(unicode.M, u[0]) {
		return false
	}
	ascii := true
	var arabicIndic, extArabicIndic, kana bool
	for _, r := range u {
		switch {
		case r >= 0x0660 && r <= 0x0669:
			arabicIndic = true
		case r >= 0x06F0 && r <= 0x06F9:
			extArabicIndic = true
		case r != 0x30FB && unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han):
			kana = true
		}
		if r >= 0x80 {
			ascii = false
		}
	}
	if ascii || arabicIndic && extArabicIndic {
		return false
	}
	for i, r := range u {
		switch r {
		case 0x00DF, 0x03C2, 0x06FD, 0x06FE, 0x0F0B, 0x3007: // PVALID exceptions
			continue
		case 0x0640, 0x07FA, 0x302E, 0x302F, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303B: // DISALLOWED exceptions
			return false
		case 0x00B7: // MIDDLE DOT: between two l
			if i == 0 || i == len(u)-1 || u[i-1] != 'l' || u[i+1] != 'l' {
				return false
			}
			continue
		case 0x0375: // GREEK KERAIA: before Greek
			if i == len(u)-1 || !unicode.Is(unicode.Greek, u[i+1]) {
				return false
			}
			continue
		case 0x05F3, 0x05F4: // HEBREW GERESH, GERSHAYIM: after Hebrew
			if i == 0 || !unicode.Is(unicode.Hebrew, u[i-1]) {
				return false
			}
			continue
		case 0x30FB: // KATAKANA MIDDLE DOT: with Hiragana, Katakana or Han
			if !kana {
				return false
			}
			continue
		case 0x200D: // ZERO WIDTH JOINER: after a virama
			if i == 0 || !isVirama(u[i-1]) {
				return false
			}
			continue
		case 0x200C: // ZERO WIDTH NON-JOINER: after a virama, or between joining letters
			if i > 0 && isVirama(u[i-1]) || joinsBothSides(u, i) {
				continue
			}
			return false
		}
		if r == '-' || unicode.IsLetter(r) && !unicode.IsUpper(r) && !unicode.IsTitle(r) ||
			unicode.IsDigit(r) || unicode.Is(unicode.M, r) {
			continue
		}
		return false
	}
	return true
}

// joiningScripts are the scripts whose letters join (Joining_Type D, L or R).
var joiningScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian, unicode.Mandaic,
	unicode.Manichaean, unicode.Phags_Pa, unicode.Psalter_Pahlavi, unicode.Adlam,
	unicode.Hanifi_Rohingya, unicode.Sogdian,
}

// joinsBothSides approximates RFC 5892's regular expression for ZWNJ: a
// joining letter before it and after it, skipping transparent marks.
func joinsBothSides(u []rune, i int) bool {
	j := i - 1
	for j >= 0 && unicode.Is(unicode.Mn, u[j]) {
		j--
	}
	k := i + 1
	for k < len(u) && unicode.Is(unicode.Mn, u[k]) {
		k++
	}
	return j >= 0 && k < len(u) &&
		unicode.IsLetter(u[j]) && unicode.In(u[j], joiningScripts...) &&
		unicode.IsLetter(u[k]) && unicode.In(u[k], joiningScripts...)
}

// isVirama reports whether r has Canonical_Combining_Class 9 (Virama), for
// the scripts of the Basic Multilingual Plane.
func isVirama(r rune) bool {
	switch r {
	case 0x094D, 0x09CD, 0x0A4D, 0x0ACD, 0x0B4D, 0x0BCD, 0x0C4D, 0x0CCD, 0x0D3B, 0x0D3C,
		0x0D4D, 0x0DCA, 0x0E3A, 0x0EBA, 0x0F84, 0x1039, 0x103A, 0x1714, 0x1715, 0x1734,
		0x17D2, 0x1A60, 0x1B44, 0x1BAA, 0x1BAB, 0x1BF2, 0x1BF3, 0x2D7F, 0xA806, 0xA82C,
		0xA8C4, 0xA953, 0xA9C0, 0xAAF6, 0xABED:
		return true
	}
	return false
}

// isEmail: RFC 5321 Mailbox: a dot-atom or quoted-string local part, "@",
// and a host name or an address literal ([IPv4] or [IPv6:...]).
func isEmail(s []byte) bool {
	at := bytes.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || at > 64 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '"' {
		if len(local) < 2 || local[len(local)-1] != '"' {
			return false
		}
		q := local[1 : len(local)-1]
		for i := 0; i < len(q); i++ {
			switch c := q[i]; {
			case c == '\\':
				if i++; i == len(q) || q[i] < 0x20 || q[i] > 0x7e {
					return false
				}
			case c < 0x20 || c > 0x7e || c == '"':
				return false
			}
		}
	} else {
		if local[0] == '.' || local[len(local)-1] == '.' {
			return false
		}
		for i, c := range local {
			if c == '.' {
				if local[i-1] == '.' {
					return false
				}
			} else if charClass[c]&atext == 0 {
				return false
			}
		}
	}
	if domain[0] == '[' {
		if domain[len(domain)-1] != ']' {
			return false
		}
		lit := domain[1 : len(domain)-1]
		if len(lit) > 5 && string(lit[:5]) == "IPv6:" {
			return isIPv6(lit[5:])
		}
		return isIPv4(lit)
	}
	return isHostname(domain)
}

// isURI: RFC 3986 URI: scheme ":" hier-part ["?" query] ["#" fragment],
// ASCII only, every character in its allowed set, percent-encodings
// complete, an authority's host a reg-name, IPv4, [IPv6] or [vFuture] and
// its port decimal. Relative references are not URIs.
func isURI(s []byte) bool {
	if len(s) == 0 || !isAlpha(s[0]) {
		return false
	}
	i := 1
	for i < len(s) && (isAlnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') {
		i++
	}
	if i == len(s) || s[i] != ':' {
		return false
	}
	rest := s[i+1:]
	if h := bytes.IndexByte(rest, '#'); h >= 0 {
		if !validChars(rest[h+1:], pchar|slashQuery) {
			return false
		}
		rest = rest[:h]
	}
	if q := bytes.IndexByte(rest, '?'); q >= 0 {
		if !validChars(rest[q+1:], pchar|slashQuery) {
			return false
		}
		rest = rest[:q]
	}
	if len(rest) >= 2 && rest[0] == '/' && rest[1] == '/' {
		rest = rest[2:]
		end := bytes.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		if !validAuthority(rest[:end]) {
			return false
		}
		rest = rest[end:]
	}
	return validChars(rest, pchar|slash)
}

func validAuthority(a []byte) bool {
	if at := bytes.IndexByte(a, '@'); at >= 0 {
		if !validChars(a[:at], unreserved|subDelims|colon|pctEncoded) {
			return false
		}
		a = a[at+1:]
	}
	var port []byte
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 {
			return false
		}
		lit := a[1:end]
		if len(lit) > 0 && (lit[0] == 'v' || lit[0] == 'V') {
			if !validIPvFuture(lit) {
				return false
			}
		} else if !isIPv6(lit) {
			return false
		}
		a = a[end+1:]
		if len(a) > 0 {
			if a[0] != ':' {
				return false
			}
			port = a[1:]
		}
	} else {
		if c := bytes.IndexByte(a, ':'); c >= 0 {
			a, port = a[:c], a[c+1:]
		}
		if !validChars(a, unreserved|subDelims|pctEncoded) {
			return false
		}
	}
	for _, c := range port {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// validIPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
func validIPvFuture(s []byte) bool {
	dot := bytes.IndexByte(s, '.')
	if dot < 2 || dot == len(s)-1 {
		return false
	}
	for _, c := range s[1:dot] {
		if !isHex(c) {
			return false
		}
	}
	for _, c := range s[dot+1:] {
		if charClass[c]&(unreserved|subDelims|colon) == 0 {
			return false
		}
	}
	return true
}

// validChars checks that s has only characters of the classes allowed, or
// complete percent-encodings when pctEncoded is among them.
func validChars(s []byte, allowed uint8) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && allowed&pctEncoded != 0 {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
			continue
		}
		if charClass[c]&allowed == 0 {
			return false
		}
	}
	return true
}

// Character classes of RFC 3986 and RFC 5322.
const (
	unreserved uint8 = 1 << iota // ALPHA DIGIT - . _ ~
	subDelims                    // ! $ & ' ( ) * + , ; =
	colon                        // :
	atSign                       // @
	slash                        // /
	query                        // ?
	pctEncoded                   // % HEXDIG HEXDIG (flag only)
	atext                        // RFC 5322 atext

	pchar      = unreserved | subDelims | colon | atSign | pctEncoded
	slashQuery = slash | query
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if isAlnum(b) || b == '-' || b == '.' || b == '_' || b == '~' {
			t[c] |= unreserved
		}
		if bytes.IndexByte([]byte("!$&'()*+,;="), b) >= 0 {
			t[c] |= subDelims
		}
		if isAlnum(b) || bytes.IndexByte([]byte("!#$%&'*+-/=?^_`{|}~"), b) >= 0 {
			t[c] |= atext
		}
	}
	t[':'] |= colon
	t['@'] |= atSign
	t['/'] |= slash
	t['?'] |= query
	return t
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isHex(c byte) bool   { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// num parses a fixed-width run of ASCII digits.
func num(s []byte) (int, bool) {
	v := 0
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
