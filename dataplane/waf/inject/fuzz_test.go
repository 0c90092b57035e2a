package inject

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzInspect parses raw request bytes with fasthttp and inspects them: no
// panic, a well-formed location, counters within the limits, and the same
// answer from a pre-parsed JSON body as from the raw one.
func FuzzInspect(f *testing.F) {
	f.Add("GET /a/b?q=1&x=%27%20or%201=1-- HTTP/1.1\r\nHost: x\r\nUser-Agent: <script>\r\nCookie: a=b; c=d\r\n\r\n")
	f.Add("POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"a\":[{\"b\":\"c\"}],\"d~/\":1}")
	f.Add("POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\na=1&b=x%3Cy")
	f.Add("POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 60\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\n")
	d := mustNew(f, Options{MaxValues: 64, MaxBytes: 4096})
	var sc Scratch
	f.Fuzz(func(t *testing.T, raw string) {
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			return
		}
		r := d.Inspect(&sc, &req, nil)
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
		if r.Kind == KindSQLi && r.Fingerprint == "" {
			t.Fatal("SQLi without a fingerprint")
		}
		loc := bytes.Clone(r.Location)
		if again := d.Inspect(&sc, &req, nil); again.Kind != r.Kind || !bytes.Equal(again.Location, loc) {
			t.Fatalf("second Inspect: %v at %q; first: %v at %q", again.Kind, again.Location, r.Kind, loc)
		}
	})
}
