package inject

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/headers"
)

// TestBodyCharsets: a body is inspected in every Unicode reading an
// upstream may decode (declared, BOM, NUL pattern) beside its bytes, and
// a charset tier 1 cannot decode marks the result Undecodable on a body
// it inspects. The attacks are ones that pass unseen in the raw bytes.
func TestBodyCharsets(t *testing.T) {
	const sqli = "1' OR '1'='1"
	jsonDoc := `{"id":7,"note":` + jsonString(sqli) + `}`
	part := func(ct, content string) *fasthttp.Request {
		return bodyRequest(`multipart/form-data; boundary=b`, "--b\r\nContent-Disposition: form-data; name=\"note\"\r\n"+
			"Content-Type: "+ct+"\r\n\r\n"+content+"\r\n--b--\r\n")
	}
	big := encodeUTF(utf16LE, true, `{"note":"`+strings.Repeat("a", 3000)+sqli+`"}`)
	tests := []struct {
		name        string
		req         *fasthttp.Request
		opts        Options
		want        Kind
		location    string
		undecodable bool
		truncated   bool
	}{
		// UTF-16 and UTF-32, every way an upstream may be told or guess.
		{"json utf-16le bom", bodyRequest("application/json", encodeUTF(utf16LE, true, jsonDoc)), Options{}, KindSQLi, "json./note", false, false},
		{"json utf-16be bom", bodyRequest("application/json", encodeUTF(utf16BE, true, jsonDoc)), Options{}, KindSQLi, "json./note", false, false},
		{"json utf-16le nul pattern", bodyRequest("application/json", encodeUTF(utf16LE, false, jsonDoc)), Options{}, KindSQLi, "json./note", false, false},
		{"json utf-32be nul pattern", bodyRequest("application/json", encodeUTF(utf32BE, false, jsonDoc)), Options{}, KindSQLi, "json./note", false, false},
		{"json utf-32le bom, declared utf-8", bodyRequest("application/json; charset=utf-8", encodeUTF(utf32LE, true, jsonDoc)), Options{},
			KindSQLi, "json./note", false, false},
		{"json utf-16 declared, BE without BOM", bodyRequest("application/json; charset=utf-16", encodeUTF(utf16BE, false, jsonDoc)), Options{},
			KindSQLi, "json./note", false, false},
		{"declared LE, BOM and text BE", bodyRequest("application/json; charset=utf-16le", encodeUTF(utf16BE, true, jsonDoc)), Options{},
			KindSQLi, "json./note", false, false},
		{"untyped utf-16 json", bodyRequest("", encodeUTF(utf16LE, false, jsonDoc)), Options{}, KindSQLi, "json./note", false, false},
		{"text/plain utf-16le declared, CJK first", bodyRequest("text/plain; charset=utf-16le", encodeUTF(utf16LE, false, "中文 "+sqli)), Options{},
			KindSQLi, "body", false, false},
		{"form utf-16be declared", bodyRequest("application/x-www-form-urlencoded; charset=utf-16be", encodeUTF(utf16BE, false, "a=1&note=1%27+OR+%271%27%3D%271")),
			Options{}, KindSQLi, "form.note", false, false},
		{"xml utf-16 bom", bodyRequest("application/xml", encodeUTF(utf16LE, true, `<a><b>`+sqli+`</b></a>`)), Options{}, KindSQLi, "xml./a/b", false, false},
		{"multipart part utf-16", part("text/plain; charset=UTF-16", encodeUTF(utf16LE, true, sqli)), Options{}, KindSQLi, "form.note", false, false},
		{"multipart part utf-32be", part("text/plain; charset=utf-32be", encodeUTF(utf32BE, false, sqli)), Options{}, KindSQLi, "form.note", false, false},
		{"bytes beside a BOM still read", bodyRequest("text/plain", "\xff\xfe"+sqli+"x"), Options{}, KindSQLi, "body", false, false},
		{"utf-8 bom json", bodyRequest("application/json", "\xef\xbb\xbf"+jsonDoc), Options{}, KindSQLi, "json./note", false, false},
		{"transcoding over MaxBytes", bodyRequest("application/json", big), Options{MaxBytes: 2048}, KindNone, "", false, true},

		// Charsets that cannot be decoded here.
		{"utf-7 form", bodyRequest("application/x-www-form-urlencoded; charset=utf-7", "note=1%2BACc- OR %2BACc-1%2BACcAPQAn-1"), Options{},
			KindNone, "", true, true},
		{"utf-7 json", bodyRequest(`application/json; charset="UTF-7"`, `{"note":"1+ACc- OR +ACc-1+ACcAPQAn-1"}`), Options{}, KindNone, "", true, true},
		{"ebcdic text", bodyRequest("text/plain; charset=IBM037", "\xf1\x7d\x40\xd6\xd9"), Options{}, KindNone, "", true, true},
		{"unknown label", bodyRequest("text/plain; charset=x-unknown", "hello"), Options{}, KindNone, "", true, true},
		{"utf-7 multipart part", part("text/plain; charset=utf-7", "1+ACc- OR +ACc-1+ACcAPQAn-1"), Options{}, KindNone, "", true, true},
		{"utf-7 detection still named", bodyRequest("application/x-www-form-urlencoded; charset=utf-7", "note="+sqli), Options{},
			KindSQLi, "form.note", false, false},
		{"utf-7 on a skipped type", bodyRequest("image/png; charset=utf-7", "\x89PNG"), Options{}, KindNone, "", false, false},
		{"utf-7 without a body", bodyRequest("text/plain; charset=utf-7", ""), Options{}, KindNone, "", false, false},
		{"utf-7 on a compressed body", func() *fasthttp.Request {
			r := bodyRequest("text/plain; charset=utf-7", "\x1f\x8b\x08\x00")
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}(), Options{}, KindNone, "", false, true},

		{"gzip text/plain", func() *fasthttp.Request {
			r := bodyRequest("text/plain", "\x1f\x8b\x08\x00\x00\x00\x00\x00")
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}(), Options{}, KindNone, "", false, true},
		{"gzip, no body source", func() *fasthttp.Request {
			r := bodyRequest("text/plain", "\x1f\x8b\x08\x00\x00\x00\x00\x00")
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}(), Options{Sources: 1 << SourceQuery}, KindNone, "", false, false},

		{"_charset_ field utf-7", bodyRequest("application/x-www-form-urlencoded", "_charset_=utf-7&note=1%2BACc- OR %2BACc-1%2BACcAPQAn-1"), Options{},
			KindNone, "", true, true},
		{"_charset_ field utf-8", bodyRequest("application/x-www-form-urlencoded", "_charset_=UTF-8&note=hello"), Options{}, KindNone, "", false, false},
		{"_charset_ field shift_jis", bodyRequest("application/x-www-form-urlencoded", "_Charset_=shift_jis&note=hello"), Options{}, KindNone, "", false, false},
		{"_charset_ multipart utf-16", bodyRequest(`multipart/form-data; boundary=b`, "--b\r\nContent-Disposition: form-data; name=\"_charset_\"\r\n\r\n"+
			"UTF-16\r\n--b--\r\n"), Options{}, KindNone, "", true, true},

		{"xml declared ebcdic", bodyRequest("application/xml", `<?xml version="1.0" encoding="IBM037"?><a>x</a>`), Options{}, KindNone, "", true, true},
		{"xml declared iso-2022-jp", bodyRequest("application/soap+xml", `<?xml version='1.0' encoding='ISO-2022-JP'?><a>x</a>`), Options{}, KindNone, "", true, true},
		{"xml in ebcdic", bodyRequest("text/xml", "\x4c\x6f\xa7\x94\x93\x40\xa5\x85\x99"), Options{}, KindNone, "", true, true},
		{"xml declared utf-7 is a detection", bodyRequest("application/xml", `<?xml version="1.0" encoding="UTF-7"?><a>+ADw-b+AD4-</a>`), Options{},
			KindXXE, "xml", false, false},
		{"xml declared utf-8", bodyRequest("application/xml", `<?xml version="1.0" encoding="UTF-8"?><a>x</a>`), Options{}, KindNone, "", false, false},
		{"xml declared iso-8859-1", bodyRequest("text/xml", `<?xml version="1.0" encoding="ISO-8859-1"?><a>Andr`+"\xe9"+`</a>`), Options{}, KindNone, "", false, false},
		{"xml declared utf-16, transcoded", bodyRequest("application/xml", encodeUTF(utf16BE, true, `<?xml version="1.0" encoding="UTF-16"?><a>x</a>`)),
			Options{}, KindNone, "", false, false},
		{"xml without declaration", bodyRequest("application/xml", `<a encoding="x-unknown">x</a>`), Options{}, KindNone, "", false, false},

		// Benign: ASCII-compatible charsets are read as bytes, not refused.
		{"latin-1 form", bodyRequest("application/x-www-form-urlencoded; charset=ISO-8859-1", "name=Andr%E9&city=K%F6ln"), Options{}, KindNone, "", false, false},
		{"windows-1252 text", bodyRequest("text/plain; charset=windows-1252", "Caf\xe9 \x93quoted\x94"), Options{}, KindNone, "", false, false},
		{"shift_jis text", bodyRequest("text/plain; charset=Shift_JIS", "\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd"), Options{}, KindNone, "", false, false},
		{"utf-16 benign order", bodyRequest("application/json; charset=utf-16", encodeUTF(utf16LE, true, order1K)), Options{}, KindNone, "", false, false},
		{"utf-16 lone surrogate and odd byte", bodyRequest("application/json", "\xff\xfe{\x00\"\x00a\x00\"\x00:\x00\"\x00\x00\xd8\"\x00}\x00x"), Options{},
			KindNone, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustNew(t, tc.opts)
			var sc Scratch
			r := d.Inspect(&sc, tc.req, nil)
			if r.Kind != tc.want || string(r.Location) != tc.location {
				t.Errorf("%v at %q; want %v at %q", r.Kind, r.Location, tc.want, tc.location)
			}
			if r.Undecodable != tc.undecodable || r.Truncated != tc.truncated {
				t.Errorf("undecodable %v truncated %v; want %v %v", r.Undecodable, r.Truncated, tc.undecodable, tc.truncated)
			}
			if r.Undecodable && !r.Truncated {
				t.Error("Undecodable without Truncated")
			}
		})
	}
}

func TestSniffReadings(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    string
		want readings
	}{
		{"utf-8", `{"a":1}`, 0},
		{"utf-8 bom", "\xef\xbb\xbf{}", 0},
		{"utf-16le bom", "\xff\xfe{\x00", readUTF16LE},
		{"utf-16be bom", "\xfe\xff\x00{", readUTF16BE},
		{"utf-32le bom", "\xff\xfe\x00\x00{\x00\x00\x00", readUTF32LE | readUTF16LE},
		{"utf-32be bom", "\x00\x00\xfe\xff\x00\x00\x00{", readUTF32BE},
		{"utf-16le pattern", "{\x00\"\x00", readUTF16LE},
		{"utf-16be pattern", "\x00{\x00\"", readUTF16BE},
		{"utf-32le pattern", "{\x00\x00\x00", readUTF32LE},
		{"utf-32be pattern", "\x00\x00\x00{", readUTF32BE},
		{"utf-16le two bytes", "1\x00", readUTF16LE},
		{"NULs alone", "\x00\x00\x00\x00", 0},
		{"binary", "\x89PNG\r\n", 0},
		{"one byte", "{", 0},
	} {
		if got := sniffReadings([]byte(tc.b)); got != tc.want {
			t.Errorf("%s: sniffReadings(%q) = %b; want %b", tc.name, tc.b, got, tc.want)
		}
	}
	// A declared "utf-16" reads both byte orders, unless a BOM says which.
	if got := bodyReadings(headers.CharsetUTF16, []byte("a\x00")); got != readUTF16LE|readUTF16BE {
		t.Errorf("utf-16 without BOM: %b", got)
	}
	if got := bodyReadings(headers.CharsetUTF16, []byte("\xfe\xff\x00a")); got != readUTF16BE {
		t.Errorf("utf-16 with a BE BOM: %b", got)
	}
	if got := bodyReadings(headers.CharsetUTF16LE, []byte("\xfe\xff\x00a")); got != readUTF16LE|readUTF16BE {
		t.Errorf("utf-16le with a BE BOM: %b", got)
	}
}

func TestTranscode(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  int
		r    readings
	}{{"utf-16le", utf16LE, readUTF16LE}, {"utf-16be", utf16BE, readUTF16BE}, {"utf-32le", utf32LE, readUTF32LE}, {"utf-32be", utf32BE, readUTF32BE}} {
		for _, s := range []string{"", "a", "<script>", "café €", "😀 emoji", order1K} {
			for _, bom := range []bool{false, true} {
				got, whole := transcode([]byte("x"), []byte(encodeUTF(tc.enc, bom, s)), tc.r, 1<<20)
				if !whole || string(got) != "x"+s {
					t.Errorf("%s bom %v: transcode(%q) = %q, %v", tc.name, bom, s, got, whole)
				}
			}
		}
	}
	for _, tc := range []struct {
		name, in string
		r        readings
		want     string
	}{
		{"lone high surrogate", "\x00\xd8a\x00", readUTF16LE, "\uFFFDa"},
		{"lone low surrogate", "\x00\xdca\x00", readUTF16LE, "\uFFFDa"},
		{"odd byte", "a\x00b", readUTF16LE, "a\uFFFD"},
		{"beyond U+10FFFF", "\x00\x00\x11\x00", readUTF32LE, "\uFFFD"},
		{"negative", "\xff\xff\xff\xff", readUTF32BE, "\uFFFD"},
		{"surrogate in utf-32", "\x00\xd8\x00\x00", readUTF32LE, "\uFFFD"},
		{"BOM inside kept", "a\x00\xff\xfe", readUTF16LE, "a\uFEFF"},
	} {
		got, _ := transcode(nil, []byte(tc.in), tc.r, 1<<20)
		if string(got) != tc.want || !utf8.Valid(got) {
			t.Errorf("%s: transcode(%q) = %q; want %q", tc.name, tc.in, got, tc.want)
		}
	}
	if got, whole := transcode(nil, []byte(encodeUTF(utf16LE, false, strings.Repeat("a", 100))), readUTF16LE, 10); whole || len(got) != 11 {
		t.Errorf("limit 10: %d bytes, whole %v", len(got), whole)
	}
}
