package apikey

// QueryLeak reports whether a raw query string carries what looks like an
// API key: a parameter whose name an application may read as one of names
// (compared after percent-decoding, ignoring case, with the subscripts and
// the ' ', '.', '-' and unclosed '[' that PHP and Rails read as '_' or
// drop: "api.key", "api_key[]"), or any value that starts with Prefix. It reads the raw bytes and never parses the request's
// query arguments, so the query forwarded upstream is untouched. names must
// be lower case. It allocates nothing.
func QueryLeak(query []byte, names [][]byte) bool {
	for len(query) > 0 {
		var pair []byte
		if i := indexByte(query, '&'); i >= 0 {
			pair, query = query[:i], query[i+1:]
		} else {
			pair, query = query, nil
		}
		name, value := pair, []byte(nil)
		if i := indexByte(pair, '='); i >= 0 {
			name, value = pair[:i], pair[i+1:]
		}
		for len(name) > 0 && name[0] == '+' {
			name = name[1:] // leading spaces, which PHP trims: not to overflow the buffer
		}
		var nb [64]byte
		if n, ok := decodeFold(nb[:0], name); ok {
			n = paramKey(n)
			for _, want := range names {
				if sameKey(n, want) {
					return true
				}
			}
		}
		var vb [len(Prefix)]byte
		if v, _ := decodeFold(vb[:0], value); len(v) == len(Prefix) && string(v) == Prefix {
			return true
		}
	}
	return false
}

// paramKey cuts a decoded, lower-case parameter name to the key
// frameworks file it under: before a NUL, without surrounding spaces,
// without a "[...]" subscript; an unclosed '[' stays, as PHP's '_'.
func paramKey(n []byte) []byte {
	if i := indexByte(n, 0); i >= 0 {
		n = n[:i]
	}
	for len(n) > 0 && n[0] == ' ' {
		n = n[1:]
	}
	for len(n) > 0 && n[len(n)-1] == ' ' {
		n = n[:len(n)-1]
	}
	if i := indexByte(n, '['); i > 0 && indexByte(n[i:], ']') > 0 {
		n = n[:i]
	}
	return n
}

// sameKey compares two lower-case names, reading ' ', '.', '-' and '['
// as '_'.
func sameKey(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if underscore(a[i]) != underscore(b[i]) {
			return false
		}
	}
	return true
}

func underscore(c byte) byte {
	switch c {
	case ' ', '.', '-', '[':
		return '_'
	}
	return c
}

// decodeFold percent-decodes src into dst (up to cap(dst) bytes), folding
// upper case to lower. It reports false when src decodes to more than
// cap(dst) bytes; dst then holds the first cap(dst) of them.
func decodeFold(dst, src []byte) ([]byte, bool) {
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]):
			c = unhex(src[i+1])<<4 | unhex(src[i+2])
			i += 2
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if len(dst) == cap(dst) {
			return dst, false
		}
		dst = append(dst, c)
	}
	return dst, true
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
