package accesslog

import (
	"unicode/utf8"
	"unsafe"
)

// jsonSafe marks the ASCII bytes that appear unescaped inside a JSON string.
// Control characters, '"', '\\' and DEL are escaped; DEL is legal in JSON
// but is escaped so that a log line never carries a raw control byte.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	t['"'], t['\\'], t[0x7f] = false, false, false
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a quoted JSON string. Invalid UTF-8 bytes become
// U+FFFD, one per byte, as in a Go string-to-rune conversion; U+2028 and
// U+2029 are escaped so that a line is also valid JavaScript.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendBytes is appendString for a byte slice, without copying it.
func appendBytes(dst, b []byte) []byte {
	return appendString(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}

// AppendJSONString appends s as a quoted JSON string under the access log's
// rules (invalid UTF-8 replaced, control bytes, DEL and U+2028/9 escaped),
// for other JSON-lines writers (dataplane/secevent).
func AppendJSONString(dst []byte, s string) []byte { return appendString(dst, s) }

// AppendJSONBytes is AppendJSONString for a byte slice.
func AppendJSONBytes(dst, b []byte) []byte { return appendBytes(dst, b) }
