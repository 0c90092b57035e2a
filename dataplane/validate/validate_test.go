package validate

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// request parses a raw request, body included.
func request(t testing.TB, raw string) *fasthttp.RequestCtx {
	t.Helper()
	ctx := &fasthttp.RequestCtx{}
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return ctx
}

func post(ct, body string, extra ...string) string {
	h := "POST /orders?a=1 HTTP/1.1\r\nHost: api.test\r\n"
	if ct != "" {
		h += "Content-Type: " + ct + "\r\n"
	}
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestRules(t *testing.T) {
	s, err := New(Rules{Route: "orders", MediaTypes: []string{"application/json", "text/*"},
		MaxBodyBytes: 64, MaxHeaders: 6, MaxURIBytes: 40, MaxQueryParams: 3, RefuseEncoded: true})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		raw    string
		status int // 0: passes
		reason pipeline.Reason
		detail string
	}{
		{"json body", post("application/json", `{"a":1}`), 0, 0, ""},
		{"charset parameter, any case", post("Application/JSON; charset=UTF-8", `{"a":1}`), 0, 0, ""},
		{"spaces around the type", post(" application/json ;charset=utf-8", `{}`), 0, 0, ""},
		{"wildcard subtype", post("text/plain", "hi"), 0, 0, ""},
		{"GET without a body needs no type", "GET /orders HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, ""},
		{"missing type", post("", `{"a":1}`), 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeMissing},
		{"other type", post("application/xml", `<a/>`), 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeOther},
		{"type prefix only", post("application/jsonx", `{}`), 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeOther},
		{"type without subtype", post("application", `{}`), 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeOther},
		{"range with a list", post("text/plain,application/xml", `x`), 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeOther},
		{"range with a space", post("text/plain application/xml", `x`), 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeOther},
		{"range with a second slash", post("text/plain/xml", `x`), 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeOther},
		{"range with an empty subtype", post("text/", `x`), 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeOther},
		{"empty body declared", post("", ""), 0, 0, ""},
		{"compressed body", post("application/json", "xx", "Content-Encoding: gzip"), 415, pipeline.ReasonMediaTypeUnsupported, DetailContentEncoding},
		{"identity encoding", post("application/json", "{}", "Content-Encoding: identity"), 0, 0, ""},
		{"identity and empty codings", post("application/json", "{}", "Content-Encoding: Identity, ", "Content-Encoding:"), 0, 0, ""},
		{"coding after identity in a list", post("application/json", "xx", "Content-Encoding: identity, gzip"), 415, pipeline.ReasonMediaTypeUnsupported, DetailContentEncoding},
		// fasthttp's ContentEncoding returns the first field only; the
		// upstream gets every one and may decode the second.
		{"coding in a second field after identity", post("application/json", "xx", "Content-Encoding: identity", "Content-Encoding: gzip"), 415, pipeline.ReasonMediaTypeUnsupported, DetailContentEncoding},
		{"coding in a second field after an empty one", post("application/json", "xx", "Content-Encoding:", "content-encoding: gzip"), 415, pipeline.ReasonMediaTypeUnsupported, DetailContentEncoding},
		// CGI, WSGI and PHP read Content_Encoding as Content-Encoding.
		{"coding in a field spelt with an underscore", post("application/json", "xx", "Content_Encoding: gzip"), 415, pipeline.ReasonMediaTypeUnsupported, DetailContentEncoding},
		{"body over the route limit", post("application/json", strings.Repeat("1", 65)), 413, pipeline.ReasonBodyTooLarge, DetailBodyTooLarge},
		{"too many headers", post("application/json", "{}", "A: 1", "B: 2", "C: 3", "D: 4"), 431, pipeline.ReasonHeadersTooMany, DetailHeadersTooMany},
		{"URI too long", "GET /orders/" + strings.Repeat("x", 40) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, pipeline.ReasonURITooLong, DetailURITooLong},
		{"too many query parameters", "GET /o?a=1&b=2&c=3&d=4 HTTP/1.1\r\nHost: a\r\n\r\n", 400, pipeline.ReasonQueryParamsTooMany, DetailQueryTooMany},
		{"query parameters at the limit", "GET /o?a=1&b=2&c=3 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, ""},
		// Servers that split at ';' too (Rack 2, old Python and Go) read five.
		{"too many query parameters split by ';'", "GET /o?a=1;b=2;c=3;d=4;e=5 HTTP/1.1\r\nHost: a\r\n\r\n", 400, pipeline.ReasonQueryParamsTooMany, DetailQueryTooMany},
		{"query parameters at the limit with ';'", "GET /o?a=1;b=2&c=3;& HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, ""},
		{"';' inside values is no separator", "GET /o?ids=1;2;3;4;5&fields=a;b;c HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, ""},
		{"chunked body without type", "POST /o HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 415, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := request(t, tc.raw)
			r := &pipeline.Request{HeaderCount: ctx.Request.Header.Len()}
			v := s.Handle(ctx, r)
			if tc.status == 0 {
				if v != pipeline.Continue {
					t.Fatalf("refused: %d %s (%s)", ctx.Response.StatusCode(), r.Reason, r.Detail)
				}
				return
			}
			if v != pipeline.Done || ctx.Response.StatusCode() != tc.status || r.Reason != tc.reason || r.Detail != tc.detail {
				t.Fatalf("got %v %d %s (%s), want %d %s (%s)", v, ctx.Response.StatusCode(), r.Reason, r.Detail, tc.status, tc.reason, tc.detail)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules Rules
		want  string
	}{
		{"type without subtype", Rules{MediaTypes: []string{"json"}}, "content_types[0]"},
		{"wildcard type", Rules{MediaTypes: []string{"*/*"}}, "content_types[0]"},
		{"negative limit", Rules{MaxHeaders: -1}, "max_headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.rules); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
