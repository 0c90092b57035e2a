package apikey

// QueryLeak reports whether a raw query string carries what looks like an
// API key: a parameter whose name is one of names (compared after
// percent-decoding, ignoring case), or any value that starts with Prefix. It reads the raw bytes and never parses the request's
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
		var nb [64]byte
		if n, ok := decodeFold(nb[:0], name); ok {
			for _, want := range names {
				if string(n) == string(want) {
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
