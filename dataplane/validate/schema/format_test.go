package schema

import (
	"strings"
	"testing"
)

// formatCases add to the suite's optional/format files the forms an API
// meets in practice and the edges of each grammar.
var formatCases = map[string]struct{ valid, invalid []string }{
	"email": {
		valid:   []string{"a@b", "first.last+tag@sub.example.co.uk", `"quoted\"esc"@example.com`, "x@[IPv6:2001:db8::1]", "o'neil@example.com"},
		invalid: []string{"", "a", "a@", "@b", "a@b@c", "a..b@c", "a@-b.com", "a@b_c.com", "a@[300.1.1.1]", "a@[IPv6:zz]", `"unterminated@example.com`, "a b@c", strings.Repeat("a", 65) + "@b.com"},
	},
	"uuid": {
		valid:   []string{"00000000-0000-0000-0000-000000000000", "FFFFFFFF-ffff-FfFf-0000-123456789abc"},
		invalid: []string{"", "{2eb8aa08-aa98-11ea-b4aa-73b441d16380}", "2eb8aa08-aa98-11ea-b4aa-73b441d1638g"},
	},
	"date": {
		valid:   []string{"2000-02-29", "1900-02-28", "9999-12-31", "0000-01-01"},
		invalid: []string{"1900-02-29", "2021-04-31", "2021-1-01", "2021-01-01T00:00:00Z", "2021/01/01"},
	},
	"time": {
		valid:   []string{"00:00:00Z", "23:59:59.999999999+14:00", "00:59:60+01:00"},
		invalid: []string{"00:00:00", "24:00:00Z", "00:00:00+24:00", "00:00:00.Z", "12:00:00+0100", "12:00Z", "00:00:60Z"},
	},
	"date-time": {
		valid:   []string{"2026-03-14T09:26:53.589Z", "2016-12-31T23:59:60Z", "2026-03-14t09:26:53+05:30"},
		invalid: []string{"2026-03-14 09:26:53Z", "2026-03-14T09:26:53", "2026-03-14T", "2026-02-30T00:00:00Z"},
	},
	"ipv4": {
		valid:   []string{"0.0.0.0", "255.255.255.255", "10.0.0.1"},
		invalid: []string{"1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1234.1.1.1"},
	},
	"ipv6": {
		valid:   []string{"::", "::1", "1::", "2001:db8::8a2e:370:7334", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "::1.2.3.4", "FFFF::ffff"},
		invalid: []string{"", ":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "1:2:3:4:5:6:7:8::", "::1.2.3", "1:2:3:4:5:6:1.2.3.4:5", "g::", "12345::", "::1%eth0"},
	},
	"hostname": {
		valid:   []string{"localhost", "a", "a-b.c-d.example", "123.example", "xn--bcher-kva.example", strings.Repeat("a", 63) + ".com"},
		invalid: []string{"", "a..b", "-a.com", "a-.com", "a_b.com", "a.com.", strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 127) + "ab", "xn--", "xn--bcher-kva!", "bücher.example"},
	},
	"uri": {
		valid:   []string{"a:", "urn:isbn:0451450523", "https://user:pa%20ss@[::1]:8080/p/a/t/h?q=1&r%5B%5D=2#frag/?", "http://[v1.fe80::a+en1]/", "file:///etc/hosts", "http://example.com:/"},
		invalid: []string{"", ":", "1a:b", "http://ex ample.com", "http://[::1", "http://[::1]x/", "http://a/%zz", "http://a/b#c#d", "http://a/\u00e9", "//host/path"},
	},
}

func TestFormats(t *testing.T) {
	for name, tc := range formatCases {
		f := formats[name]
		if f == nil {
			t.Fatalf("no format %q", name)
		}
		for _, s := range tc.valid {
			if !f([]byte(s)) {
				t.Errorf("%s: %q refused", name, s)
			}
		}
		for _, s := range tc.invalid {
			if f([]byte(s)) {
				t.Errorf("%s: %q accepted", name, s)
			}
		}
	}
	for name := range formats {
		if _, ok := formatCases[name]; !ok {
			t.Errorf("format %q has no table", name)
		}
	}
}

func TestDecodePunycode(t *testing.T) {
	for in, want := range map[string]string{
		"bcher-kva":   "bücher",
		"9n2bp8q":     "실례",
		"mnchen-3ya":  "münchen",
		"ll-0ea":      "l·l",
		"wgv71a119e":  "日本語",
		"abc-":        "abc",
		"-> $1.00 <-": "-> $1.00 <", // RFC 3492 sample S: all basic
		"a-b!":        "",           // not a base-36 digit: fails
	} {
		var out [63]rune
		n, ok := decodePunycode([]byte(in), out[:])
		if want == "" {
			if ok {
				t.Errorf("decodePunycode(%q) = %q; want failure", in, string(out[:n]))
			}
			continue
		}
		if !ok || string(out[:n]) != want {
			t.Errorf("decodePunycode(%q) = %q, %v; want %q", in, string(out[:n]), ok, want)
		}
	}
}

func BenchmarkFormats(b *testing.B) {
	for name, tc := range formatCases {
		f := formats[name]
		s := []byte(tc.valid[len(tc.valid)-1])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f(s)
			}
		})
	}
}
