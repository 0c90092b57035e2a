package login

import (
	"bytes"
	"strings"

	"github.com/valyala/fastjson"
)

// maxAccount bounds the bytes of an account name that are kept: longer
// names are keyed by their first maxAccount bytes. Truncation can only make
// two names share a lockout, never let one escape it.
const maxAccount = 256

// fields are the configured account fields, compiled.
type fields struct {
	json [][]string // dotted JSON paths, split
	form []string   // form field names: the configured names as they are
}

func compileFields(names []string) fields {
	var f fields
	for _, n := range names {
		f.json = append(f.json, strings.Split(n, "."))
		f.form = append(f.form, n)
	}
	return f
}

var parsers fastjson.ParserPool

var (
	ctJSON = []byte("application/json")
	ctPlus = []byte("+json")
	ctForm = []byte("application/x-www-form-urlencoded")
)

// account appends to dst the account name of a login request body, found
// in the first configured field present: a string at a JSON path, or a
// form field, percent-decoded. It reports false when there is none.
// Steady state allocates nothing (pooled parser, caller's buffer).
func (f *fields) account(dst []byte, contentType, body []byte) ([]byte, bool) {
	if len(body) == 0 {
		return dst, false
	}
	ct := contentType
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	switch {
	case bytes.EqualFold(ct, ctJSON) || hasSuffixFold(ct, ctPlus):
		return f.fromJSON(dst, body)
	case bytes.EqualFold(ct, ctForm):
		for _, name := range f.form {
			if v, ok := formValue(dst, body, name); ok {
				return v, true
			}
		}
	}
	return dst, false
}

func (f *fields) fromJSON(dst, body []byte) ([]byte, bool) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return dst, false
	}
	for _, path := range f.json {
		s := v.Get(path...)
		if s == nil || s.Type() != fastjson.TypeString {
			continue
		}
		b, _ := s.StringBytes() // type checked above
		return append(dst, b[:min(len(b), maxAccount)]...), true
	}
	return dst, false
}

func hasSuffixFold(s, suffix []byte) bool {
	return len(s) >= len(suffix) && bytes.EqualFold(s[len(s)-len(suffix):], suffix)
}

// formValue appends the percent-decoded value of the first field called
// name in an application/x-www-form-urlencoded body to dst (at most
// maxAccount bytes), reporting whether the field is present. Field names
// are compared after decoding, so "user%6Eame" is "username".
func formValue(dst, body []byte, name string) ([]byte, bool) {
	for len(body) > 0 {
		pair := body
		if i := bytes.IndexByte(body, '&'); i >= 0 {
			pair, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		k, v := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			k, v = pair[:i], pair[i+1:]
		}
		if !decodedEquals(k, name) {
			continue
		}
		return decode(dst, v, maxAccount), true
	}
	return dst, false
}

// decodedEquals reports whether the form-encoded b decodes to s.
func decodedEquals(b []byte, s string) bool {
	j := 0
	for i := 0; i < len(b); i++ {
		c, n := decodeAt(b, i)
		i += n
		if j >= len(s) || s[j] != c {
			return false
		}
		j++
	}
	return j == len(s)
}

// decode appends the form-decoded b to dst, stopping after limit bytes.
func decode(dst, b []byte, limit int) []byte {
	for i := 0; i < len(b) && limit > 0; i++ {
		c, n := decodeAt(b, i)
		i += n
		dst = append(dst, c)
		limit--
	}
	return dst
}

// decodeAt decodes the byte at b[i]: '+' is a space, "%XX" a byte (n=2
// more bytes used); a malformed escape stands for itself, like browsers
// and most servers treat it.
func decodeAt(b []byte, i int) (c byte, n int) {
	switch b[i] {
	case '+':
		return ' ', 0
	case '%':
		if i+2 < len(b) {
			if h, ok1 := unhex(b[i+1]); ok1 {
				if l, ok2 := unhex(b[i+2]); ok2 {
					return h<<4 | l, 2
				}
			}
		}
	}
	return b[i], 0
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
