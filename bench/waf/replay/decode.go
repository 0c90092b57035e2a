package main

// urlDecode decodes one line of a libinjection sample file the way
// libinjection's own test reader does (modp_url_decode in src/reader.c), so
// that the gateway is sent exactly the value libinjection's tests check:
// '+' is a space, %XX (either case) is the byte, and a '%' not followed by
// two hex digits stays a literal '%'. Bytes that are not valid UTF-8 after
// decoding are kept as they are.
func urlDecode(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '+':
			out = append(out, ' ')
			i++
		case '%':
			if i+2 < len(s) {
				hi, lo := unhex(s[i+1]), unhex(s[i+2])
				if hi < 16 && lo < 16 {
					out = append(out, hi<<4|lo)
					i += 3
					continue
				}
			}
			out = append(out, '%')
			i++
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}

// unhex returns the value of a hex digit, or 16 for any other byte.
func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 16
}
