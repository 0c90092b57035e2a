package jsonbody

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

// readCases hold every rule: the body, the depth limit (0: default) and the
// error Read must return (nil: accepted).
var readCases = []struct {
	name     string
	body     string
	maxDepth int
	want     error
}{
	// Well-formed values.
	{"object", `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, 0, nil},
	{"scalar string", `"x"`, 0, nil},
	{"scalar number", `-0.5e+10`, 0, nil},
	{"scalar true", `true`, 0, nil},
	{"scalar null", `null`, 0, nil},
	{"whitespace around", " \t\r\n{ \"a\" : [ 1 , 2 ] }\n ", 0, nil},
	{"empty containers", `[{},[],{"a":{}}]`, 0, nil},
	{"zero", `0`, 0, nil},
	{"negative zero", `-0`, 0, nil},
	{"exponent forms", `[1e5,1E5,1e+5,1e-5,1.5E-05,0.0]`, 0, nil},
	{"huge number", `1e999999999999`, 0, nil},
	{"long integer", `123456789012345678901234567890`, 0, nil},
	{"escapes", `"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac"`, 0, nil},
	{"surrogate pair", `"\ud83d\ude00"`, 0, nil},
	{"surrogate pair upper hex", `"\uD83D\uDE00"`, 0, nil},
	{"utf8 text", `"héllo wörld €😀"`, 0, nil},
	{"replacement char literal", "\"\xef\xbf\xbd\"", 0, nil},
	{"DEL unescaped", "\"\x7f\"", 0, nil},
	{"distinct keys differing in case", `{"a":1,"A":2}`, 0, nil},
	{"same key in sibling objects", `[{"a":1},{"a":2}]`, 0, nil},
	{"same key at two levels", `{"a":{"a":1}}`, 0, nil},
	{"many distinct keys", manyKeys(200, false), 0, nil},

	// Malformed.
	{"empty body", ``, 0, ErrMalformed},
	{"only whitespace", "  \n", 0, ErrMalformed},
	{"unclosed object", `{"a":1`, 0, ErrMalformed},
	{"unclosed array", `[1,2`, 0, ErrMalformed},
	{"unclosed string", `"abc`, 0, ErrMalformed},
	{"mismatched brackets", `[1}`, 0, ErrMalformed},
	{"mismatched brackets object", `{"a":1]`, 0, ErrMalformed},
	{"trailing comma array", `[1,]`, 0, ErrMalformed},
	{"trailing comma object", `{"a":1,}`, 0, ErrMalformed},
	{"leading comma", `[,1]`, 0, ErrMalformed},
	{"missing colon", `{"a" 1}`, 0, ErrMalformed},
	{"missing value", `{"a":}`, 0, ErrMalformed},
	{"unquoted key", `{a:1}`, 0, ErrMalformed},
	{"single quotes", `{'a':1}`, 0, ErrMalformed},
	{"number key", `{1:1}`, 0, ErrMalformed},
	{"NaN", `NaN`, 0, ErrMalformed},
	{"nan in array", `[nan]`, 0, ErrMalformed},
	{"Infinity", `Infinity`, 0, ErrMalformed},
	{"minus inf", `-inf`, 0, ErrMalformed},
	{"plus sign", `+1`, 0, ErrMalformed},
	{"leading dot", `.5`, 0, ErrMalformed},
	{"trailing dot", `1.`, 0, ErrMalformed},
	{"empty exponent", `1e`, 0, ErrMalformed},
	{"signed empty exponent", `1e+`, 0, ErrMalformed},
	{"lone minus", `-`, 0, ErrMalformed},
	{"hex number", `[0x10]`, 0, ErrMalformed},
	{"leading zero in array", `[01]`, 0, ErrMalformed},
	{"truncated literal", `tru`, 0, ErrMalformed},
	{"capital literal", `True`, 0, ErrMalformed},
	{"literal with suffix in array", `[truex]`, 0, ErrMalformed},
	{"control char in string", "\"a\x01b\"", 0, ErrMalformed},
	{"raw newline in string", "\"a\nb\"", 0, ErrMalformed},
	{"raw tab in string", "\"a\tb\"", 0, ErrMalformed},
	{"bad escape", `"\x41"`, 0, ErrMalformed},
	{"short unicode escape", `"\u41"`, 0, ErrMalformed},
	{"non-hex unicode escape", `"\u00g1"`, 0, ErrMalformed},
	{"escape at end", `"\`, 0, ErrMalformed},
	{"high surrogate then bad escape", `"\ud800\u12"`, 0, ErrMalformed},
	{"byte order mark", "\xef\xbb\xbf{}", 0, ErrMalformed},
	{"comment", `{"a":1 /* c */}`, 0, ErrMalformed},
	{"vertical tab whitespace", "\v1", 0, ErrMalformed},
	{"non-breaking space outside string", "\xc2\xa01", 0, ErrMalformed},

	// Trailing data.
	{"two objects", `{}{}`, 0, ErrTrailingData},
	{"two scalars", `1 2`, 0, ErrTrailingData},
	{"leading zero", `01`, 0, ErrTrailingData},
	{"garbage after value", `{"a":1} x`, 0, ErrTrailingData},
	{"NUL after value", "{}\x00", 0, ErrTrailingData},
	{"literal suffix", `truex`, 0, ErrTrailingData},
	{"closing bracket extra", `[1]]`, 0, ErrTrailingData},

	// Duplicate keys.
	{"duplicate key", `{"a":1,"a":2}`, 0, ErrDuplicateKey},
	{"duplicate key same value", `{"a":1,"a":1}`, 0, ErrDuplicateKey},
	{"duplicate via unicode escape", `{"a":1,"\u0061":2}`, 0, ErrDuplicateKey},
	{"duplicate via both escaped", `{"\u0061":1,"\u0061":2}`, 0, ErrDuplicateKey},
	{"duplicate via solidus escape", `{"a/b":1,"a\/b":2}`, 0, ErrDuplicateKey},
	{"duplicate via surrogate escape", `{"😀":1,"\ud83d\ude00":2}`, 0, ErrDuplicateKey},
	{"duplicate nested in array", `[1,{"b":{"x":1,"y":2,"x":3}}]`, 0, ErrDuplicateKey},
	{"duplicate empty key", `{"":1,"":2}`, 0, ErrDuplicateKey},
	{"duplicate in large object", manyKeys(200, true), 0, ErrDuplicateKey},

	// Depth.
	{"depth at limit", nest(64, "1"), 0, nil},
	{"depth over default limit", nest(65, "1"), 0, ErrTooDeep},
	{"object depth over limit", strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), 0, ErrTooDeep},
	{"custom limit", nest(3, "[]"), 4, nil},
	{"custom limit exceeded", nest(4, "[]"), 4, ErrTooDeep},
	{"scalar at depth zero", `1`, 1, nil},
	{"limit above fastjson clamped", nest(MaxDepthLimit, "1"), 10000, nil},
	{"limit above fastjson clamped exceeded", nest(MaxDepthLimit+1, "1"), 10000, ErrTooDeep},
	{"too deep even if malformed later", nest(65, "1")[:70] + "x", 0, ErrTooDeep},
	{"deep inside strings does not count", `["` + strings.Repeat("[", 1000) + `"]`, 0, nil},

	// UTF-8.
	{"invalid byte in string", "\"\xff\"", 0, ErrInvalidUTF8},
	{"truncated sequence in string", "\"\xe2\x82\"", 0, ErrInvalidUTF8},
	{"overlong encoding", "\"\xc0\xaf\"", 0, ErrInvalidUTF8},
	{"encoded surrogate", "\"\xed\xa0\x80\"", 0, ErrInvalidUTF8},
	{"beyond U+10FFFF", "\"\xf4\x90\x80\x80\"", 0, ErrInvalidUTF8},
	{"invalid byte in key", "{\"\xff\":1}", 0, ErrInvalidUTF8},
	{"lone high surrogate", `"\ud800"`, 0, ErrInvalidUTF8},
	{"lone high surrogate then text", `"\ud800abc"`, 0, ErrInvalidUTF8},
	{"lone low surrogate", `"\udc00"`, 0, ErrInvalidUTF8},
	{"two high surrogates", `"\ud800\ud800"`, 0, ErrInvalidUTF8},
	{"high surrogate then BMP escape", `"\ud800\u0041"`, 0, ErrInvalidUTF8},
	{"reversed pair", `"\ude00\ud83d"`, 0, ErrInvalidUTF8},
	{"lone surrogate in key", `{"\udfff":1}`, 0, ErrInvalidUTF8},

	// Byte order marks and other encodings (RFC 8259 §8.1: JSON exchanged
	// between systems is UTF-8, without a BOM). An upstream that sniffs
	// the encoding (RFC 4627 §3) would read these as the document they
	// encode, which was never checked: refused.
	{"utf-8 bom", "\xef\xbb\xbf{\"a\":1}", 0, ErrMalformed},
	{"utf-16le bom", "\xff\xfe{\x00}\x00", 0, ErrMalformed},
	{"utf-16be bom", "\xfe\xff\x00{\x00}", 0, ErrMalformed},
	{"utf-32le bom", "\xff\xfe\x00\x00{\x00\x00\x00}\x00\x00\x00", 0, ErrMalformed},
	{"utf-32be bom", "\x00\x00\xfe\xff\x00\x00\x00{\x00\x00\x00}", 0, ErrMalformed},
	{"utf-16le nul pattern", "{\x00}\x00", 0, ErrMalformed},
	{"utf-16be nul pattern", "\x00[\x00]", 0, ErrMalformed},
	{"utf-16le scalar", "1\x00", 0, ErrTrailingData},
	{"bom inside a string is text", "\"\xef\xbb\xbfa\"", 0, nil},
	{"bom after the value", "{}\xef\xbb\xbf", 0, ErrTrailingData},
}

func nest(depth int, inner string) string {
	return strings.Repeat("[", depth) + inner + strings.Repeat("]", depth)
}

// manyKeys returns an object with n distinct keys "k0".."k<n-1>" and, if
// dup, a last key that is "k100" spelt with escapes.
func manyKeys(n int, dup bool) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":1`)
	}
	if dup {
		b.WriteString(`,"k1\u0030\u0030":2`)
	}
	b.WriteByte('}')
	return b.String()
}

func TestRead(t *testing.T) {
	var r Reader
	for _, tc := range readCases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := r.Read([]byte(tc.body), tc.maxDepth)
			if err != tc.want {
				t.Fatalf("Read(%.80q) = %v; want %v", tc.body, err, tc.want)
			}
			if (v == nil) != (err != nil) {
				t.Fatalf("Read(%.80q) returned value %v with error %v", tc.body, v, err)
			}
		})
	}
}

// TestReadValue checks that what Read returns is the document, unescaped.
func TestReadValue(t *testing.T) {
	var r Reader
	body := []byte(`{"\u006eame":"caf\u00e9 \ud83d\ude00","n":[1,2.5],"o":{"k":null}}`)
	v, err := r.Read(body, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(v.GetStringBytes("name")); got != "café 😀" {
		t.Errorf("name = %q", got)
	}
	if got := v.GetFloat64("n", "1"); got != 2.5 {
		t.Errorf("n[1] = %v", got)
	}
	if v.Get("o", "k").Type() != fastjson.TypeNull {
		t.Errorf("o.k is not null")
	}
	// The body is copied: clobbering it leaves the value intact.
	for i := range body {
		body[i] = ' '
	}
	if got := string(v.GetStringBytes("name")); got != "café 😀" {
		t.Errorf("after reuse of the body, name = %q", got)
	}
}

func TestErrors(t *testing.T) {
	for _, e := range []*Error{ErrMalformed, ErrTrailingData, ErrDuplicateKey, ErrTooDeep, ErrInvalidUTF8} {
		if !strings.HasPrefix(e.Error(), "read json body: "+e.Code()+": ") {
			t.Errorf("%q does not read \"read json body: %s: ...\"", e.Error(), e.Code())
		}
		if !strings.HasPrefix(e.Code(), "json_") {
			t.Errorf("code %q", e.Code())
		}
		var target *Error
		if !errors.As(error(e), &target) || target != e {
			t.Errorf("errors.As(%v) failed", e)
		}
	}
}

// TestDeepIsFast reads documents far deeper than any limit: the refusal
// must come from the linear scan, before fastjson recurses.
func TestDeepIsFast(t *testing.T) {
	var r Reader
	for _, body := range []string{
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
		strings.Repeat("[", 1<<20),
	} {
		start := time.Now()
		if _, err := r.Read([]byte(body), 0); err != ErrTooDeep {
			t.Errorf("Read(%d bytes deep) = %v; want ErrTooDeep", len(body), err)
		}
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("Read(%d bytes deep) took %v", len(body), d)
		}
	}
}

// TestReaderReuse checks that a Reader is unaffected by what it read before.
func TestReaderReuse(t *testing.T) {
	var r Reader
	for range 3 {
		for _, tc := range readCases {
			if _, err := r.Read([]byte(tc.body), tc.maxDepth); err != tc.want {
				t.Fatalf("%s: Read after reuse = %v; want %v", tc.name, err, tc.want)
			}
		}
	}
}

func TestPool(t *testing.T) {
	var p Pool
	r := p.Get()
	if _, err := r.Read([]byte(`{"a":1}`), 0); err != nil {
		t.Fatal(err)
	}
	p.Put(r)
	if r := p.Get(); r == nil {
		t.Fatal("Get returned nil")
	}
}
