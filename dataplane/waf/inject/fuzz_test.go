package inject

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// FuzzInspect parses raw request bytes with fasthttp and inspects them: no
// panic, a well-formed location, counters within the limits, and the same
// answer from a pre-parsed JSON body as from the raw one.
func FuzzInspect(f *testing.F) {
	f.Add("GET /a/b?q=1&x=%27%20or%201=1-- HTTP/1.1\r\nHost: x\r\nUser-Agent: <script>\r\nCookie: a=b; c=d\r\n\r\n")
	f.Add("POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"a\":[{\"b\":\"c\"}],\"d~/\":1}")
	f.Add("POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\na=1&b=x%3Cy")
	f.Add("POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 60\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\n")
	f.Add("POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 50\r\n\r\n--b\nContent-Disposition: form-data; name=\"../../etc/passwd\"\n\nv\n--b--\n")
	f.Add("POST /s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 96\r\n\r\n<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM \"f\">]><a b=\"&lt;c\"><![CDATA[d]]><!--e--></a>")
	f.Add("POST /t HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\n<b>x</b> ${a}")
	f.Add("GET /?q=%253Csvg%2520onload%253Dalert(1)%253E&r=%26lt%3Bscript%26gt%3B HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\r\n")
	f.Add("GET /a/1+union/**/select HTTP/1.1\r\nHost: x\r\nReferer: https://r.example/s?q=a+b&id=1%27\r\nX-B: UEhOamNtbHdkRDVo\r\n YldWeWRDZ3hLVHd2YzJOeWFYQjBQZz09\r\n\r\n")
	for _, b := range [][2]string{
		{"application/json", encodeUTF(utf16LE, true, `{"a":"' or 1=1--"}`)},
		{"text/plain; charset=utf-16", encodeUTF(utf16BE, false, "<a>")},
		{"application/x-www-form-urlencoded; charset=utf-7", "a=+ADw-b-"},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n" +
			"Content-Type: text/plain; charset=utf-32be\r\n\r\n" + encodeUTF(utf32BE, false, "<x>") + "\r\n--b--\r\n"},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\\\";b.txt\"; " +
			"filename*=UTF-8'en'%2e%2e%u002f\r\nContent-Type: text/plain\r\n\r\n<x>\r\n--b--\r\n"},
		{"multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\n\r\nPOST /v?a=1&b=2 HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"a\":\"b\"}\r\n" +
			"--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n\r\n--b--\r\n"},
		{"application/octet-stream", `{"q":"x;create user a identified by 'b'","u":"https://a.example/?id=1+or+1=1 more"}`},
		{"text/plain", "1;{id,} polygon((select 1)) @@version ' || this.a x\u00a0y WAITFOR DELAY '0:0:1'"},
	} {
		f.Add("POST /u HTTP/1.1\r\nHost: x\r\nContent-Type: " + b[0] + "\r\nContent-Length: " + strconv.Itoa(len(b[1])) + "\r\n\r\n" + b[1])
	}
	d := mustNew(f, Options{MaxValues: 64, MaxBytes: 4096, Headers: []string{AllHeaders}})
	var sc Scratch
	f.Fuzz(func(t *testing.T, raw string) {
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			return
		}
		r := d.Inspect(&sc, &req, nil)
		if r.Undecodable && !r.Truncated {
			t.Fatal("Undecodable without Truncated")
		}
		if r.Values > 64 || r.Bytes > 4096 {
			t.Fatalf("inspected %d values, %d bytes; limits are 64 and 4096", r.Values, r.Bytes)
		}
		if !r.Detected() {
			if len(r.Location) != 0 || r.Fingerprint != "" {
				t.Fatalf("no detection but location %q fingerprint %q", r.Location, r.Fingerprint)
			}
			return
		}
		checkLocation(t, r)
		if r.Rule == "" || (r.Rule == ruleLibinjection && r.Kind == KindSQLi) != (r.Fingerprint != "") {
			t.Fatalf("%v by rule %q with fingerprint %q", r.Kind, r.Rule, r.Fingerprint)
		}
		loc := bytes.Clone(r.Location)
		if again := d.Inspect(&sc, &req, nil); again.Kind != r.Kind || !bytes.Equal(again.Location, loc) {
			t.Fatalf("second Inspect: %v at %q; first: %v at %q", again.Kind, again.Location, r.Kind, loc)
		}
	})
}

// FuzzJSONScan is the differential check of the streaming JSON reader:
// for any document fastjson parses, it inspects the same values and bytes
// as the walk of the parsed document, finds the same kind and names the
// same location; for any other input it does not panic.
func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{order1K, `{"a":[1,"x",{"b\u002f":"' or 1=1--"}]}`, `["\ud83d\ude00","\u0000"]`,
		`{"a":"b"`, `{"":""}`, `[[[[]]]]`, `"\""`, `{"a" : 1 , "b" :[ true, false ,null ]}`} {
		f.Add(s)
	}
	// Two detectors: each has its own clean cache, which changes Bytes.
	da, db := mustNew(f, Options{}), mustNew(f, Options{})
	var a, b Scratch
	f.Fuzz(func(t *testing.T, doc string) {
		ra := da.InspectJSONBytes(&a, []byte(doc))
		v, err := fastjson.Parse(doc)
		if err != nil {
			return
		}
		rb := db.InspectJSON(&b, v)
		if ra.Kind != rb.Kind || ra.Values != rb.Values || ra.Bytes != rb.Bytes || !bytes.Equal(ra.Location, rb.Location) {
			t.Fatalf("scan %v at %q (%d values, %d bytes); walk %v at %q (%d, %d)",
				ra.Kind, ra.Location, ra.Values, ra.Bytes, rb.Kind, rb.Location, rb.Values, rb.Bytes)
		}
	})
}

// FuzzDecoders: the decoders never grow a value (but Base64's 3-in-4 and
// entities never make more bytes than they read), never panic, and
// decode what they claim to find.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{"%3Cscript%3E", "&lt;&#x28;&#0000040;&amp;lpar;&Tab;", "o<x>nfocus=al</b>ert", "PHNjcmlwdD4=", "%", "&#", "&#x;", "<", "%u003c%U0027", "%ud83d%ude00%ud83d", "100%useful",
		`\u003cscript\u003e`, `\ud83d\ude00\ud83d`, `\u{1F600}\u{zz}\x3c\x`, `C:\xampp\htdocs`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := []byte(s)
		if out := urlDecode(nil, v); len(out) > len(v) {
			t.Fatalf("urlDecode grew %q to %q", v, out)
		}
		if hasPercentHex(v) && bytes.Equal(urlDecode(nil, v), v) {
			t.Fatalf("hasPercentHex(%q) but urlDecode changes nothing", v)
		}
		if out := htmlDecode(nil, v); len(out) > len(v) {
			t.Fatalf("htmlDecode grew %q to %q", v, out)
		}
		if hasEntity(v) && bytes.Equal(htmlDecode(nil, v), v) {
			t.Fatalf("hasEntity(%q) but htmlDecode changes nothing", v)
		}
		var sp sfSpans
		if sfList(v, &sp) {
			for j := 0; j < sp.n; j++ {
				if s, e := sp.span[j][0], sp.span[j][1]; s < 1 || s > e || int(e) >= len(v) || v[s-1] != '"' || v[e] != '"' {
					t.Fatalf("sfList(%q): string %d at [%d, %d)", v, j, s, e)
				}
			}
		}
		if out := escapeDecode(nil, v); len(out) > len(v) {
			t.Fatalf("escapeDecode grew %q to %q", v, out)
		}
		if hasEscape(v) && bytes.Equal(escapeDecode(nil, v), v) {
			t.Fatalf("hasEscape(%q) but escapeDecode changes nothing", v)
		}
		if out := stripTags(nil, v); len(out) > len(v) {
			t.Fatalf("stripTags grew %q", v)
		}
		if looksBase64(v) {
			if out, _ := decodeBase64(nil, v); len(out) > len(v) {
				t.Fatalf("decodeBase64 grew %q", v)
			}
		}
	})
}

// FuzzTranscode: transcode agrees with unicode/utf16 (UTF-16) and with a
// plain reading of 32-bit units (UTF-32), writes valid UTF-8, drops one
// leading BOM only, and respects its limit.
func FuzzTranscode(f *testing.F) {
	for _, s := range []string{"", "a\x00", "\xff\xfe<\x00", "\x00\xd8\x00\xdc", "\x00\xd8a\x00", "\xff\xfe\x00\x00<\x00\x00\x00", "\x00\x00\x11\x00x"} {
		f.Add([]byte(s), uint8(0), uint16(1000))
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8, limit uint16) {
		r := readings(1) << (which % 4)
		got, whole := transcode(nil, b, r, int(limit))
		if !utf8.Valid(got) {
			t.Fatalf("transcode(%q, %b) = %q: not UTF-8", b, r, got)
		}
		if !whole {
			if len(got) <= int(limit) || len(got) > int(limit)+utf8.UTFMax {
				t.Fatalf("transcode(%q, %b, %d) cut at %d bytes", b, r, limit, len(got))
			}
			return
		}
		if len(got) > int(limit) {
			t.Fatalf("transcode(%q, %b, %d) = %d bytes, whole", b, r, limit, len(got))
		}
		var runes []rune
		switch r {
		case readUTF16LE, readUTF16BE:
			var units []uint16
			for i := 0; i+2 <= len(b); i += 2 {
				units = append(units, unit16(b[i:], r == readUTF16LE))
			}
			runes = utf16.Decode(units)
		default:
			for i := 0; i+4 <= len(b); i += 4 {
				u := binary.BigEndian.Uint32(b[i:])
				if r == readUTF32LE {
					u = binary.LittleEndian.Uint32(b[i:])
				}
				runes = append(runes, rune(u))
			}
		}
		if len(runes) > 0 && runes[0] == 0xfeff {
			runes = runes[1:]
		}
		want := string(runes) // invalid runes become U+FFFD
		unit := 2
		if r&(readUTF32LE|readUTF32BE) != 0 {
			unit = 4
		}
		if len(b)%unit != 0 {
			want += "\uFFFD"
		}
		if string(got) != want {
			t.Fatalf("transcode(%q, %b) = %q; want %q", b, r, got, want)
		}
	})
}
