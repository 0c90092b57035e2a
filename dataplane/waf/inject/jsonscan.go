package inject

import (
	"unicode/utf16"
	"unicode/utf8"
)

// scanJSON reads a raw JSON body without building a tree: it inspects
// every object key and string value (unescaped) at its JSON pointer, and
// skips numbers and literals. It is a streaming reader, not a validator:
// it follows JSON's structure (objects, arrays, strings with their
// escapes) and reports false when the body does not follow it, and the
// caller then inspects the body whole. Parsing with fastjson first would
// cost more than the inspection of a typical body (1.3 us of a 1 KB body's
// budget). It keeps no path; the walk that locates a detection keeps the
// keys as raw slices of the body in sc.ptr, unescaped only to build the
// location.
//
// It returns true when the body was read to its end (or a detection or the
// budget stopped it).
func (d *Detector) scanJSON(sc *Scratch, raw []byte) bool {
	sc.ptr = sc.ptr[:0]
	i := skipJSONSpace(raw, 0)
	i, ok := d.scanJSONValue(sc, raw, i, 0, false)
	if !ok {
		return sc.stopped
	}
	return skipJSONSpace(raw, i) == len(raw) || sc.stopped
}

// maxJSONDepth bounds nesting; the validate stage has its own, lower,
// bound for the routes it checks.
const maxJSONDepth = 512

// scanJSONValue reads the value at raw[i] and returns the index after it;
// underCtor: the value is that of a "constructor" key (see jsonKey).
func (d *Detector) scanJSONValue(sc *Scratch, raw []byte, i, depth int, underCtor bool) (int, bool) {
	if i >= len(raw) {
		return i, false
	}
	switch raw[i] {
	case '"':
		s, end, m, esc, ok := readJSONString(raw, i)
		if !ok {
			return i, false
		}
		if esc {
			sc.str = appendJSONString(sc.str[:0], s)
			s, m = sc.str, 0
		}
		if d.jsonValue(sc, s, m, 0) {
			return end, false
		}
		return end, true
	case '{':
		if depth >= maxJSONDepth {
			return i, false
		}
		i = skipJSONSpace(raw, i+1)
		if i < len(raw) && raw[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(raw) || raw[i] != '"' {
				return i, false
			}
			k, end, km, esc, ok := readJSONString(raw, i)
			if !ok {
				return i, false
			}
			if sc.locating {
				sc.ptr = append(sc.ptr, ptrSeg{key: k, esc: esc})
			}
			kv := k
			if esc {
				sc.str = appendJSONString(sc.str[:0], k)
				kv, km = sc.str, 0
			}
			i = skipJSONSpace(raw, end)
			if i >= len(raw) || raw[i] != ':' {
				return i, false
			}
			i = skipJSONSpace(raw, i+1)
			if d.jsonKey(sc, kv, km, underCtor, bsonTypeNumber(raw, i)) {
				return end, false
			}
			if i, ok = d.scanJSONValue(sc, raw, i, depth+1, string(kv) == "constructor"); !ok {
				return i, false
			}
			if sc.locating {
				sc.ptr = sc.ptr[:len(sc.ptr)-1]
			}
			var closed bool
			if i, closed, ok = nextMember(raw, i, '}'); !ok || closed {
				return i, ok
			}
		}
	case '[':
		if depth >= maxJSONDepth {
			return i, false
		}
		i = skipJSONSpace(raw, i+1)
		if i < len(raw) && raw[i] == ']' {
			return i + 1, true
		}
		for n := 0; ; n++ {
			if sc.locating {
				sc.ptr = append(sc.ptr, ptrSeg{idx: n})
			}
			var ok bool
			if i, ok = d.scanJSONValue(sc, raw, i, depth+1, false); !ok {
				return i, false
			}
			if sc.locating {
				sc.ptr = sc.ptr[:len(sc.ptr)-1]
			}
			var closed bool
			if i, closed, ok = nextMember(raw, i, ']'); !ok || closed {
				return i, ok
			}
		}
	default:
		// A number or a literal: its bytes, up to a delimiter.
		start := i
		for i < len(raw) && jsonScalarByte[raw[i]] {
			i++
		}
		if i == start {
			return i, false
		}
		return i, true
	}
}

var jsonScalarByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eEtruefalsn") {
		t[c] = true
	}
	return t
}()

func skipJSONSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\n' || raw[i] == '\r' || raw[i] == '\t') {
		i++
	}
	return i
}

// readJSONString reads the string starting at raw[i] ('"'): its raw
// content, the index after its closing quote, the class mask of its bytes
// (computed on the way, as every byte is read anyway) and whether it has
// escapes.
func readJSONString(raw []byte, i int) (s []byte, end int, m uint64, esc, ok bool) {
	j := i + 1
	// Four bytes a step while none ends the string or escapes: one branch
	// instead of four (most string bytes are plain).
	for ; j+4 <= len(raw); j += 4 {
		c := classOf[raw[j]] | classOf[raw[j+1]] | classOf[raw[j+2]] | classOf[raw[j+3]]
		if c&(bDQuote|bBackslash) != 0 {
			break
		}
		m |= c
	}
	for j < len(raw) {
		cls := classOf[raw[j]]
		if cls&(bDQuote|bBackslash) != 0 {
			if cls == bDQuote {
				return raw[i+1 : j], j + 1, m, esc, true
			}
			esc = true
			j += 2 // the backslash and the byte it escapes
			continue
		}
		m |= cls
		j++
	}
	return nil, 0, 0, false, false
}

// appendJSONString appends the unescaped form of a JSON string's raw
// content s to dst. Invalid escapes are kept as they are.
func appendJSONString(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			// As fastjson does (unescapeStringBestEffort), so that both
			// readers inspect the same bytes: an escape that does not
			// parse, or a high surrogate without a second escape, is kept
			// as it is; two escapes make one rune, U+FFFD if they do not
			// pair.
			r, n := hex4(s, i+1)
			if n == 0 {
				dst = append(dst, '\\', 'u')
				continue
			}
			if !utf16.IsSurrogate(r) {
				dst = utf8.AppendRune(dst, r)
				i += 4
				continue
			}
			r2, n2 := rune(0), 0
			if i+6 < len(s) && s[i+5] == '\\' && s[i+6] == 'u' {
				r2, n2 = hex4(s, i+7)
			}
			if n2 == 0 {
				dst = append(dst, '\\', 'u')
				dst = append(dst, s[i+1:i+5]...)
				i += 4
				continue
			}
			dst = utf8.AppendRune(dst, utf16.DecodeRune(r, r2))
			i += 10
		default:
			dst = append(dst, '\\', s[i])
		}
	}
	return dst
}

func hex4(s []byte, i int) (rune, int) {
	if r, ok := hexRune(s, i, 4); ok {
		return r, 4
	}
	return 0, 0
}

// nextMember reads past what follows a member or an element: the closing
// byte ends the container (end), a comma starts the next member.
func nextMember(raw []byte, i int, closing byte) (next int, end, ok bool) {
	i = skipJSONSpace(raw, i)
	switch {
	case i >= len(raw):
		return i, false, false
	case raw[i] == closing:
		return i + 1, true, true
	case raw[i] != ',':
		return i, false, false
	}
	return skipJSONSpace(raw, i+1), false, true
}
