package inject

import (
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// TestBodyCache checks that the clean body cache answers what inspecting
// would: a body seen clean is not read again, while an attack, a changed
// byte, a tighter budget or a request whose other parts used the budget up
// are inspected as if the body were new.
func TestBodyCache(t *testing.T) {
	order := string(variedOrders(1)[0])
	attack := strings.Replace(order, `"locale":"en-GB"`, `"locale":"1' UNION SELECT password FROM users--"`, 1)
	manyArgs := func(n int) string {
		var b strings.Builder
		b.WriteString("/orders?")
		for i := range n {
			fmt.Fprintf(&b, "a%d=v%d&", i, i)
		}
		return b.String()
	}
	tests := []struct {
		name      string
		opts      Options
		uri       string // the second request's URI
		body      string // the second request's body
		parsed    bool
		wantKind  Kind
		wantTrunc bool
	}{
		{name: "same body", body: order},
		{name: "same body parsed", body: order, parsed: true},
		{name: "attack body", body: attack, wantKind: KindSQLi},
		{name: "attack body parsed", body: attack, parsed: true, wantKind: KindSQLi},
		{name: "query uses up values", opts: Options{MaxValues: 120}, uri: manyArgs(40), body: order, wantTrunc: true},
		{name: "query uses up bytes", opts: Options{MaxBytes: 40000}, uri: "/orders?q=" + strings.Repeat("x", 39500), body: order, wantTrunc: true},
		{name: "query leaves room", opts: Options{MaxValues: 512}, uri: manyArgs(10), body: order},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inspect := func(d *Detector, uri, body string, parsed bool) Result {
				var req fasthttp.Request
				jsonBody(&req, body)
				if uri != "" {
					req.SetRequestURI(uri)
				}
				var v *fastjson.Value
				if parsed {
					v = fastjson.MustParse(body)
				}
				var sc Scratch
				r := d.Inspect(&sc, &req, v)
				r.Location = append([]byte(nil), r.Location...)
				return r
			}
			d := mustNew(t, tt.opts)
			// The first request has the body alone: it is inspected clean
			// and remembered.
			if r := inspect(d, "", order, false); r.Detected() || r.Truncated {
				t.Fatalf("first request: %+v", r)
			}
			if !d.cleanBody.has(d.cleanBody.hash([]byte(order), 0)) {
				t.Fatal("a clean body was not remembered")
			}
			got := inspect(d, tt.uri, tt.body, tt.parsed)
			fresh := mustNew(t, tt.opts)
			fresh.cleanBody.off = true
			want := inspect(fresh, tt.uri, tt.body, tt.parsed)
			if got.Kind != tt.wantKind || got.Truncated != tt.wantTrunc {
				t.Errorf("got kind %v truncated %v, want %v %v", got.Kind, got.Truncated, tt.wantKind, tt.wantTrunc)
			}
			if got.Kind != want.Kind || got.Truncated != want.Truncated || string(got.Location) != string(want.Location) ||
				got.Rule != want.Rule || got.Source != want.Source {
				t.Errorf("with the cache %+v, without %+v", got, want)
			}
		})
	}
}

// TestBodyCacheBound checks the bound the cache relies on: a JSON body's
// inspection charges at most a value per two quotes (plus one) and
// maxBodyBytesPerByte bytes per byte, here on bodies whose every string
// decodes as far as the decoders go.
func TestBodyCacheBound(t *testing.T) {
	deep := "%25252527%252520OR%2525201%25253D1"      // URL-encoded three times
	b64 := "JTI1MjcgT1IgMT0xJmFtcDtsdDtzY3JpcHQmZ3Q7" // Base64 of URL and HTML escapes
	bodies := []string{
		string(variedOrders(1)[0]),
		`{"a":"` + deep + `","b":"` + b64 + `","c":["` + deep + `","` + b64 + `"]}`,
		`["` + strings.Repeat(`&amp;lt;b&amp;gt;x`, 40) + `"]`,
		`{"` + b64 + `":"` + b64 + `"}`,
		`{"a":"x"` + strings.Repeat(`,"b":"`+b64+`"`, 50) + `} trailing`, // not JSON: inspected again whole
	}
	d := mustNew(t, Options{})
	d.clean.off, d.cleanLib.off, d.cleanBody.off = true, true, true
	for i, body := range bodies {
		var sc Scratch
		r := d.InspectJSONBytes(&sc, []byte(body))
		values := strings.Count(body, `"`)/2 + 1
		if r.Values > values || r.Bytes > maxBodyBytesPerByte*len(body) {
			t.Errorf("body %d (%d bytes, %d quotes): %d values, %d bytes inspected: over the bound", i, len(body), values, r.Values, r.Bytes)
		}
	}
}
