package blocklist

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

func strs(ps []cidrset.Prefix) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func TestParseEntry(t *testing.T) {
	cases := []struct {
		in, want, reason string
	}{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"203.0.113.7", "203.0.113.7/32", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"255.255.255.255/32", "255.255.255.255/32", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"::ffff:192.0.2.1", "192.0.2.1/32", ""},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{"::/0", "::/0", ""},
		{"10.0.0.1/8", "", "host bits set (did you mean 10.0.0.0/8?)"},
		{"2001:db8::1/32", "", "host bits set (did you mean 2001:db8::/32?)"},
		{"10.0.0.0/33", "", reasonBits},
		{"10.0.0.0/", "", reasonBits},
		{"10.0.0.0/08", "", reasonBits},
		{"2001:db8::/129", "", reasonBits},
		{"010.0.0.1", "", reasonNotCIDR},
		{"10.0.0", "", reasonNotCIDR},
		{"10.0.0.256", "", reasonNotCIDR},
		{"1.2.3.4.5", "", reasonNotCIDR},
		{"example.com", "", reasonNotCIDR},
		{"fe80::1%eth0", "", reasonZone},
		{"1.2.3.4-1.2.3.9", "", reasonNotCIDR},
		{strings.Repeat("1", 100), "", reasonNotCIDR},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			p, reason := parseEntry([]byte(tc.in))
			if reason != tc.reason {
				t.Fatalf("reason = %q, want %q", reason, tc.reason)
			}
			if tc.reason == "" && p.String() != tc.want {
				t.Fatalf("got %s, want %s", p, tc.want)
			}
		})
	}
}

func TestParseText(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
		bad  []LineError
	}{
		{"firehol netset", "#\n# firehol_level1\n#\n# Maintainer: FireHOL\n0.0.0.0/8\n1.10.16.0/20\n223.254.0.0/16\n", []string{"0.0.0.0/8", "1.10.16.0/20", "223.254.0.0/16"}, nil},
		{"spamhaus drop", "; Spamhaus DROP List 2024/01/01\n; Last-Modified: x\n1.10.16.0/20 ; SBL256894\n1.19.0.0/16 ; SBL434604\n", []string{"1.10.16.0/20", "1.19.0.0/16"}, nil},
		{"crlf, tabs, bom, blank lines, no final newline", "\xef\xbb\xbf10.0.0.0/8\r\n\r\n\t192.0.2.1  \r\n2001:db8::/32", []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"}, nil},
		{"duplicates kept for the store to count", "10.0.0.0/8\n10.0.0.0/8\n", []string{"10.0.0.0/8", "10.0.0.0/8"}, nil},
		{"empty", "", []string{}, nil},
		{"comments only", "# nothing\n;\n", []string{}, nil},
		{"bad lines named with numbers", "10.0.0.0/8\nfoo\n10.0.0.1/8\n1.2.3.4 5.6.7.8\n", nil, []LineError{
			{Line: 2, Text: "foo", Reason: reasonNotCIDR},
			{Line: 3, Text: "10.0.0.1/8", Reason: "host bits set (did you mean 10.0.0.0/8?)"},
			{Line: 4, Text: "1.2.3.4 5.6.7.8", Reason: reasonTrailing},
		}},
		{"control characters are not echoed", "1.2.3.4\x00\n", nil, []LineError{{Line: 1, Text: "1.2.3.4?", Reason: reasonNotCIDR}}},
		{"line too long", strings.Repeat("#", 70000) + "\n" + strings.Repeat("x", 70000) + "\n10.0.0.0/8\n", nil, []LineError{{Line: 2, Text: strings.Repeat("x", 80) + "...", Reason: reasonTooLong}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseText(strings.NewReader(tc.in), Limits{})
			if tc.bad != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want a ParseError", err)
				}
				if pe.Total != len(tc.bad) || !slices.Equal(pe.Lines, tc.bad) {
					t.Fatalf("bad lines = %+v (total %d), want %+v", pe.Lines, pe.Total, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strs(l.Entries); !slices.Equal(got, tc.want) {
				t.Fatalf("entries = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseTextReportsEveryBadLine(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 250; i++ {
		b.WriteString("bad\n10.0.0.0/8\n")
	}
	_, err := ParseText(strings.NewReader(b.String()), Limits{})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Total != 250 || len(pe.Lines) != maxReported || pe.Lines[99].Line != 199 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "250 bad lines; line 1: \"bad\": not an IP address or CIDR") || !strings.Contains(err.Error(), "and 240 more") {
		t.Errorf("message: %v", err)
	}
}

func TestParseLimits(t *testing.T) {
	for _, f := range []Format{FormatText, FormatJSON} {
		t.Run(f.String(), func(t *testing.T) {
			in := "10.0.0.0/8\n10.1.0.0/16\n10.2.0.0/16\n"
			if f == FormatJSON {
				in = `["10.0.0.0/8",` + "\n" + `"10.1.0.0/16",` + "\n" + `"10.2.0.0/16"]`
			}
			_, err := Parse(strings.NewReader(in), f, Limits{MaxEntries: 2})
			if !errors.Is(err, ErrTooManyEntries) || !strings.Contains(err.Error(), "line 3") {
				t.Fatalf("err = %v, want ErrTooManyEntries at line 3", err)
			}
			if _, err := Parse(strings.NewReader(in), f, Limits{MaxEntries: 3}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	cases := []struct {
		name        string
		in          string
		want        []string
		version     uint64
		hasVersion  bool
		wantErr     string
		wantBadLine int
	}{
		{"array", `["10.0.0.0/8", "2001:db8::/32"]`, []string{"10.0.0.0/8", "2001:db8::/32"}, 0, false, "", 0},
		{"object", "{\"version\": 42,\n \"entries\": [\"192.0.2.0/24\"]}", []string{"192.0.2.0/24"}, 42, true, "", 0},
		{"keys in any order", `{"entries": [], "version": 18446744073709551615}`, []string{}, 18446744073709551615, true, "", 0},
		{"escapes", `["\u0031\u0030.0.0.0\/8"]`, []string{"10.0.0.0/8"}, 0, false, "", 0},
		{"empty object", `{}`, []string{}, 0, false, "", 0},
		{"byte order mark", "\xef\xbb\xbf{\"version\": 7, \"entries\": [\"10.0.0.0/8\"]}", []string{"10.0.0.0/8"}, 7, true, "", 0},
		{"byte order mark inside", "[\xef\xbb\xbf\"10.0.0.0/8\"]", nil, 0, false, "must be a string", 0},
		{"bad entry by line and index", "[\"10.0.0.0/8\",\n\"nope\"]", nil, 0, false, "entries[1]: not an IP", 2},
		{"number in array", `[1]`, nil, 0, false, "entries[0]: must be a string", 0},
		{"unknown key", `{"entry": []}`, nil, 0, false, `unknown key "entry"`, 0},
		{"duplicate key", `{"version": 1, "version": 2}`, nil, 0, false, "duplicate key", 0},
		{"negative version", `{"version": -1}`, nil, 0, false, "version must be an integer", 0},
		{"fractional version", `{"version": 1.5}`, nil, 0, false, "version must be an integer", 0},
		{"leading zero version", `{"version": 01}`, nil, 0, false, "version must be an integer", 0},
		{"version overflow", `{"version": 18446744073709551616}`, nil, 0, false, "version must be an integer", 0},
		{"version as a string", `{"version": "602"}`, nil, 0, false, `found a value starting '"'`, 0},
		{"version null", `{"version": null}`, nil, 0, false, "found a value starting 'n'", 0},
		{"trailing data", `[] []`, nil, 0, false, "after the document", 0},
		{"trailing comma", `["10.0.0.0/8",]`, nil, 0, false, "must be a string", 0},
		{"truncated", `["10.0.0.0/8"`, nil, 0, false, "unexpected end of input", 0},
		{"truncated string", `["10.0.`, nil, 0, false, "unexpected end of input", 0},
		{"not a list", `"10.0.0.0/8"`, nil, 0, false, "JSON array of strings", 0},
		{"raw newline in string", "[\"10.0.0.0/8\n\"]", nil, 0, false, "control character", 0},
		{"bad escape", `["\x"]`, nil, 0, false, "bad escape", 0},
		{"long string", `["` + strings.Repeat("1", 2000) + `"]`, nil, 0, false, "longer than", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(strings.NewReader(tc.in), FormatJSON, Limits{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				var pe *ParseError
				if tc.wantBadLine != 0 && (!errors.As(err, &pe) || pe.Lines[0].Line != tc.wantBadLine) {
					t.Fatalf("err = %#v, want bad line %d", err, tc.wantBadLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strs(l.Entries); !slices.Equal(got, tc.want) || l.Version != tc.version || l.HasVersion != tc.hasVersion {
				t.Fatalf("got %v version %d/%v, want %v version %d/%v", got, l.Version, l.HasVersion, tc.want, tc.version, tc.hasVersion)
			}
		})
	}
}

func TestParseDelta(t *testing.T) {
	d, err := ParseDelta(strings.NewReader(`{"add": ["10.0.0.0/8", "10.1.0.0/16"], "remove": ["2001:db8::/32"], "version": 7}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strs(d.Add); !slices.Equal(got, []string{"10.0.0.0/8", "10.1.0.0/16"}) || !slices.Equal(strs(d.Remove), []string{"2001:db8::/32"}) || d.Version != 7 || !d.HasVersion {
		t.Fatalf("delta = %+v", d)
	}
	for _, in := range []string{`{"add": ["x"]}`, `{"entries": []}`, `[]`, `{"add": ["10.0.0.0/8"], "remove": ["10.0.0.0/8"], "add": []}`} {
		if _, err := ParseDelta(strings.NewReader(in), Limits{}); err == nil {
			t.Errorf("accepted %s", in)
		}
	}
	_, err = ParseDelta(strings.NewReader(`{"add": ["10.0.0.0/8", "10.1.0.0/16"], "remove": ["2001:db8::/32"]}`), Limits{MaxEntries: 2})
	if !errors.Is(err, ErrTooManyEntries) {
		t.Errorf("add and remove together count against the limit: %v", err)
	}
}

// FuzzParseEntry checks the allocation-free IPv4 path against net/netip.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "1.2.3.4", "01.2.3.4", "1.2.3.4/032", "255.255.255.255/32", "1.2.3.4/", "2001:db8::/32", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, reason := parseEntry([]byte(s))
		slow, slowReason := parseSlow([]byte(s))
		if (reason == "") != (slowReason == "") || (reason == "" && p != slow) {
			t.Fatalf("%q: fast path %v %q, netip %v %q", s, p, reason, slow, slowReason)
		}
		if reason != "" {
			return
		}
		// Accepted entries are canonical prefixes that round-trip.
		np := p.Netip()
		if !np.IsValid() || np.Masked() != np {
			t.Fatalf("%q: accepted %v, not a masked prefix", s, np)
		}
		back, reason := parseEntry([]byte(np.String()))
		if reason != "" || back != p {
			t.Fatalf("%q: %v does not round-trip: %v %q", s, np, back, reason)
		}
	})
}

// FuzzParseText checks that the text parser never panics, and that what it
// accepts is exactly the entries of the non-comment lines.
func FuzzParseText(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseText(strings.NewReader(string(data)), Limits{MaxEntries: 1000})
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && (pe.Total == 0 || len(pe.Lines) == 0 || pe.Lines[0].Line < 1) {
				t.Fatalf("ParseError without lines: %#v", pe)
			}
			return
		}
		n := 0
		for _, line := range strings.Split(strings.TrimPrefix(string(data), "\xef\xbb\xbf"), "\n") {
			if i := strings.IndexAny(line, "#;"); i >= 0 {
				line = line[:i]
			}
			line = strings.Trim(line, " \t\r\n\v\f")
			if line == "" {
				continue
			}
			p, err := netip.ParsePrefix(line)
			if err != nil {
				a, err2 := netip.ParseAddr(line)
				if err2 != nil {
					t.Fatalf("accepted line %q that netip rejects", line)
				}
				a = a.Unmap()
				p = netip.PrefixFrom(a, a.BitLen())
			}
			want, _ := cidrset.PrefixFrom(p)
			if n >= len(l.Entries) || l.Entries[n] != want {
				t.Fatalf("entry %d: got %v, want %v from %q", n, l.Entries, want, line)
			}
			n++
		}
		if n != len(l.Entries) {
			t.Fatalf("%d entries from %d lines", len(l.Entries), n)
		}
	})
}

// FuzzParseJSON checks the streaming JSON reader against encoding/json:
// whatever it accepts must be valid JSON holding the same entries.
func FuzzParseJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(strings.NewReader(string(data)), FormatJSON, Limits{MaxEntries: 1000})
		if err != nil {
			return
		}
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("accepted invalid JSON %q: %v", data, err)
		}
		var raw []any
		switch d := doc.(type) {
		case []any:
			raw = d
		case map[string]any:
			raw, _ = d["entries"].([]any)
			if v, ok := d["version"]; ok != l.HasVersion || (ok && v.(float64) != float64(l.Version)) {
				t.Fatalf("version %v, encoding/json %v", l.Version, v)
			}
		default:
			t.Fatalf("accepted %T", doc)
		}
		if len(raw) != len(l.Entries) {
			t.Fatalf("%d entries, encoding/json %d", len(l.Entries), len(raw))
		}
		for i, e := range raw {
			want, reason := parseEntry([]byte(e.(string)))
			if reason != "" || want != l.Entries[i] {
				t.Fatalf("entry %d: %v, encoding/json %q", i, l.Entries[i], e)
			}
		}
	})
}

// FuzzParseDelta checks the delta reader never panics and accepts only
// valid JSON.
func FuzzParseDelta(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseDelta(strings.NewReader(string(data)), Limits{MaxEntries: 1000}); err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
	})
}

func BenchmarkParseEntry(b *testing.B) {
	for _, s := range []string{"203.0.113.0/24", "2001:db8:1234::/48"} {
		b.Run(s, func(b *testing.B) {
			in := []byte(s)
			b.ReportAllocs()
			for b.Loop() {
				parseEntry(in)
			}
		})
	}
}
