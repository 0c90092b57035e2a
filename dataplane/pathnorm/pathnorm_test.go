package pathnorm

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var normalizeCases = []struct {
	name string
	raw  string
	want string // expected output when err is nil
	err  error
}{
	// Ordinary paths pass through unchanged.
	{name: "root", raw: "/", want: "/"},
	{name: "simple", raw: "/api/v1/users", want: "/api/v1/users"},
	{name: "trailing slash kept", raw: "/a/b/", want: "/a/b/"},
	{name: "sub-delims and colon at", raw: "/a:b@c!$&'()*+,=", want: "/a:b@c!$&'()*+,="},
	{name: "unreserved punctuation", raw: "/a-b_c~d.e", want: "/a-b_c~d.e"},
	{name: "tolerated unwise chars", raw: "/{id}|[x]^`", want: "/{id}|[x]^`"},
	{name: "three dots end in a dot", raw: "/.../a", err: ErrAmbiguous},
	{name: "dot prefix is a name", raw: "/.well-known/x", want: "/.well-known/x"},
	{name: "dots inside a name", raw: "/a..b/c.d", want: "/a..b/c.d"},
	{name: "version segment", raw: "/v1.2/items", want: "/v1.2/items"},
	{name: "space inside a name", raw: "/a%20b/c", want: "/a%20b/c"},

	// Slash collapsing.
	{name: "double leading slash", raw: "//admin", want: "/admin"},
	{name: "many slashes", raw: "////a///b////", want: "/a/b/"},
	{name: "only slashes", raw: "////", want: "/"},

	// Dot segments (RFC 3986 §5.2.4).
	{name: "dot", raw: "/./admin", want: "/admin"},
	{name: "dot dot", raw: "/api/../admin", want: "/admin"},
	{name: "dot dot above root clamps", raw: "/../../admin", want: "/admin"},
	{name: "lone dot dot", raw: "/..", want: "/"},
	{name: "lone dot", raw: "/.", want: "/"},
	{name: "trailing dot keeps slash", raw: "/a/b/.", want: "/a/b/"},
	{name: "trailing dot dot keeps slash", raw: "/a/b/..", want: "/a/"},
	{name: "dot dot to root", raw: "/a/..", want: "/"},
	{name: "dot dot slash", raw: "/a/../", want: "/"},
	{name: "dot slash", raw: "/a/./", want: "/a/"},
	{name: "mixed dots and slashes", raw: "/a//./b/../c/./d/..//e", want: "/a/c/e"},
	{name: "dot dot pops one", raw: "/a/b/c/../../d", want: "/a/d"},
	{name: "dot dot past collapsed", raw: "/a//..//b", want: "/b"},
	{name: "RFC example", raw: "/a/b/c/./../../g", want: "/a/g"},
	{name: "RFC example mid", raw: "/mid/content=5/../6", want: "/mid/6"},

	// Percent-encoding: unreserved decoded once, others upper-cased.
	{name: "encoded letter", raw: "/%61dmin", want: "/admin"},
	{name: "encoded upper letter", raw: "/%41DMIN", want: "/ADMIN"},
	{name: "encoded digit tilde dash", raw: "/%31%7e%2d%5f", want: "/1~-_"},
	{name: "encoded dot inside name", raw: "/a%2eb/%2E%2E%2Ex", want: "/a.b/...x"},
	{name: "encoded dot in extension", raw: "/file%2ejson", want: "/file.json"},
	{name: "reserved stays encoded", raw: "/a%3ab", want: "/a%3Ab"},
	{name: "space stays encoded", raw: "/a%20b", want: "/a%20b"},
	{name: "percent stays encoded", raw: "/100%25", want: "/100%25"},
	{name: "percent before non-hex", raw: "/100%25off/x", want: "/100%25off/x"},
	{name: "percent before one hex digit", raw: "/a%25b", want: "/a%25b"},
	{name: "percent before slash", raw: "/a%25/2e", want: "/a%25/2e"},
	{name: "utf8 uppercased", raw: "/caf%c3%a9", want: "/caf%C3%A9"},
	{name: "question mark encoded", raw: "/a%3fb", want: "/a%3Fb"},
	{name: "encoded dot dot before encoded semicolon", raw: "/..%3b/admin", err: ErrAmbiguous},
	{name: "control encoded", raw: "/a%0d%0a", err: ErrAmbiguous},
	{name: "encoded tab inside", raw: "/a%09b", err: ErrAmbiguous},
	{name: "encoded delete", raw: "/a%7fb", err: ErrAmbiguous},
	{name: "utf8 3 bytes", raw: "/%e2%82%ac", want: "/%E2%82%AC"},
	{name: "utf8 4 bytes", raw: "/%f0%9f%98%80/x", want: "/%F0%9F%98%80/x"},
	{name: "overlong 3 byte dot", raw: "/v1/admin%e0%80%ae/y", err: ErrAmbiguous},
	{name: "stray continuation byte", raw: "/a%80b", err: ErrAmbiguous},
	{name: "truncated sequence", raw: "/a%e2%82", err: ErrAmbiguous},
	{name: "sequence split by slash", raw: "/a%e2/%82%ac", err: ErrAmbiguous},
	{name: "invalid lead", raw: "/a%ff", err: ErrAmbiguous},
	{name: "surrogate", raw: "/a%ed%a0%80", err: ErrAmbiguous},
	{name: "fullwidth full stop", raw: "/v1/admin%ef%bc%8e/y", err: ErrAmbiguous},
	{name: "fullwidth solidus", raw: "/v1%ef%bc%8fadmin/y", err: ErrAmbiguous},
	{name: "fullwidth reverse solidus", raw: "/v1%ef%bc%bcadmin/y", err: ErrAmbiguous},

	// Ambiguous: rejected, never rewritten.
	{name: "encoded dot dot", raw: "/api/%2e%2e/admin", err: ErrAmbiguous},
	{name: "encoded dot dot upper", raw: "/api/%2E%2E/admin", err: ErrAmbiguous},
	{name: "half encoded dot dot", raw: "/api/.%2E/admin", err: ErrAmbiguous},
	{name: "half encoded dot dot first", raw: "/api/%2e./admin", err: ErrAmbiguous},
	{name: "encoded dot", raw: "/%2e/admin", err: ErrAmbiguous},
	{name: "encoded dot trailing", raw: "/admin/%2e", err: ErrAmbiguous},
	{name: "encoded slash", raw: "/api%2Fadmin", err: ErrAmbiguous},
	{name: "encoded slash lower", raw: "/api%2fadmin", err: ErrAmbiguous},
	{name: "encoded backslash", raw: "/api%5c..%5cadmin", err: ErrAmbiguous},
	{name: "literal backslash", raw: "/api\\..\\admin", err: ErrAmbiguous},
	{name: "literal nul", raw: "/admin\x00.json", err: ErrAmbiguous},
	{name: "encoded nul", raw: "/admin%00.json", err: ErrAmbiguous},
	{name: "overlong dot", raw: "/%c0%ae%c0%ae/admin", err: ErrAmbiguous},
	{name: "overlong slash", raw: "/a%c0%afb", err: ErrAmbiguous},
	{name: "tomcat dot dot param", raw: "/api/..;/admin", err: ErrAmbiguous},
	{name: "tomcat dot param", raw: "/api/.;x/admin", err: ErrAmbiguous},
	{name: "tomcat empty param", raw: "/;x/admin", err: ErrAmbiguous},
	{name: "tomcat bare semicolon", raw: "/a/;/b", err: ErrAmbiguous},
	{name: "encoded dot dot param", raw: "/%2e%2e;/admin", err: ErrAmbiguous},

	// Double encoding: a second decoding would change the path.
	{name: "double encoded dot dot", raw: "/open/%252e%252e/private/y", err: ErrAmbiguous},
	{name: "double encoded dot dot upper", raw: "/open/%252E%252E/private/y", err: ErrAmbiguous},
	{name: "double encoded slash", raw: "/open/..%252fprivate/y", err: ErrAmbiguous},
	{name: "double encoded slash upper", raw: "/a%252Fb", err: ErrAmbiguous},
	{name: "double encoded letter", raw: "/v1/%2561dmin/y", err: ErrAmbiguous},
	{name: "triple encoded", raw: "/v1/%252561dmin", err: ErrAmbiguous},
	{name: "nested hex digits", raw: "/v1/%25%36%31dmin", err: ErrAmbiguous},
	{name: "nested one hex digit", raw: "/v1/%25%361dmin", err: ErrAmbiguous},
	{name: "lower case percent 25", raw: "/x/%25%32%66", err: ErrAmbiguous},
	{name: "iis unicode double encoded", raw: "/x/%25u002e%25u002e/admin", err: ErrAmbiguous},
	{name: "double percent", raw: "/x/%25%2541", err: ErrAmbiguous},
	{name: "double encoded in last segment", raw: "/x/a%2500", err: ErrAmbiguous},

	// Path parameters: servlet containers cut them from each segment.
	{name: "parameter on a name", raw: "/a;jsessionid=1/b", err: ErrAmbiguous},
	{name: "parameter in last segment", raw: "/v1/admin;a=b", err: ErrAmbiguous},
	{name: "semicolon in name", raw: "/a;b;c", err: ErrAmbiguous},
	{name: "encoded semicolon", raw: "/v1/admin%3ba=b/y", err: ErrAmbiguous},
	{name: "encoded semicolon upper", raw: "/v1/admin%3Ba=b/y", err: ErrAmbiguous},

	// Trailing dots and spaces: Windows and IIS trim them.
	{name: "trailing dot", raw: "/v1/admin./y", err: ErrAmbiguous},
	{name: "trailing dots", raw: "/v1/admin../y", err: ErrAmbiguous},
	{name: "trailing encoded dot", raw: "/v1/admin%2e/y", err: ErrAmbiguous},
	{name: "trailing dot last segment", raw: "/v1/admin.", err: ErrAmbiguous},
	{name: "trailing dot before slash", raw: "/v1/admin./", err: ErrAmbiguous},
	{name: "trailing encoded space", raw: "/v1/admin%20/y", err: ErrAmbiguous},
	{name: "leading encoded space", raw: "/v1/%20admin/y", err: ErrAmbiguous},
	{name: "percent 25 u without hex", raw: "/open/100%25useful", want: "/open/100%25useful"},

	// Malformed.
	{name: "empty", raw: "", err: ErrInvalid},
	{name: "relative", raw: "admin", err: ErrInvalid},
	{name: "asterisk form", raw: "*", err: ErrInvalid},
	{name: "absolute form", raw: "http://x/admin", err: ErrInvalid},
	{name: "bad hex", raw: "/%zz", err: ErrInvalid},
	{name: "bad second hex", raw: "/%4g", err: ErrInvalid},
	{name: "truncated percent", raw: "/%4", err: ErrInvalid},
	{name: "lone percent", raw: "/%", err: ErrInvalid},
	{name: "percent then slash", raw: "/%/a", err: ErrInvalid},
	{name: "iis unicode", raw: "/%u002e%u002e/admin", err: ErrInvalid},
	{name: "control char", raw: "/a\tb", err: ErrInvalid},
	{name: "newline", raw: "/a\r\nX-Injected: 1", err: ErrInvalid},
	{name: "delete", raw: "/a\x7f", err: ErrInvalid},
	{name: "raw utf8", raw: "/café", err: ErrInvalid},
	{name: "raw high byte", raw: "/a\xff", err: ErrInvalid},
	{name: "space", raw: "/a b", err: ErrInvalid},
	{name: "quote", raw: "/a\"b", err: ErrInvalid},
	{name: "angle brackets", raw: "/<script>", err: ErrInvalid},
	{name: "fragment", raw: "/admin#x", err: ErrInvalid},
	{name: "query mark", raw: "/admin?x", err: ErrInvalid},
	{name: "error after dots", raw: "/../a/%zz", err: ErrInvalid},
}

func TestNormalize(t *testing.T) {
	for _, tc := range normalizeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(nil, []byte(tc.raw))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Normalize(%q) = %q, %v; want error %v", tc.raw, got, err, tc.err)
				}
				if len(got) != 0 {
					t.Fatalf("Normalize(%q) returned %q with error; want dst unchanged", tc.raw, got)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			}
			again, err := Normalize(nil, got)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("Normalize(%q) = %q, %v; not idempotent", got, again, err)
			}
		})
	}
}

// TestBypassesReachAdmin checks the promise in the package doc: every
// spelling of /admin normalizes to /admin or is rejected.
func TestBypassesReachAdmin(t *testing.T) {
	for _, raw := range []string{
		"/admin", "//admin", "/./admin", "/%61dmin", "/api/../admin", "/%61%64%6d%69%6e",
		"///./../admin", "/x/y/../../admin", "/admin/.", "/admin/x/..",
	} {
		got, err := Normalize(nil, []byte(raw))
		if err != nil || strings.TrimSuffix(string(got), "/") != "/admin" {
			t.Errorf("Normalize(%q) = %q, %v; want /admin", raw, got, err)
		}
	}
}

func TestNormalizeAppends(t *testing.T) {
	dst := []byte("prefix:")
	got, err := Normalize(dst, []byte("/a/../b"))
	if err != nil || string(got) != "prefix:/b" {
		t.Fatalf("Normalize appended %q, %v; want %q", got, err, "prefix:/b")
	}
	// Dot segments never pop into the caller's bytes.
	got, err = Normalize([]byte("/x/y"), []byte("/../../.."))
	if err != nil || string(got) != "/x/y/" {
		t.Fatalf("Normalize appended %q, %v; want %q", got, err, "/x/y/")
	}
	// On error dst comes back unchanged, even after partial output.
	got, err = Normalize([]byte("keep"), []byte("/a/b/%2e%2e"))
	if !errors.Is(err, ErrAmbiguous) || string(got) != "keep" {
		t.Fatalf("Normalize on error = %q, %v; want %q, ErrAmbiguous", got, err, "keep")
	}
}

// TestNormalizeLinear guards against quadratic behaviour: the hostile input
// is 200x longer than the small one, so a quadratic algorithm would take
// ~40000x as long. Comparing against a 2000x budget keeps the test stable on
// a loaded machine while still catching that.
func TestNormalizeLinear(t *testing.T) {
	hostile := []byte(strings.Repeat("/a", 10000) + strings.Repeat("/..", 10000) + strings.Repeat("/../../..", 10000))
	got, err := Normalize(nil, hostile)
	if err != nil || string(got) != "/" {
		t.Fatalf("Normalize(hostile) = %.20q, %v; want /", got, err)
	}
	small := hostile[:len(hostile)/200]
	dst := make([]byte, 0, len(hostile))
	perOp := func(in []byte, n int) time.Duration {
		start := time.Now()
		for range n {
			dst, _ = Normalize(dst[:0], in)
		}
		return time.Since(start) / time.Duration(n)
	}
	perOp(small, 100) // warm up
	smallNs, bigNs := perOp(small, 2000), perOp(hostile, 10)
	if smallNs > 0 && bigNs > 2000*smallNs {
		t.Fatalf("hostile path took %v, small %v: worse than linear", bigNs, smallNs)
	}
}

func TestNormalizeKeepEncodedSlash(t *testing.T) {
	cases := []struct {
		name, in, want string
		err            error
	}{
		{"encoded slash kept", "/repos/a%2fb/issues", "/repos/a%2Fb/issues", nil},
		{"double encoding kept", "/x/%252e%252e/y", "/x/%252e%252e/y", nil},
		{"parameters still ambiguous", "/x;a=b/y", "", ErrAmbiguous},
		{"encoded control still ambiguous", "/x%0a", "", ErrAmbiguous},
		{"encoded semicolon kept", "/x%3bb/y", "/x%3Bb/y", nil},
		{"trailing dot kept", "/x./y", "/x./y", nil},
		{"dot dot parameter still ambiguous", "/a/..;/b", "", ErrAmbiguous},
		{"encoded backslash kept", "/x/%5C/y", "/x/%5C/y", nil},
		{"unreserved still decoded", "/%61%2F", "/a%2F", nil},
		{"dot segments still removed", "/a/./b/../c%2Fd", "/a/c%2Fd", nil},
		{"encoded dot segment still ambiguous", "/a/%2e%2e/b", "", ErrAmbiguous},
		{"NUL still ambiguous", "/a%00", "", ErrAmbiguous},
		{"literal backslash still ambiguous", "/a\\b", "", ErrAmbiguous},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeKeepEncodedSlash(nil, []byte(tc.in))
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if err == nil {
				again, _ := NormalizeKeepEncodedSlash(nil, got)
				if string(again) != string(got) {
					t.Fatalf("not a fixed point: %q -> %q", got, again)
				}
			}
		})
	}
}

func TestCutParams(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/v1/admin;a=b/y", "/v1/admin/y"},
		{"/v1/admin;a=b", "/v1/admin"},
		{"/a;x;y/b;z/", "/a/b/"},
		{"/plain/path", "/plain/path"},
		{"/", "/"},
	} {
		if got := CutParams(nil, []byte(tc.in)); string(got) != tc.want {
			t.Errorf("CutParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParamsMode: with AllowParams, parameters on names pass, and the
// parameter forms servlet containers resolve as dot or empty segments stay
// ambiguous.
func TestParamsMode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"/v1/admin;a=b/y", "/v1/admin;a=b/y", nil},
		{"/v1/..;/admin", "", ErrAmbiguous},
		{"/v1/.;x/admin", "", ErrAmbiguous},
		{"/v1/;x/admin", "", ErrAmbiguous},
		{"/v1/admin.;x/y", "", ErrAmbiguous},
		{"/v1/admin%3bx/y", "", ErrAmbiguous},
	} {
		got, err := NormalizeMode(nil, []byte(tc.in), AllowParams)
		if err != tc.err || (err == nil && string(got) != tc.want) {
			t.Errorf("NormalizeMode(%q, AllowParams) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
