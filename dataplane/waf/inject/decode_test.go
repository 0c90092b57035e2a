package inject

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPercentUnicode: IIS-style %uXXXX escapes in the query are decoded
// (as IIS and ASP decode them) where a value has one, and ordinary text
// with "%u" is not turned into anything else.
func TestPercentUnicode(t *testing.T) {
	tests := []struct {
		name  string
		query string // raw, as sent
		want  Kind
	}{
		{"sqli tautology", "q=%u0027%u0020OR%u00201%u003d1--", KindSQLi},
		{"sqli union", "q=1%u0020UNION%u0020SELECT%u0020password%u0020FROM%u0020users", KindSQLi},
		{"xss", "q=%u003cscript%u003ealert(1)%u003c/script%u003e", KindXSS},
		{"xss upper case", "q=%U003Cscript%U003Ealert(1)%U003C%U002Fscript%U003E", KindXSS},
		{"traversal", "q=..%u002f..%u002f..%u002fetc%u002fpasswd", KindPathTraversal},
		{"double encoded", "q=%25u003cscript%25u003ealert(1)%25u003c/script%25u003e", KindXSS},
		{"benign useful", "q=100%useful", KindNone},
		{"benign percent text", "q=50%25%20off%2C%20100%25useful%20and%20%25user%25", KindNone},
		{"benign accents", "q=r%u00e9sum%u00e9%u0020caf%u00e9", KindNone},
		{"benign emoji pair", "q=ok%ud83d%ude00", KindNone},
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req fasthttp.Request
			req.SetRequestURI("/search?" + tc.query)
			r := d.Inspect(&sc, &req, nil)
			if r.Kind != tc.want {
				t.Fatalf("%v (%s) at %q; want %v", r.Kind, r.Rule, r.Location, tc.want)
			}
			if tc.want != KindNone && (string(r.Location) != "query.q" || r.Decoding != DecodingURL) {
				t.Errorf("at %q, %v decoding; want query.q, URL decoding", r.Location, r.Decoding)
			}
		})
	}
}

func TestURLDecodePercentUnicode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"%u0027%u0020OR", "' OR"},
		{"%U003C%u003e", "<>"},
		{"r%u00e9sum%u00E9", "r\u00e9sum\u00e9"},
		{"%u4e2d", "\u4e2d"},
		{"%ud83d%ude00", "\U0001f600"},
		{"%ud83d!", "%ud83d!"}, // lone high surrogate: kept
		{"%ude00", "%ude00"},   // lone low surrogate: kept
		{"100%useful", "100%useful"},
		{"%u12", "%u12"},
		{"%u12g4%41", "%u12g4A"},
	}
	for _, tc := range tests {
		if got := string(urlDecode(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("urlDecode(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
	for _, s := range []string{"100%useful", "%ud83d%ude00", "%u12", "%uzzzz"} {
		if hasPercentHex([]byte(s)) {
			t.Errorf("hasPercentHex(%q): true", s)
		}
	}
}

func TestEscapeDecode(t *testing.T) {
	tests := []struct{ in, want string }{
		{`\u003cscript\u003e`, "<script>"},
		{`\u003Cimg\x20src=x\x3e`, "<img src=x>"},
		{`\ud83d\ude00`, "\U0001f600"},
		{`\ud83d!`, "\ufffd!"}, // lone high surrogate: U+FFFD, as JSON decoders give
		{`\ude00\ud83d`, "\ufffd\ufffd"},
		{`\u{1F600}\u{3c}`, "\U0001f600<"},
		{`\u{}\u{110000}\u{zz}`, `\u{}\u{110000}\u{zz}`},
		{`a\"b\\c\/d\n`, "a\"b\\c/d\n"},
		{`\u12\x4`, `\u12\x4`},
		{`C:\xampp\htdocs`, `C:\xampp\htdocs`},
		{`\q`, `\q`},
	}
	for _, tc := range tests {
		if got := string(escapeDecode(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("escapeDecode(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
	for _, s := range []string{`C:\xampp\htdocs`, `C:\Users\x\Documents`, `\d+\.\d+`, `\u{zz}`, `a\n`} {
		if hasEscape([]byte(s)) {
			t.Errorf("hasEscape(%q): true", s)
		}
	}
}

// TestEscapedPayloads: JavaScript/JSON escapes hide nothing where no JSON
// reader unescapes them first: a JSON body sent as text/plain or that
// fastjson refuses (NaN, comments), a query value, a header.
func TestEscapedPayloads(t *testing.T) {
	xss := `\u003cscript\u003ealert(1)\u003c/script\u003e`
	tests := []struct {
		name string
		req  *fasthttp.Request
		want Kind
	}{
		{"json as text/plain", bodyRequest("text/plain", `{"q":"`+xss+`"}`), KindXSS},
		{"json with NaN", bodyRequest("application/json", `{"n":NaN,"q":"`+xss+`"}`), KindXSS},
		{"json with a comment", bodyRequest("application/json", `{/* c */"q":"\u0027 OR \u00271\u0027=\u00271"}`), KindSQLi},
		{"ndjson", bodyRequest("application/x-ndjson", `{"a":1}`+"\n"+`{"q":"\x3cscript\x3ealert(1)\x3c/script\x3e"}`), KindXSS},
		{"query value", queryRequest("q=" + xss), KindXSS},
		{"benign windows path", bodyRequest("text/plain", `{"path":"C:\\xampp\\htdocs\\index.php","re":"\\d+\\.\\d+"}`), KindNone},
		{"benign escaped text", bodyRequest("text/plain", `{"name":"Ren\u00e9e \u2014 caf\u00e9 \ud83d\ude00"}`), KindNone},
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := d.Inspect(&sc, tc.req, nil)
			if r.Kind != tc.want {
				t.Fatalf("%v (%s) at %q (%v decoding); want %v", r.Kind, r.Rule, r.Location, r.Decoding, tc.want)
			}
		})
	}
}

func queryRequest(q string) *fasthttp.Request {
	var req fasthttp.Request
	req.SetRequestURI("/search?" + q)
	return &req
}

// TestFullwidthPayloads: fullwidth forms are also read folded to ASCII,
// as upstreams that normalize (NFKC) read them; CJK text with fullwidth
// punctuation stays benign.
func TestFullwidthPayloads(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range []struct {
		q    string
		want Kind
	}{
		{"1＇ or ＇1＇=＇1", KindSQLi},
		{"＜ｓｃｒｉｐｔ＞ａｌｅｒｔ(1)＜/ｓｃｒｉｐｔ＞", KindXSS},
		{"admin＇ --", KindSQLi},
		{"１　ｕｎｉｏｎ　ｓｅｌｅｃｔ　ｐａｓｓｗｏｒｄ　ｆｒｏｍ　ｕｓｅｒｓ--", KindSQLi},
		{"こんにちは、世界！（テスト）", KindNone},
		{"株式会社（東京）：１２３－４５６７", KindNone},
		{"Ｔｏｍ＆Ｊｅｒｒｙ　ｓｈｏｗ", KindNone},
		// Unicode spaces NFKC reads as ' ' between keywords.
		{"1'\u00a0OR\u00a0'1'='1", KindSQLi},
		{"1\u2009union\u2009select\u2009password\u2009from\u2009users--", KindSQLi},
		{"Price:\u00a010\u00a0EUR, O'Brien\u202fand\u202fsons", KindNone},
		// Other compatibility forms NFKC folds: circled, small,
		// superscript, mathematical letters, the long s.
		{"1' ⓞⓡ '1'='1", KindSQLi},
		{"' ⓤⓝⓘⓞⓝ select password from users-- -", KindSQLi},
		{"1' or '1'﹦'1", KindSQLi},
		{"﹩{jndi:ldap://x.example/a}", KindJNDI},
		{"﹤script﹥alert⁽1⁾﹤/script﹥", KindXSS},
		{"1' 𝐨𝐫 '1'='1", KindSQLi},
		{"E = mc², area 5 m³, ① first ② second", KindNone},
		{"Ⓐ grade; 𝐁𝐨𝐥𝐝 text ﹙note﹚", KindNone},
	} {
		r := d.Inspect(&sc, queryRequest("q="+url.QueryEscape(tc.q)), nil)
		if r.Kind != tc.want {
			t.Errorf("%q: %v (%s, %v decoding); want %v", tc.q, r.Kind, r.Rule, r.Decoding, tc.want)
		}
		if tc.want != KindNone && r.Decoding != DecodingWidth {
			t.Errorf("%q: found in %v decoding, want width", tc.q, r.Decoding)
		}
	}
}

// TestStringLiterals: the string literals of JSON no strict parser took,
// of JSON inside other values, and of GraphQL queries are inspected as
// values of their own, where the text around them hid a payload.
func TestStringLiterals(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	union := "1 union select password from users--"
	multipart := "--XyZ\r\nContent-Disposition: form-data; name=\"doc\"\r\nContent-Type: application/json\r\n\r\n" +
		`{"id":"admin' --"}` + "\r\n--XyZ--\r\n"
	for _, tc := range []struct {
		name string
		req  *fasthttp.Request
		want Kind
	}{
		{"json with NaN", bodyRequest("application/json", `{"n":NaN,"id":"`+union+`"}`), KindSQLi},
		{"json with a comment", bodyRequest("application/json", `{/*x*/"id":"admin' --"}`), KindSQLi},
		{"json as text/plain", bodyRequest("text/plain", `{"n":-Infinity,"id":"1;drop table users"}`), KindSQLi},
		{"ndjson", bodyRequest("application/x-ndjson", `{"a":1}`+"\n"+`{"id":"`+union+`"}`), KindSQLi},
		{"json in a multipart part", bodyRequest("multipart/form-data; boundary=XyZ", multipart), KindSQLi},
		{"json in a query value", queryRequest("filter=" + url.QueryEscape(`{"id":"1 and sleep(5)"}`)), KindSQLi},
		{"graphql variables in the query", queryRequest("query=q&variables=" + url.QueryEscape(`{"id":"`+union+`"}`)), KindSQLi},
		{"graphql argument", bodyRequest("application/json", `{"query":"{user(id:\"`+union+`\"){name}}"}`), KindSQLi},
		{"graphql argument in GET", queryRequest("query=" + url.QueryEscape(`{user(id:"admin' --"){name}}`)), KindSQLi},
		{"graphql block string", bodyRequest("application/graphql", `{user(id:"""`+union+`"""){name}}`), KindSQLi},
		{"graphql with a quote in a comment", bodyRequest("application/graphql", "# \"\n{user(id:\"admin' --\"){name}}"), KindSQLi},
		{"json with a quote in a comment", bodyRequest("application/json", `{/*"*/"id":"admin' --"}`), KindSQLi},
		{"JSON5 single-quoted string holding a double quote", bodyRequest("application/json", `{a:'x"y', q:"admin'--"}`), KindSQLi},
		{"JSON5 single-quoted URL", bodyRequest("text/plain", `{a:'http://x', q:"admin'--"}`), KindSQLi},
		{"JSON5 single-quoted comment opener", bodyRequest("application/json", `{a:'/*', q:"admin'--", b:'*/'}`), KindSQLi},
		{"JSON5 single-quoted payload", bodyRequest("application/json", `{a:1, q:'admin\' --'}`), KindSQLi},
		{"prose apostrophes around a literal", bodyRequest("text/plain", `{note: Don't say "admin' --" it's rude}`), KindSQLi},
		{"benign graphql", bodyRequest("application/json", `{"query":"{user(name:\"D'Angelo\", city:\"St. John's\"){id}}"}`), KindNone},
		{"benign json with NaN", bodyRequest("application/json", `{"n":NaN,"name":"Jane O'Neil","note":"union of workers"}`), KindNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := d.Inspect(&sc, tc.req, nil); r.Kind != tc.want {
				t.Errorf("%v (%s) at %q; want %v", r.Kind, r.Rule, r.Location, tc.want)
			}
		})
	}
}

// TestLiteralsCostNoValues: the literals of a body count towards the byte
// budget, not the value budget: a long NDJSON log or quoted prose is not
// cut short (and refused under block_truncated).
func TestLiteralsCostNoValues(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	var ndjson strings.Builder
	for i := range 150 {
		fmt.Fprintf(&ndjson, `{"level":"info","msg":"request %d served","path":"/api/items","status":200}`+"\n", i)
	}
	prose := strings.Repeat(`He said "yes" (twice) and "no" (once). `, 300)
	for _, body := range []string{ndjson.String(), prose} {
		r := d.Inspect(&sc, bodyRequest("text/plain", body), nil)
		if r.Truncated || r.Detected() {
			t.Errorf("truncated %v, detected %v (%d values)", r.Truncated, r.Kind, r.Values)
		}
	}
}

// TestWidthFoldNotCharged: a large French text (a no-break space before
// every ':' and in every price) with links (%20) is inspected whole under
// the default budget: the width fold is not charged to it.
func TestWidthFoldNotCharged(t *testing.T) {
	d := mustNew(t, Options{})
	d.clean.off, d.cleanLib.off, d.cleanBody.off = true, true, true
	unit := "Prix\u00a0: 10\u00a0€, voir https://exemple.fr/a%20b pour les détails. "
	body := strings.Repeat(unit, (600<<10)/len(unit))
	var sc Scratch
	r := d.Inspect(&sc, bodyRequest("text/plain; charset=utf-8", body), nil)
	if r.Kind != KindNone || r.Truncated {
		t.Errorf("%v (%s) truncated %v; want a clean, whole inspection", r.Kind, r.Rule, r.Truncated)
	}
}
