package inject

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"os"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

func mustNew(tb testing.TB, o Options) *Detector {
	tb.Helper()
	d, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// readLines returns the non-empty lines of a testdata file that do not
// start with "# ".
func readLines(tb testing.TB, name string) []string {
	tb.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "# ") || l == "#" {
			continue
		}
		out = append(out, l)
	}
	return out
}

type attack struct {
	kind    Kind
	payload string
}

func readAttacks(tb testing.TB) []attack {
	var out []attack
	for _, l := range readLines(tb, "testdata/attacks.txt") {
		k, p, ok := strings.Cut(l, "\t")
		if !ok {
			tb.Fatalf("attacks.txt: no tab in %q", l)
		}
		kind := KindSQLi
		if k == "xss" {
			kind = KindXSS
		}
		out = append(out, attack{kind, p})
	}
	return out
}

// placement puts a value into one location of a request.
type placement struct {
	name     string
	location func(p string) string // expected Location; nil: do not check
	decoding Decoding
	anyDec   bool // the value may match plain or decoded
	build    func(req *fasthttp.Request, p string)
	parsed   bool // pass the JSON body pre-parsed
}

func jsonString(p string) string {
	var a fastjson.Arena
	return string(a.NewString(p).MarshalTo(nil))
}

func fixed(loc string) func(string) string { return func(string) string { return loc } }

func sanitized(prefix string) func(string) string {
	return func(p string) string {
		b := []byte(prefix)
		for i := 0; i < len(p); i++ {
			b = appendSafe(b, p[i])
		}
		return string(b[:min(len(b), MaxLocation)])
	}
}

var placements = []placement{
	{name: "path", location: fixed("path"), build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/items/" + url.PathEscape(p) + "/details")
	}},
	{name: "query value", location: fixed("query.q"), build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/search?page=2&q=" + url.QueryEscape(p) + "&sort=asc")
	}},
	{name: "query name", location: sanitized("query."), build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/search?" + url.QueryEscape(p) + "=1")
	}},
	// Double encoding often still reads as SQL with its %XX left in: then it
	// matches as received.
	{name: "query double-encoded", location: fixed("query.q"), decoding: DecodingURL, anyDec: true, build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/search?q=" + url.QueryEscape(url.QueryEscape(p)))
	}},
	{name: "query base64", location: fixed("query.q"), decoding: DecodingBase64, build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/search?q=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(p))))
	}},
	{name: "cookie", location: fixed("cookie.session"), anyDec: true, build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/")
		r.Header.Set("Cookie", "theme=dark; session="+url.QueryEscape(p)+"; lang=en")
	}},
	// A cookie name is named as sent (no decoder reads it).
	{name: "cookie name", location: func(p string) string { return sanitized("cookie.")(url.QueryEscape(p)) }, anyDec: true, build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/")
		r.Header.Set("Cookie", "theme=dark; "+url.QueryEscape(p)+"=1")
	}},
	{name: "user-agent", location: fixed("header.user-agent"), build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/")
		r.Header.Set("User-Agent", p)
	}},
	{name: "referer", location: fixed("header.referer"), build: func(r *fasthttp.Request, p string) {
		r.SetRequestURI("/")
		r.Header.Set("Referer", p)
	}},
	{name: "form value", location: fixed("form.comment"), build: func(r *fasthttp.Request, p string) {
		r.Header.SetMethod("POST")
		r.SetRequestURI("/comments")
		r.Header.SetContentType("application/x-www-form-urlencoded")
		r.SetBodyString("id=42&comment=" + url.QueryEscape(p) + "&ok=1")
	}},
	{name: "form name", location: sanitized("form."), build: func(r *fasthttp.Request, p string) {
		r.Header.SetMethod("POST")
		r.SetRequestURI("/comments")
		r.Header.SetContentType("Application/X-WWW-Form-Urlencoded; charset=utf-8")
		r.SetBodyString(url.QueryEscape(p) + "=1")
	}},
	{name: "multipart", location: fixed("form.comment"), build: func(r *fasthttp.Request, p string) {
		r.Header.SetMethod("POST")
		r.SetRequestURI("/upload")
		r.Header.SetContentType(`multipart/form-data; boundary="xYzZY"`)
		r.SetBodyString("--xYzZY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n" +
			"<script>not inspected</script>\r\n--xYzZY\r\nContent-Disposition: form-data; name=\"comment\"\r\n" +
			"Content-Type: text/plain\r\n\r\n" + p + "\r\n--xYzZY--\r\n")
	}},
	{name: "json value", location: fixed("json./items/1/name"), build: func(r *fasthttp.Request, p string) {
		jsonBody(r, `{"id":7,"items":[{"name":"ok"},{"name":`+jsonString(p)+`,"qty":1}]}`)
	}},
	{name: "json value pre-parsed", location: fixed("json./items/1/name"), parsed: true, build: func(r *fasthttp.Request, p string) {
		jsonBody(r, `{"id":7,"items":[{"name":"ok"},{"name":`+jsonString(p)+`,"qty":1}]}`)
	}},
	{name: "json key", location: func(p string) string {
		return sanitized("json./a/")(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}, build: func(r *fasthttp.Request, p string) {
		jsonBody(r, `{"a":{`+jsonString(p)+`:1}}`)
	}},
	{name: "json base64url", location: fixed("json./note"), decoding: DecodingBase64, build: func(r *fasthttp.Request, p string) {
		jsonBody(r, `{"note":"`+base64.RawURLEncoding.EncodeToString([]byte(p))+`"}`)
	}},
	// Unicode bodies: read transcoded to UTF-8 (charset.go).
	{name: "json utf-16le bom", location: fixed("json./items/1/name"), build: func(r *fasthttp.Request, p string) {
		jsonBody(r, encodeUTF(utf16LE, true, `{"id":7,"items":[{"name":"ok"},{"name":`+jsonString(p)+`,"qty":1}]}`))
	}},
	{name: "json utf-16be nul pattern", location: fixed("json./items/1/name"), build: func(r *fasthttp.Request, p string) {
		jsonBody(r, encodeUTF(utf16BE, false, `{"id":7,"items":[{"name":"ok"},{"name":`+jsonString(p)+`,"qty":1}]}`))
	}},
	{name: "json utf-32le declared", location: fixed("json./items/1/name"), build: func(r *fasthttp.Request, p string) {
		jsonBody(r, encodeUTF(utf32LE, false, `{"id":7,"items":[{"name":"ok"},{"name":`+jsonString(p)+`,"qty":1}]}`))
		r.Header.SetContentType("application/json; charset=utf-32le")
	}},
	{name: "json utf-32be bom untyped", location: fixed("json./items/1/name"), build: func(r *fasthttp.Request, p string) {
		jsonBody(r, encodeUTF(utf32BE, true, `{"id":7,"items":[{"name":"ok"},{"name":`+jsonString(p)+`,"qty":1}]}`))
		r.Header.Del("Content-Type")
	}},
	{name: "json utf-16le pre-parsed", location: fixed("json./items/1/name"), parsed: true, build: func(r *fasthttp.Request, p string) {
		// A UTF-8 body that parsed, declared UTF-16: read from its bytes.
		jsonBody(r, `{"id":7,"items":[{"name":"ok"},{"name":`+jsonString(p)+`,"qty":1}]}`)
		r.Header.SetContentType("application/json; charset=utf-16le")
	}},
	{name: "form utf-16le", location: fixed("form.comment"), build: func(r *fasthttp.Request, p string) {
		r.Header.SetMethod("POST")
		r.SetRequestURI("/comments")
		r.Header.SetContentType("application/x-www-form-urlencoded; charset=UTF-16LE")
		r.SetBodyString(encodeUTF(utf16LE, false, "id=42&comment="+url.QueryEscape(p)+"&ok=1"))
	}},
	{name: "text utf-16 either order", location: fixed("body"), build: func(r *fasthttp.Request, p string) {
		r.Header.SetMethod("POST")
		r.SetRequestURI("/notes")
		r.Header.SetContentType(`text/plain; charset="utf-16"`)
		r.SetBodyString(encodeUTF(utf16BE, false, "\u4e2d"+p)) // no BOM, first character not ASCII
	}},
	{name: "multipart part utf-16le", location: fixed("form.comment"), build: func(r *fasthttp.Request, p string) {
		r.Header.SetMethod("POST")
		r.SetRequestURI("/upload")
		r.Header.SetContentType(`multipart/form-data; boundary="xYzZY"`)
		r.SetBodyString("--xYzZY\r\nContent-Disposition: form-data; name=\"comment\"\r\n" +
			"Content-Type: text/plain; charset=utf-16le\r\n\r\n" + encodeUTF(utf16LE, false, p) + "\r\n--xYzZY--\r\n")
	}},
}

// Unicode encodings for encodeUTF.
const (
	utf16LE = iota
	utf16BE
	utf32LE
	utf32BE
)

// encodeUTF encodes s in UTF-16 or UTF-32, with a BOM first when bom.
func encodeUTF(enc int, bom bool, s string) string {
	rs := []rune(s)
	if bom {
		rs = append([]rune{0xfeff}, rs...)
	}
	var b []byte
	switch enc {
	case utf16LE, utf16BE:
		for _, u := range utf16.Encode(rs) {
			if enc == utf16LE {
				b = binary.LittleEndian.AppendUint16(b, u)
			} else {
				b = binary.BigEndian.AppendUint16(b, u)
			}
		}
	default:
		for _, r := range rs {
			if enc == utf32LE {
				b = binary.LittleEndian.AppendUint32(b, uint32(r))
			} else {
				b = binary.BigEndian.AppendUint32(b, uint32(r))
			}
		}
	}
	return string(b)
}

func jsonBody(r *fasthttp.Request, body string) {
	r.Header.SetMethod("POST")
	r.SetRequestURI("/orders")
	r.Header.SetContentType("application/json")
	r.SetBodyString(body)
}

// inspectPlaced builds the request of pl with p and inspects it.
func inspectPlaced(d *Detector, sc *Scratch, pl placement, p string) Result {
	var req fasthttp.Request
	pl.build(&req, p)
	var body *fastjson.Value
	if pl.parsed {
		var err error
		if body, err = fastjson.ParseBytes(req.Body()); err != nil {
			panic(err)
		}
	}
	return d.Inspect(sc, &req, body)
}
