package login

import (
	"bytes"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// maxAccount bounds the bytes of an account name that are kept: longer
// names are keyed by their first maxAccount bytes (after canonicalisation).
// Truncation can only make two names share a lockout, never let one escape it.
const maxAccount = 256

// maxFieldName bounds a configured account field name, so that a field
// name decoded from a request into a stack buffer of maxAccount bytes is
// always long enough to compare.
const maxFieldName = maxAccount / 2

// fields are the configured account fields, compiled.
type fields struct {
	json [][]string // dotted JSON paths, split
	// form holds, per field, the names it goes by in a form, multipart
	// body or query: the configured name as it is and, for a dotted path,
	// its bracket spelling ("user.email", "user[email]").
	form [][]string
}

func compileFields(names []string) fields {
	var f fields
	for _, n := range names {
		path := strings.Split(n, ".")
		f.json = append(f.json, path)
		spellings := []string{n}
		if len(path) > 1 {
			spellings = append(spellings, path[0]+"["+strings.Join(path[1:], "][")+"]")
		}
		f.form = append(f.form, spellings)
	}
	return f
}

var parsers fastjson.ParserPool

var (
	ctJSON      = []byte("application/json")
	ctPlus      = []byte("+json")
	ctForm      = []byte("application/x-www-form-urlencoded")
	ctMultipart = []byte("multipart/form-data")
	utf8BOM     = []byte("\xef\xbb\xbf")
)

// lookup is the outcome of looking for the account in a login request.
type lookup uint8

const (
	absent lookup = iota
	found
	// ambiguous: the request names the account field more than once
	// (duplicate or case-variant keys, a repeated form field, the field in
	// both query and body, an array of several names) or in a form the
	// gateway cannot read (an encoded multipart part). Servers disagree on
	// which one wins (the first, the last, a case-insensitive match), so an
	// attacker could charge failures to a decoy account while the upstream
	// checks the real one: such a request is refused.
	ambiguous
)

// request is what account looks at: the parts of a login request that a
// login framework may read the account from.
type request struct {
	contentType []byte
	body        []byte
	query       []byte // raw query string, without '?'
	// encoded: the body has a Content-Encoding (gzip...) that the
	// upstream may undo; the gateway does not look inside.
	encoded bool
}

// account appends to dst the canonical account name (see canon) of a
// login request, found in the first configured field present. Every place
// a login framework reads fields from is searched: the query, a JSON body
// (whatever its Content-Type, when the body is a JSON object), a
// urlencoded body, and the fields (not files) of a multipart/form-data
// body. Field names match ignoring ASCII case, and a form name also with a
// bracket suffix ("username[]", as PHP and Rails read arrays); a JSON array
// of one string counts as that string. The field found more than once, in
// one place or across them, is ambiguous, and so is a compressed body. Steady state allocates nothing
// (pooled parser, caller's buffer).
func (f *fields) account(dst []byte, req request) ([]byte, lookup) {
	ct := req.contentType
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	body := req.body
	if req.encoded && len(body) > 0 {
		return dst, ambiguous // the account is in there, unread
	}
	form := len(body) > 0 && bytes.EqualFold(ct, ctForm)
	var boundary []byte
	if len(body) > 0 && bytes.EqualFold(ct, ctMultipart) {
		var ok bool
		if boundary, ok = multipartBoundary(req.contentType); !ok {
			return dst, ambiguous
		}
	}
	// JSON: a JSON Content-Type, or any body that is a JSON object (many
	// handlers decode the body whatever its type; Python skips a BOM).
	var doc *fastjson.Value
	jsonBody := bytes.TrimLeft(bytes.TrimPrefix(bytes.TrimLeft(body, " \t\r\n"), utf8BOM), " \t\r\n")
	if len(jsonBody) > 0 && (jsonBody[0] == '{' || bytes.EqualFold(ct, ctJSON) || hasSuffixFold(ct, ctPlus)) {
		p := parsers.Get()
		defer parsers.Put(p)
		if v, err := p.ParseBytes(jsonBody); err == nil {
			doc = v
		}
	}
	for i := range f.json {
		var m match
		if len(req.query) > 0 {
			formValues(&m, req.query, f.form[i])
		}
		if doc != nil {
			jsonValue(&m, doc, f.json[i])
		}
		if form {
			formValues(&m, body, f.form[i])
		}
		if boundary != nil {
			multipartValues(&m, body, boundary, f.form[i])
		}
		switch {
		case m.n > 1:
			return dst, ambiguous
		case m.n == 1:
			if name := m.c.name(); len(name) > 0 {
				return append(dst, name...), found
			}
		}
	}
	return dst, absent
}

// match collects the occurrences of one account field in a request: how
// many, and the canonical value of the first.
type match struct {
	n int
	c canon
}

// add counts one occurrence and reports whether its value is wanted (it
// is the first).
func (m *match) add() bool {
	m.n++
	return m.n == 1
}

func hasSuffixFold(s, suffix []byte) bool {
	return len(s) >= len(suffix) && bytes.EqualFold(s[len(s)-len(suffix):], suffix)
}

// jsonValue adds the values of path in doc to m: each key along the path
// is matched ignoring case, and a level with more than one matching key
// counts each (ambiguous). A string is the account, a number its text; so
// is the one element of an array of one; an array of several counts as
// several; anything else is an occurrence without an account.
func jsonValue(m *match, v *fastjson.Value, path []string) {
	for _, elem := range path {
		o, err := v.Object()
		if err != nil {
			return
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
			m.n += matches
			return
		case matches == 0:
			return
		}
		v = next
	}
	if v.Type() == fastjson.TypeArray {
		a, _ := v.Array() // type checked above
		switch {
		case len(a) > 1:
			m.n += len(a)
			return
		case len(a) == 1:
			v = a[0]
		}
	}
	if !m.add() {
		return
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes() // type checked above
		for _, c := range b {
			m.c.add(c)
		}
	case fastjson.TypeNumber:
		// Loosely typed handlers (PHP, Django's ORM) compare 12345 with
		// the account "12345": count the number in its decimal form.
		var buf [32]byte
		var b []byte
		if i, err := v.Int64(); err == nil {
			b = strconv.AppendInt(buf[:0], i, 10)
		} else if u, err := v.Uint64(); err == nil {
			b = strconv.AppendUint(buf[:0], u, 10)
		} else {
			f, _ := v.Float64() // type checked above
			b = strconv.AppendFloat(buf[:0], f, 'f', -1, 64)
		}
		for _, c := range b {
			m.c.add(c)
		}
	}
}

// formValues adds the values of the fields of an
// application/x-www-form-urlencoded body or a query string that go by one
// of names to m, percent-decoded.
func formValues(m *match, body []byte, names []string) {
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
		var buf [maxAccount]byte
		if !nameMatches(decodeInto(buf[:0], k, pctPlus), names) || !m.add() {
			continue
		}
		for i := 0; i < len(v); i++ {
			c, n := decodeAt(v, i, pctPlus)
			i += n
			m.c.add(c)
		}
	}
}

// nameMatches reports whether the decoded field name key is one of names,
// ignoring ASCII case, or one of them followed by a bracket ("name[]",
// "name[0]").
func nameMatches(key []byte, names []string) bool {
	for _, n := range names {
		if len(key) >= len(n) && bytes.EqualFold(key[:len(n)], []byte(n)) && (len(key) == len(n) || key[len(n)] == '[') {
			return true
		}
	}
	return false
}

// Escape styles of decodeAt.
const (
	pctPlus = iota // form: "%XX" and '+' for a space
	pct            // RFC 2231 parameter value: "%XX"
	quoted         // quoted-string: '\' escapes the next byte
)

// decodeInto appends b decoded in style to dst, up to its capacity (the
// caller's buffer: the rest is dropped).
func decodeInto(dst, b []byte, style int) []byte {
	for i := 0; i < len(b) && len(dst) < cap(dst); i++ {
		c, n := decodeAt(b, i, style)
		i += n
		dst = append(dst, c)
	}
	return dst
}

// decodeAt decodes the byte at b[i] in style, using n more bytes. A
// malformed escape stands for itself, like browsers and most servers
// treat it.
func decodeAt(b []byte, i, style int) (c byte, n int) {
	switch {
	case b[i] == '+' && style == pctPlus:
		return ' ', 0
	case b[i] == '%' && style != quoted:
		if i+2 < len(b) {
			if h, ok1 := unhex(b[i+1]); ok1 {
				if l, ok2 := unhex(b[i+2]); ok2 {
					return h<<4 | l, 2
				}
			}
		}
	case b[i] == '\\' && style == quoted && i+1 < len(b):
		return b[i+1], 1
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

// canon canonicalises an account name byte by byte as it is decoded:
// control characters (C0, DEL, C1: NUL, tab and newline among them) are
// dropped and the Unicode and ASCII white space left around it trimmed, since frameworks
// strip them (Django) or C code stops at NUL, so that "victim " and
// "victim\x00" share victim's lockout. Case is folded later, by the key.
// At most maxAccount bytes of the canonical name are kept: leading white
// space cannot push the name out of the buffer. The name is kept in an
// array, not the caller's slice, so that the caller's buffer stays on its
// stack.
type canon struct {
	buf  [maxAccount]byte
	n    int // bytes in buf
	keep int // n after the last byte that is not white space
	pend [utf8.UTFMax]byte
	np   int
}

// add feeds the next byte of the name.
func (c *canon) add(b byte) {
	if c.np > 0 && b&0xc0 != 0x80 {
		c.flush() // not a continuation: what is pending is not UTF-8
	}
	c.pend[c.np] = b
	c.np++
	if r, size := utf8.DecodeRune(c.pend[:c.np]); r != utf8.RuneError || size > 1 {
		c.np = 0
		c.rune(r, size)
	} else if utf8.FullRune(c.pend[:c.np]) {
		c.flush()
	}
	// else: wait for the rest of the rune
}

// flush emits pending bytes that are not UTF-8 as they are.
func (c *canon) flush() {
	for _, b := range c.pend[:c.np] {
		if c.n < len(c.buf) {
			c.buf[c.n] = b
			c.n++
			c.keep = c.n
		}
	}
	c.np = 0
}

// rune emits r, encoded in the first size bytes of c.pend.
func (c *canon) rune(r rune, size int) {
	space := unicode.IsSpace(r)
	switch {
	case unicode.IsControl(r), space && c.n == 0, c.n+size > len(c.buf):
		return // a control, leading space, or no room
	}
	c.n += copy(c.buf[c.n:], c.pend[:size])
	if !space {
		c.keep = c.n
	}
}

// name returns the canonical name.
func (c *canon) name() []byte {
	c.flush()
	return c.buf[:c.keep]
}
