package accesslog

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzEscape checks that appendString always produces one valid JSON
// string with no raw control bytes, which decodes back to the input for
// valid UTF-8 and to the input with each invalid byte replaced by U+FFFD
// otherwise.
func FuzzEscape(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		for _, c := range out {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("raw control byte %#x in %q", c, out)
			}
		}
		if !utf8.Valid(out) {
			t.Fatalf("output is not UTF-8: %q", out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: %v", s, out, err)
		}
		want := string([]rune(s)) // invalid bytes become U+FFFD one by one
		if got != want {
			t.Fatalf("appendString(%q) decodes to %q, want %q", s, got, want)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("valid input %q changed to %q", s, got)
		}
		if b := appendBytes(nil, []byte(s)); !bytes.Equal(b, out) {
			t.Fatalf("appendBytes differs: %s vs %s", b, out)
		}
	})
}
