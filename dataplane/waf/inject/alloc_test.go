//go:build !race

package inject

import (
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// TestInspectAllocs: a request whose values the pre-filters clear, or that
// were found clean before, is inspected without allocating.
func TestInspectAllocs(t *testing.T) {
	d := mustNew(t, Options{})
	for _, bc := range benchCases {
		if bc.name == "SQLi GET" {
			continue // a detection allocates libinjection's fingerprint
		}
		req := bc.req()
		var body *fastjson.Value
		if bc.parsed {
			body = fastjson.MustParseBytes(req.Body())
		}
		var sc Scratch
		d.Inspect(&sc, req, body) // warm: fasthttp's lazy parsing, buffers, clean cache
		if n := testing.AllocsPerRun(100, func() { d.Inspect(&sc, req, body) }); n != 0 {
			t.Errorf("Inspect(%s) allocates %v times per run; want 0", bc.name, n)
		}
	}
	all := mustNew(t, Options{Headers: []string{AllHeaders}})
	headers := func(hs [][2]string) *fasthttp.Request {
		var r fasthttp.Request
		r.SetRequestURI("/api/v1/cart?q=caf%25C3%25A9&note=Tom+%26amp%3B+Jerry&b=SGVsbG8sIFdvcmxkIQ%3D%3D")
		for _, h := range hs {
			r.Header.Set(h[0], h[1])
		}
		return &r
	}
	for _, tc := range []struct {
		name string
		d    *Detector
		req  *fasthttp.Request
	}{
		{"multipart", d, bodyRequest("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello world\r\n--b--\r\n")},
		{"multipart file", d, bodyRequest("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"report 2024.pdf\"; "+
			"filename*=UTF-8''r%C3%A9sum%C3%A9%20(final).pdf\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--b--\r\n")},
		{"multipart lf", d, bodyRequest("multipart/form-data; boundary=b", "--b\nContent-Disposition: form-data; name=\"a\"\n\nhello world\n--b--\n")},
		{"soap", d, bodyRequest("text/xml", soapEnvelope("O'Brien & Sons <sales@example.com>"))},
		{"text", d, bodyRequest("text/plain", "Please deliver to the back door, ring twice; thanks!")},
		{"json utf-16le bom", d, bodyRequest("application/json", encodeUTF(utf16LE, true, order1K))},
		{"json utf-32be declared", d, bodyRequest("application/json; charset=utf-32be", encodeUTF(utf32BE, false, order1K))},
		{"text utf-16, both orders", d, bodyRequest("text/plain; charset=utf-16", encodeUTF(utf16BE, false, "Please deliver to the back door"))},
		{"multipart part utf-16", d, bodyRequest("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n"+
			"Content-Type: text/plain; charset=utf-16\r\n\r\n"+encodeUTF(utf16LE, true, "hello world")+"\r\n--b--\r\n")},
		{"latin-1 form", d, bodyRequest("application/x-www-form-urlencoded; charset=ISO-8859-1", "name=Andr%E9&city=K%F6ln")},
		{"utf-7 form, undecodable", d, bodyRequest("application/x-www-form-urlencoded; charset=utf-7", "name=Andr+AOk-")},
		{"browser headers, all", all, headers(browserHeaders)},
		{"mobile headers, all", all, headers(mobileHeaders)},
	} {
		var sc Scratch
		tc.d.Inspect(&sc, tc.req, nil)
		if n := testing.AllocsPerRun(100, func() { tc.d.Inspect(&sc, tc.req, nil) }); n != 0 {
			t.Errorf("Inspect(%s) allocates %v times per run; want 0", tc.name, n)
		}
	}
}

// TestChecksAllocs: the checks themselves allocate on no value, clean or
// not (libinjection, which runs last, allocates for its fingerprint).
func TestChecksAllocs(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range checkCases {
		for _, v := range append(append([]string{}, tc.attacks...), tc.benign...) {
			b := []byte(v)
			m := classMask(b)
			n := testing.AllocsPerRun(20, func() {
				sc.start()
				if f := d.detect(&sc, b, m, ctxName|ctxUserAgent); f.rule == ruleLibinjection {
					return
				}
			})
			if n != 0 && !libinjectionRuns(b, m) {
				t.Errorf("detect(%q) allocates %v times per run; want 0", v, n)
			}
		}
	}
}

// libinjectionRuns: the pre-filters let v through to libinjection.
func libinjectionRuns(v []byte, m uint64) bool { return sqliMaybeMask(v, m) || xssMaybeMask(v, m) }

func TestPrefilterAllocs(t *testing.T) {
	for _, v := range []string{"widget", chromeUA, "1' or '1'='1", "<script>", "a=b style=c"} {
		in := []byte(v)
		if n := testing.AllocsPerRun(100, func() { sqliMaybe(in); xssMaybe(in) }); n != 0 {
			t.Errorf("pre-filters on %q allocate %v times per run; want 0", v, n)
		}
	}
}
