package jsonbody

import "unicode/utf8"

// What scan expects next.
const (
	wantValue  = iota // a value: after start, ':', '[' or ',' in an array
	wantKey           // a key: after ',' in an object, or '{' not followed by '}'
	afterValue        // ',', a closing bracket, or the end at depth 0
)

// plain marks the string bytes that need no attention: printable ASCII other
// than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scan checks that b is one RFC 8259 value, valid UTF-8 with paired
// surrogate escapes, followed only by whitespace, with objects and arrays
// nested at most maxDepth (<= MaxDepthLimit) deep. It is linear and keeps
// its stack in a fixed bit set, so depth costs nothing before it fails.
func scan(b []byte, maxDepth int) error {
	var objects [MaxDepthLimit/64 + 1]uint64 // bit d set: the container at depth d is an object
	depth := 0
	state := wantValue
	i := skipWS(b, 0)
	for {
		switch state {
		case wantValue:
			if i >= len(b) {
				return ErrMalformed
			}
			switch c := b[i]; c {
			case '{', '[':
				depth++
				if depth > maxDepth {
					return ErrTooDeep
				}
				closing := byte(']')
				if c == '{' {
					objects[depth>>6] |= 1 << (depth & 63)
					closing = '}'
				} else {
					objects[depth>>6] &^= 1 << (depth & 63)
				}
				i = skipWS(b, i+1)
				if i < len(b) && b[i] == closing {
					depth--
					i++
					state = afterValue
				} else if c == '{' {
					state = wantKey
				}
				continue
			case '"':
				var err error
				if i, err = scanString(b, i+1); err != nil {
					return err
				}
			case 't':
				if !hasLiteral(b, i, "true") {
					return ErrMalformed
				}
				i += len("true")
			case 'f':
				if !hasLiteral(b, i, "false") {
					return ErrMalformed
				}
				i += len("false")
			case 'n':
				if !hasLiteral(b, i, "null") {
					return ErrMalformed
				}
				i += len("null")
			default:
				if i = scanNumber(b, i); i < 0 {
					return ErrMalformed
				}
			}
			state = afterValue

		case wantKey:
			if i >= len(b) || b[i] != '"' {
				return ErrMalformed
			}
			var err error
			if i, err = scanString(b, i+1); err != nil {
				return err
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return ErrMalformed
			}
			i = skipWS(b, i+1)
			state = wantValue

		case afterValue:
			i = skipWS(b, i)
			if depth == 0 {
				if i != len(b) {
					return ErrTrailingData
				}
				return nil
			}
			if i >= len(b) {
				return ErrMalformed
			}
			inObject := objects[depth>>6]&(1<<(depth&63)) != 0
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
				if inObject {
					state = wantKey
				} else {
					state = wantValue
				}
			case '}', ']':
				if inObject != (b[i] == '}') {
					return ErrMalformed
				}
				depth--
				i++
			default:
				return ErrMalformed
			}
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanNumber returns the index after the number starting at b[i], or -1.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// scanString checks the string whose content starts at b[i] (after the
// opening quote) and returns the index after its closing quote.
func scanString(b []byte, i int) (int, error) {
	for {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, ErrMalformed
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return 0, ErrMalformed
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					return 0, ErrMalformed
				}
				i += 6
				switch {
				case r >= 0xDC00 && r <= 0xDFFF:
					return 0, ErrInvalidUTF8 // a low surrogate first
				case r >= 0xD800 && r <= 0xDBFF:
					if i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
						return 0, ErrInvalidUTF8
					}
					low, ok := hex4(b, i+2)
					if !ok {
						return 0, ErrMalformed
					}
					if low < 0xDC00 || low > 0xDFFF {
						return 0, ErrInvalidUTF8
					}
					i += 6
				}
			default:
				return 0, ErrMalformed
			}
		case c < 0x20:
			return 0, ErrMalformed
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, ErrInvalidUTF8
			}
			i += size
		}
	}
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if len(b)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
