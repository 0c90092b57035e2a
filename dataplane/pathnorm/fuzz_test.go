package pathnorm

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalize checks the properties promised in the package doc and
// compares every result with refNormalize, a slow but obviously-correct
// version built from strings.Split.
func FuzzNormalize(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Normalize([]byte("x"), []byte(raw))
		want, wantErr := refNormalize(raw, 0)
		if !errors.Is(err, wantErr) && (err != nil || wantErr != nil) {
			t.Fatalf("Normalize(%q) error = %v; reference says %v", raw, err, wantErr)
		}
		if got[0] != 'x' {
			t.Fatalf("Normalize(%q) overwrote dst: %q", raw, got)
		}
		got = got[1:]
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("Normalize(%q) = %q with error %v; want dst unchanged", raw, got, err)
			}
			return
		}
		out := string(got)
		if out != want {
			t.Fatalf("Normalize(%q) = %q; reference says %q", raw, out, want)
		}
		switch {
		case !strings.HasPrefix(out, "/"):
			t.Fatalf("Normalize(%q) = %q: does not start with /", raw, out)
		case strings.Contains(out, "//"):
			t.Fatalf("Normalize(%q) = %q: contains //", raw, out)
		case strings.Contains(out+"/", "/./") || strings.Contains(out+"/", "/../"):
			t.Fatalf("Normalize(%q) = %q: contains a dot segment", raw, out)
		case strings.Contains(strings.ToUpper(out), "%2F"):
			t.Fatalf("Normalize(%q) = %q: contains an encoded slash", raw, out)
		case len(out) > len(raw):
			t.Fatalf("Normalize(%q) = %q: longer than input", raw, out)
		}
		again, err := Normalize(nil, got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("Normalize(%q) = %q, %v; want it unchanged (idempotent)", got, again, err)
		}
	})
}

// FuzzNormalizeKeepEncodedSlash checks the variant that keeps %2F and %5C:
// it agrees with Normalize wherever Normalize succeeds and keeps the same
// structural promises everywhere else.
func FuzzNormalizeKeepEncodedSlash(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizeKeepEncodedSlash(nil, []byte(raw))
		want, wantErr := refNormalize(raw, Legacy)
		if !errors.Is(err, wantErr) && (err != nil || wantErr != nil) {
			t.Fatalf("NormalizeKeepEncodedSlash(%q) error = %v; reference says %v", raw, err, wantErr)
		}
		if err == nil && string(got) != want {
			t.Fatalf("NormalizeKeepEncodedSlash(%q) = %q; reference says %q", raw, got, want)
		}
		if strict, serr := Normalize(nil, []byte(raw)); serr == nil && (err != nil || !bytes.Equal(got, strict)) {
			t.Fatalf("NormalizeKeepEncodedSlash(%q) = %q, %v; Normalize gives %q", raw, got, err, strict)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("NormalizeKeepEncodedSlash(%q) error %v is neither ErrInvalid nor ErrAmbiguous", raw, err)
			}
			return
		}
		out := string(got)
		switch {
		case !strings.HasPrefix(out, "/"), strings.Contains(out, "//"),
			strings.Contains(out+"/", "/./"), strings.Contains(out+"/", "/../"), len(out) > len(raw):
			t.Fatalf("NormalizeKeepEncodedSlash(%q) = %q: breaks a structural promise", raw, out)
		}
		again, err := NormalizeKeepEncodedSlash(nil, got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("NormalizeKeepEncodedSlash(%q) = %q, %v; want it unchanged (idempotent)", got, again, err)
		}
	})
}

// refNormalize is the reference model: split into segments, decode each,
// classify it, then resolve dot segments with a stack; last, decode the
// result once more and refuse it if that decoding left an encoding behind.
func refNormalize(raw string, mode Mode) (string, error) {
	if !strings.HasPrefix(raw, "/") {
		return "", ErrInvalid
	}
	var stack []string
	trailing := false
	// Check every segment for errors before resolving anything, but the
	// first error in input order wins, as in Normalize.
	for _, seg := range strings.Split(raw[1:], "/") {
		dec, encodedDot, err := refDecode(seg, mode)
		if err != nil {
			return "", err
		}
		name, _, hasParams := strings.Cut(dec, ";")
		trailing = false
		switch {
		case dec == "":
			trailing = true
		case name == "." || name == "..":
			if encodedDot || hasParams {
				return "", ErrAmbiguous
			}
			if name == ".." && len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			trailing = true
		case name == "":
			return "", ErrAmbiguous
		case mode&AllowTrailingDot == 0 && (strings.HasSuffix(name, ".") || strings.HasSuffix(name, "%20") || strings.HasPrefix(name, "%20")):
			return "", ErrAmbiguous
		default:
			stack = append(stack, dec)
		}
	}
	out := "/" + strings.Join(stack, "/")
	if trailing && len(stack) > 0 {
		out += "/"
	}
	if mode&AllowDoubleEncoding == 0 && refHasEncoding(refDecodeAll(out)) {
		return "", ErrAmbiguous
	}
	if dec := refDecodeAll(out); !utf8.ValidString(dec) || strings.ContainsAny(dec, "\uff0e\ufe52\u2024\uff0f\u2215\u2044\uff3c\ufe68\u2216") {
		return "", ErrAmbiguous
	}
	return out, nil
}

// refDecodeAll decodes every valid percent-encoding of s once, as a lenient
// upstream would, keeping anything else.
func refDecodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// refHasEncoding reports whether a further decoding (%XX, or IIS's %uXXXX)
// would change s.
func refHasEncoding(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if (s[i+1] == 'u' || s[i+1] == 'U') && i+5 < len(s) && isHexDigit(s[i+2]) && isHexDigit(s[i+3]) && isHexDigit(s[i+4]) && isHexDigit(s[i+5]) ||
			i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			return true
		}
	}
	return false
}

func refDecode(seg string, mode Mode) (out string, encodedDot bool, err error) {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == 0 || c == '\\':
			return "", false, ErrAmbiguous
		case c == ';' && mode&AllowParams == 0:
			return "", false, ErrAmbiguous
		case c < 0x20 || c >= 0x7f || strings.IndexByte(" \"<>#?", c) >= 0:
			return "", false, ErrInvalid
		case c != '%':
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(seg) {
			return "", false, ErrInvalid
		}
		hi := strings.IndexByte(hex, seg[i+1]|0x20)
		lo := strings.IndexByte(hex, seg[i+2]|0x20)
		if hi < 0 || lo < 0 || !isHexDigit(seg[i+1]) || !isHexDigit(seg[i+2]) {
			return "", false, ErrInvalid
		}
		v := byte(hi<<4 | lo)
		switch {
		case v >= 'a' && v <= 'z', v >= 'A' && v <= 'Z', v >= '0' && v <= '9', strings.IndexByte("-._~", v) >= 0:
			b.WriteByte(v)
			encodedDot = encodedDot || v == '.'
		case (v == '/' || v == '\\') && mode&AllowEncodedSlash == 0, v < 0x20 || v == 0x7f || v == 0xc0 || v == 0xc1:
			return "", false, ErrAmbiguous
		case v == ';' && mode&AllowEncodedSemicolon == 0:
			return "", false, ErrAmbiguous
		default:
			b.WriteString(strings.ToUpper(seg[i : i+3]))
		}
		i += 2
	}
	return b.String(), encodedDot, nil
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// FuzzNormalizeMode compares every combination of relaxations with the
// reference, and checks CutParams on paths that kept parameters.
func FuzzNormalizeMode(f *testing.F) {
	for i, tc := range normalizeCases {
		f.Add(tc.raw, uint8(i))
	}
	f.Fuzz(func(t *testing.T, raw string, m uint8) {
		mode := Mode(m) & Legacy
		got, err := NormalizeMode(nil, []byte(raw), mode)
		want, wantErr := refNormalize(raw, mode)
		if !errors.Is(err, wantErr) && (err != nil || wantErr != nil) {
			t.Fatalf("NormalizeMode(%q, %b) error = %v; reference says %v", raw, mode, err, wantErr)
		}
		if err != nil {
			return
		}
		if string(got) != want {
			t.Fatalf("NormalizeMode(%q, %b) = %q; reference says %q", raw, mode, got, want)
		}
		cut := string(CutParams(nil, got))
		var segs []string
		for _, s := range strings.Split(string(got), "/") {
			name, _, _ := strings.Cut(s, ";")
			segs = append(segs, name)
		}
		if want := strings.Join(segs, "/"); cut != want {
			t.Fatalf("CutParams(%q) = %q, want %q", got, cut, want)
		}
		if again, err := NormalizeMode(nil, []byte(cut), mode); err != nil || string(again) != cut {
			t.Fatalf("CutParams(%q) = %q, which normalizes to %q, %v", got, cut, again, err)
		}
	})
}
