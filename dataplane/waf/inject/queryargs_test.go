package inject

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestQueryInsideValue: the query of a URL inside a value (a Referer, a
// redirect parameter, a JSON field) is read argument by argument, decoded
// as its target decodes it; benign URLs with queries pass.
func TestQueryInsideValue(t *testing.T) {
	tests := []struct {
		v    string
		want Kind
	}{
		{"https://a.example/p?id=1%20UNION%20SELECT%20password%20FROM%20users--", KindSQLi},
		{"https://www.google.com/search?q=1+UNION+SELECT+password+FROM+users--", KindSQLi},
		{"https://a.example/p?x=1&id=1%27%20or%20%271%27%3D%271#top", KindSQLi},
		{"/next?a=b;c=1+UNION+SELECT+password+FROM+users--", KindSQLi},
		{"page=2&sort=1+union+select+password+from+users--", KindSQLi},
		{"https://shop.example.com/campaigns/spring-sale?utm_source=newsletter&utm_medium=email&id=42", KindNone},
		{"https://www.google.com/search?q=union+of+workers+select+committee&hl=en", KindNone},
		{"https://maps.example.com/?q=O%27Brien+%26+Sons,+Dublin&z=12", KindNone},
		{"AT&T rocks, 2+2=4", KindNone},
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		for _, pl := range []struct {
			name, location string
			build          func(r *fasthttp.Request)
		}{
			{"referer", "header.referer", func(r *fasthttp.Request) { r.SetRequestURI("/"); r.Header.Set("Referer", tc.v) }},
			{"query value", "query.next", func(r *fasthttp.Request) { r.SetRequestURI("/login?next=" + url.QueryEscape(tc.v)) }},
			{"json value", "json./url", func(r *fasthttp.Request) {
				r.Header.SetMethod("POST")
				r.SetRequestURI("/links")
				r.Header.SetContentType("application/json")
				r.SetBodyString(`{"url":"` + tc.v + `"}`)
			}},
		} {
			var req fasthttp.Request
			pl.build(&req)
			r := d.Inspect(&sc, &req, nil)
			if r.Kind != tc.want {
				t.Errorf("%q in %s: %v (%s); want %v", tc.v, pl.name, r.Kind, r.Rule, tc.want)
				continue
			}
			if tc.want != KindNone && string(r.Location) != pl.location {
				t.Errorf("%q in %s: at %q; want %q", tc.v, pl.name, r.Location, pl.location)
			}
		}
	}
}

// TestPathReadings: a path is also read as the upstreams that decode '+'
// in it (Java's URLDecoder, PHP's urldecode) and that take the rest of it
// as one parameter, where "/**/" is a SQL comment (and "/%2A%2A/" to one
// that decodes twice), read it.
func TestPathReadings(t *testing.T) {
	tests := []struct {
		path string
		want Kind
	}{
		{"/users/1+union+select+password+from+users--", KindSQLi},
		{"/users/1/**/union/**/select/**/password/**/from/**/users", KindSQLi},
		{"/a/*/b/1/**/union/**/select/**/password/**/from/**/users", KindSQLi},
		{"/users/1/%252A%252A/union/%252a%252a/select/%252A%252A/password/%252A%252A/from/%252A%252A/users", KindSQLi},
		{"/a/%252A%252A/b/%252A%252A/c", KindNone},
		{"/search/c++/tutorials", KindNone},
		{"/tags/rock+roll/union+station", KindNone},
		{"/files/*/list", KindNone},
		{"/docs/getting-started/*.md", KindNone},
		{"/a/**/b/**/c", KindNone},
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		var req fasthttp.Request
		req.SetRequestURI(tc.path)
		r := d.Inspect(&sc, &req, nil)
		if r.Kind != tc.want || tc.want != KindNone && string(r.Location) != "path" {
			t.Errorf("%s: %v (%s) at %q; want %v at path", tc.path, r.Kind, r.Rule, r.Location, tc.want)
		}
	}
}

// TestBase64Forms: Base64 wrapped over lines is decoded as decoders read
// it, and Base64 of a JSON document or a query has its values read one by
// one, every time (not only while the value is new to the clean caches).
func TestBase64Forms(t *testing.T) {
	wrap := func(s string, width int) string {
		e := base64.StdEncoding.EncodeToString([]byte(s))
		var b strings.Builder
		for len(e) > width {
			b.WriteString(e[:width] + "\r\n")
			e = e[width:]
		}
		return b.String() + e
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, v string
		want    Kind
	}{
		{"wrapped at 76", wrap(strings.Repeat("A", 80)+"<script>alert(1)</script>", 76), KindXSS},
		{"wrapped at 16", wrap("1' UNION SELECT password FROM users--", 16), KindSQLi},
		{"wrapped and indented", strings.ReplaceAll(wrap("1' UNION SELECT password FROM users-- "+strings.Repeat("A", 60), 24), "\r\n", "\n    "), KindSQLi},
		{"json document", b64(`{"q":"1 UNION SELECT password FROM users--","page":2}`), KindSQLi},
		{"query string", b64("page=2&q=1+UNION+SELECT+password+FROM+users--"), KindSQLi},
		{"wrapped benign", wrap(strings.Repeat("Hello, world. ", 12), 76), KindNone},
		{"json document benign", b64(`{"name":"O'Brien","note":"ring twice","page":2}`), KindNone},
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		for round := range 2 { // the second time the value is in the clean caches
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI("/x")
			req.Header.SetContentType("application/json")
			req.SetBodyString(`{"data":"` + strings.ReplaceAll(tc.v, "\r\n", `\r\n`) + `"}`)
			if r := d.Inspect(&sc, &req, nil); r.Kind != tc.want {
				t.Errorf("%s (round %d): %v (%s); want %v", tc.name, round, r.Kind, r.Rule, tc.want)
			}
		}
	}
}
