//go:build !race

package inject

import (
	"testing"

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
	var sc Scratch
	req := formPOST()
	req.Header.SetContentType(`multipart/form-data; boundary=b`)
	req.SetBodyString("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello world\r\n--b--\r\n")
	d.Inspect(&sc, req, nil)
	if n := testing.AllocsPerRun(100, func() { d.Inspect(&sc, req, nil) }); n != 0 {
		t.Errorf("Inspect(multipart) allocates %v times per run; want 0", n)
	}
}

func TestPrefilterAllocs(t *testing.T) {
	for _, v := range []string{"widget", chromeUA, "1' or '1'='1", "<script>", "a=b style=c"} {
		in := []byte(v)
		if n := testing.AllocsPerRun(100, func() { sqliMaybe(in); xssMaybe(in) }); n != 0 {
			t.Errorf("pre-filters on %q allocate %v times per run; want 0", v, n)
		}
	}
}
