package headers

import "bytes"

// Charset is what a Content-Type's charset parameter says about how an
// upstream decodes the body, as the gateway's inspection must know it.
type Charset uint8

const (
	// CharsetNone: no charset parameter.
	CharsetNone Charset = iota
	// CharsetUTF8: utf-8 (or utf8).
	CharsetUTF8
	// CharsetASCII: a charset in which every byte below 0x80 is the ASCII
	// character, and no byte at or above 0x80 decodes to one (US-ASCII,
	// ISO-8859-*, windows-125x, KOI8, and the multi-byte Shift_JIS, EUC,
	// GBK, GB18030 and Big5, whose trail bytes are never ASCII syntax
	// that the raw bytes do not show): the bytes can be inspected as
	// they are.
	CharsetASCII
	// CharsetUTF16 and CharsetUTF32: byte order from a BOM, else
	// unknown (RFC 2781 says big-endian, Windows little-endian).
	CharsetUTF16
	CharsetUTF16LE
	CharsetUTF16BE
	CharsetUTF32
	CharsetUTF32LE
	CharsetUTF32BE
	// CharsetOther: any other label (UTF-7, EBCDIC code pages,
	// ISO-2022-*, HZ, unknown names): characters that ASCII syntax is
	// made of can hide in bytes that are not those characters ("+ADw-"
	// is '<' in UTF-7), so the raw bytes cannot be inspected for them.
	CharsetOther
)

var charsetNames = [...]string{"none", "utf-8", "ascii-compatible", "utf-16", "utf-16le", "utf-16be",
	"utf-32", "utf-32le", "utf-32be", "other"}

// String returns a stable name for logs and tests.
func (c Charset) String() string {
	if int(c) < len(charsetNames) {
		return charsetNames[c]
	}
	return "unknown"
}

// Unicode reports whether c is one of the UTF-16 and UTF-32 charsets.
func (c Charset) Unicode() bool { return c >= CharsetUTF16 && c <= CharsetUTF32BE }

var charsetParam = []byte("charset")

// ContentCharset returns the charset a Content-Type value declares, and
// the label as sent (unquoted, spaces trimmed). Labels compare ignoring
// case; a label that is not in the lists above is CharsetOther, so an
// unknown charset is never taken as safe to inspect as bytes, and so is a
// charset parameter given twice (parsers differ on which one counts).
func ContentCharset(ct []byte) (Charset, []byte) {
	_, params, ok := bytes.Cut(ct, []byte{';'})
	if !ok {
		return CharsetNone, nil
	}
	label, n := MediaParam(params, charsetParam)
	switch n {
	case 0:
		return CharsetNone, nil
	case 1:
		return charsetOf(label), label
	}
	return CharsetOther, label
}

// MediaParam finds the parameter name (lower case) in the parameters of a
// media type ("; a=b; c="d;e""), reading quoted strings whole, and returns
// the first one's value without its quotes (quoted-pairs are kept as they
// are) and how many times the parameter occurs.
func MediaParam(params, name []byte) (value []byte, n int) {
	for i := 0; i < len(params); {
		// name
		for i < len(params) && (params[i] == ';' || params[i] == ' ' || params[i] == '\t') {
			i++
		}
		ks := i
		for i < len(params) && params[i] != '=' && params[i] != ';' {
			i++
		}
		k := bytes.TrimSpace(params[ks:i])
		if i >= len(params) || params[i] == ';' {
			continue // a parameter without a value
		}
		i++ // '='
		for i < len(params) && (params[i] == ' ' || params[i] == '\t') {
			i++
		}
		var v []byte
		if i < len(params) && params[i] == '"' {
			vs := i + 1
			for i = vs; i < len(params) && params[i] != '"'; i++ {
				if params[i] == '\\' {
					i++
				}
			}
			if i >= len(params) {
				v = params[vs-1:] // unclosed: kept with its quote, a label nothing matches
			} else {
				v = params[vs:i]
			}
			i++ // the closing quote
			for i < len(params) && params[i] != ';' {
				i++ // junk after the quoted string
			}
		} else {
			vs := i
			for i < len(params) && params[i] != ';' {
				i++
			}
			v = bytes.TrimSpace(params[vs:i])
		}
		if bytes.EqualFold(k, name) {
			if n == 0 {
				value = v
			}
			n++
		}
	}
	return value, n
}

// CharsetLabel classifies a charset label as ContentCharset does, for
// labels that come from elsewhere (a form's _charset_ field).
func CharsetLabel(label []byte) Charset { return charsetOf(bytes.TrimSpace(label)) }

// charsetOf classifies a charset label (WHATWG and IANA names).
func charsetOf(label []byte) Charset {
	var buf [32]byte
	if len(label) == 0 || len(label) > len(buf) {
		return CharsetOther
	}
	for i, c := range label {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	l := string(buf[:len(label)]) // compared only: does not escape
	switch l {
	case "utf-8", "utf8", "unicode-1-1-utf-8":
		return CharsetUTF8
	case "utf-16", "utf16", "ucs-2", "iso-10646-ucs-2", "csunicode", "unicode":
		return CharsetUTF16
	case "utf-16le", "utf16le", "unicodefffe":
		return CharsetUTF16LE
	case "utf-16be", "utf16be", "unicodefeff":
		return CharsetUTF16BE
	case "utf-32", "utf32", "ucs-4", "iso-10646-ucs-4":
		return CharsetUTF32
	case "utf-32le", "utf32le":
		return CharsetUTF32LE
	case "utf-32be", "utf32be":
		return CharsetUTF32BE
	case "us-ascii", "ascii", "iso646-us", "ansi_x3.4-1968", "cp367", "ibm367", "latin1", "l1", "cp819", "ibm819",
		"koi8-r", "koi8-u", "koi8r", "koi8u", "shift_jis", "shift-jis", "sjis", "windows-31j", "ms_kanji", "cp932",
		"euc-jp", "euc-kr", "eucjp", "euckr", "gbk", "gb2312", "gb18030", "cp936", "big5", "big5-hkscs", "cp950",
		"tis-620", "windows-874":
		return CharsetASCII
	}
	for _, p := range [...]string{"iso-8859-", "iso8859-", "iso_8859-", "windows-125", "cp125", "x-cp125"} {
		if len(l) > len(p) && l[:len(p)] == p && allDigitsOrDash(l[len(p):]) {
			return CharsetASCII
		}
	}
	return CharsetOther
}

func allDigitsOrDash(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '-' && s[i] != ':' {
			return false
		}
	}
	return true
}
