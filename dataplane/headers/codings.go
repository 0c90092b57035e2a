package headers

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// FoldedEqual compares two header names the way lenient servers do: any
// case, '_' read as '-'.
func FoldedEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if FoldByte(a[i]) != FoldByte(b[i]) {
			return false
		}
	}
	return true
}

var (
	contentEncodingName = []byte("content-encoding")
	identityCoding      = []byte("identity")
	listComma           = []byte(",")
)

// ContentCodings returns the first content coding other than identity
// that the request names, and how many such codings it names in all. Every
// Content-Encoding field counts, in every spelling lenient servers read as
// it (any case, '_' for '-'): fasthttp's ContentEncoding returns the first
// field only, and the upstream gets all of them, so "identity" (or an
// empty field) first and "gzip" second must not pass as unencoded.
func ContentCodings(h *fasthttp.RequestHeader) (first []byte, n int) {
	for k, v := range h.All() {
		if !FoldedEqual(k, contentEncodingName) {
			continue
		}
		for len(v) > 0 {
			var c []byte
			c, v, _ = bytes.Cut(v, listComma)
			if c = bytes.TrimSpace(c); len(c) > 0 && !bytes.EqualFold(c, identityCoding) {
				if n == 0 {
					first = c
				}
				n++
			}
		}
	}
	return first, n
}
