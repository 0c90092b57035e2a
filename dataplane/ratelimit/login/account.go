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

// lookup is the outcome of looking for the account in a login body.
type lookup uint8

const (
	absent lookup = iota
	found
	// ambiguous: the body names the account field more than once (duplicate
	// or case-variant JSON keys, a repeated form field). Servers disagree on
	// which one wins (the first, the last, a case-insensitive match), so an
	// attacker could charge failures to a decoy account while the upstream
	// checks the real one: such a body is refused.
	ambiguous
)

// account appends to dst the account name of a login request body, found
// in the first configured field present: a string at a JSON path (keys
// matched ignoring case) or a form field, percent-decoded. Steady state
// allocates nothing (pooled parser, caller's buffer).
func (f *fields) account(dst []byte, contentType, body []byte) ([]byte, lookup) {
	if len(body) == 0 {
		return dst, absent
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
			if v, l := formValue(dst, body, name); l != absent {
				return v, l
			}
		}
	}
	return dst, absent
}

func (f *fields) fromJSON(dst, body []byte) ([]byte, lookup) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return dst, absent
	}
	for _, path := range f.json {
		s, l := getFold(v, path)
		if l == ambiguous {
			return dst, ambiguous
		}
		if l == absent || s.Type() != fastjson.TypeString {
			continue
		}
		b, _ := s.StringBytes() // type checked above
		return append(dst, b[:min(len(b), maxAccount)]...), found
	}
	return dst, absent
}

// getFold follows path through nested objects, matching each key ignoring
// case; a level with more than one matching key makes the lookup ambiguous.
func getFold(v *fastjson.Value, path []string) (*fastjson.Value, lookup) {
	for _, elem := range path {
		o, err := v.Object()
		if err != nil {
			return nil, absent
		}
		var next *fastjson.Value
		matches := 0
		o.Visit(func(key []byte, val *fastjson.Value) {
			if len(key) == len(elem) && bytes.EqualFold(key, []byte(elem)) {
				matches++
				next = val
			}
		})
		switch {
		case matches > 1:
			return nil, ambiguous
		case matches == 0:
			return nil, absent
		}
		v = next
	}
	return v, found
}

func hasSuffixFold(s, suffix []byte) bool {
	return len(s) >= len(suffix) && bytes.EqualFold(s[len(s)-len(suffix):], suffix)
}

// formValue appends the percent-decoded value of the field called name in
// an application/x-www-form-urlencoded body to dst (at most maxAccount
// bytes). A field given more than once is ambiguous. Field names are
// compared after decoding, so "user%6Eame" is "username".
func formValue(dst, body []byte, name string) ([]byte, lookup) {
	var val []byte
	l := absent
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
		if l == found {
			return dst, ambiguous
		}
		val, l = v, found
	}
	if l == absent {
		return dst, absent
	}
	return decode(dst, val, maxAccount), found
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
