package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRequestRules: a validated route's media types, body limit (enforced
// before the body is read), content encoding and request-size limits, end
// to end; refused requests never reach the upstream.
func TestRequestRules(t *testing.T) {
	rec := startRecorder(t)
	g := startGateway(t, baseConfig(`
  - name: rec
    targets: [`+rec.addr()+`]
`, `
  - name: orders
    path: /orders
    upstream: rec
    validate:
      content_types: [application/json, text/*]
      max_body_bytes: 100
      max_query_params: 3
      max_headers: 8
      max_uri_bytes: 200
  - name: big
    host: big.test
    path: /orders
    upstream: rec
    validate:
      content_types: [application/xml]
      max_body_bytes: 100000
  - name: utf8
    path: /utf8
    upstream: rec
    validate:
      json: true
  - name: open
    path: /
    upstream: rec
`))
	post := func(path, ct, body string, extra ...string) string {
		h := "POST " + path + " HTTP/1.1\r\nHost: gw.test\r\n"
		if ct != "" {
			h += "Content-Type: " + ct + "\r\n"
		}
		return h + strings.Join(extra, "") + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	chunked := func(path string, n int) string {
		return "POST " + path + " HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strings.Repeat("a\r\n0123456789\r\n", n) + "0\r\n\r\n"
	}
	for _, tc := range []struct {
		name   string
		raw    string
		status int
		reason string
	}{
		{"allowed type", post("/orders", "application/json; charset=utf-8", `{"a":1}`), 200, ""},
		{"allowed wildcard type", post("/orders", "text/plain", `hi`), 200, ""},
		{"missing type", post("/orders", "", `{"a":1}`), 415, "media_type_unsupported"},
		{"other type", post("/orders", "application/xml", `<a/>`), 415, "media_type_unsupported"},
		{"compressed body", post("/orders", "application/json", "xx", "Content-Encoding: gzip\r\n"), 415, "media_type_unsupported"},
		{"compressed body declared in a second field", post("/orders", "application/json", "xx", "Content-Encoding: identity\r\nContent-Encoding: gzip\r\n"), 415, "media_type_unsupported"},
		// Refused by the header rules first: Content-Encoding in another spelling.
		{"compressed body declared with an underscore", post("/orders", "application/json", "xx", "Content_Encoding: gzip\r\n"), 400, "header_invalid"},
		{"body at the route limit", post("/orders", "application/json", strings.Repeat("1", 100)), 200, ""},
		{"body over the route limit", post("/orders", "application/json", strings.Repeat("1", 101)), 413, "body_too_large"},
		{"chunked body under the limit", chunked("/orders", 9), 200, ""},
		{"chunked body over the limit", chunked("/orders", 11), 413, "body_too_large"},
		{"route limit with parameters cut from the path", post("/orders/x", "application/json", strings.Repeat("1", 101)), 413, "body_too_large"},
		{"other routes keep the server limit", post("/other", "application/xml", strings.Repeat("1", 1000)), 200, ""},
		// An empty chunked body still declared one: its type and coding count.
		{"empty chunked body of another type", "POST /orders HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 415, "media_type_unsupported"},
		{"empty chunked body compressed", "POST /orders HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 415, "media_type_unsupported"},
		{"empty chunked DELETE without a type", "DELETE /orders HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, ""},
		// The absolute form's host routes, not the Host header (RFC 9112 §3.2.2).
		{"absolute form to the host route", "POST http://big.test/orders HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/xml\r\nContent-Length: 4\r\n\r\n<a/>", 200, ""},
		{"too many query parameters", "GET /orders?a=1&b=2&c=3&d=4 HTTP/1.1\r\nHost: gw.test\r\n\r\n", 400, "query_params_too_many"},
		{"URI too long", "GET /orders/" + strings.Repeat("x", 200) + " HTTP/1.1\r\nHost: gw.test\r\n\r\n", 414, "uri_too_long"},
		{"too many headers", "GET /orders HTTP/1.1\r\nHost: gw.test\r\n" + strings.Repeat("X-A: 1\r\n", 9) + "\r\n", 431, "headers_too_many"},
		// Past the server's header buffer: 414 when the request line alone
		// does not fit, 431 when the fields do not.
		{"request line over the header buffer", "GET /orders/" + strings.Repeat("x", 70000) + " HTTP/1.1\r\nHost: gw.test\r\n\r\n", 414, "uri_too_long"},
		{"fields over the header buffer", "GET /orders HTTP/1.1\r\nHost: gw.test\r\nX-Big: " + strings.Repeat("x", 70000) + "\r\n\r\n", 431, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			r := rawDo(t, g.data, tc.raw)
			if r.status != tc.status || !strings.Contains(r.body, tc.reason) {
				t.Fatalf("got %d %q, want %d %s", r.status, r.body, tc.status, tc.reason)
			}
			if reached := len(rec.requests()) != before; reached != (tc.status == 200) {
				t.Errorf("upstream reached: %v", reached)
			}
		})
	}

	for _, head := range []string{
		"POST /orders HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
		// Routed on the target's host, whose route allows 100 bytes, not
		// on the Host header's, which would allow 100000.
		"POST http://gw.test/orders HTTP/1.1\r\nHost: big.test\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n",
		// Neither origin nor plain absolute form: routed as fasthttp
		// parses it, on gw.test.
		"POST //gw.test/orders?u=http://x HTTP/1.1\r\nHost: big.test\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n",
	} {
		t.Run("a declared length over the limit is refused before the body is sent", func(t *testing.T) {
			c, err := net.Dial("tcp", g.data)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, head)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			if resp.StatusCode != 413 {
				t.Fatalf("status %d, want 413", resp.StatusCode)
			}
		})
	}

	// A client that asks before sending (Expect: 100-continue, as curl
	// does for large uploads) must get the 413 instead of a 100 that
	// invites the body: sent after a 100, the body meets a closed
	// connection, whose reset can cost the client the 413 itself.
	// So must one whose head already fails a check that needs no body.
	for _, tc := range []struct {
		name   string
		target string // "/orders" when empty
		length int
		ctype  string
		extra  string // more header lines
		first  int    // status of the first response
		reason string // of a refusal
	}{
		{"over the route limit", "", 10000000, "application/json", "", 413, "body_too_large"},
		{"over the server limit", "/other", 10000000, "application/json", "", 413, "body_too_large"},
		{"media type refused", "", 7, "application/xml", "", 415, "media_type_unsupported"},
		{"under the limit", "", 7, "application/json", "", 100, ""},
		{"too many header fields", "", 7, "application/json", strings.Repeat("X-A: 1\r\n", 4), 431, "headers_too_many"},
		{"JSON in another charset", "/utf8", 7, "application/json; charset=utf-16", "", 415, "media_type_unsupported"},
		{"absolute form names the host route", "http://big.test/orders", 7, "application/xml", "", 100, ""},
	} {
		t.Run("expect 100-continue, "+tc.name, func(t *testing.T) {
			path := tc.target
			if path == "" {
				path = "/orders"
			}
			c, err := net.Dial("tcp", g.data)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: gw.test\r\nContent-Type: "+tc.ctype+"\r\nX-Request-ID: qa-expect-1\r\nExpect: 100-continue\r\n"+tc.extra+"Content-Length: "+
				strconv.Itoa(tc.length)+"\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			if resp.StatusCode != tc.first {
				t.Fatalf("first answer %d, want %d", resp.StatusCode, tc.first)
			}
			if tc.first != 100 {
				b, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(b), tc.reason) {
					t.Errorf("body %q lacks %s", b, tc.reason)
				}
				// The refusal carries the client's request ID, as any other.
				if !strings.Contains(string(b), `"request_id":"qa-expect-1"`) || resp.Header.Get("X-Request-Id") != "qa-expect-1" {
					t.Errorf("request ID lost: body %q, header %q", b, resp.Header.Get("X-Request-Id"))
				}
				return
			}
			io.WriteString(c, `{"a":1}`)
			if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
				t.Fatalf("after the body: %v %v", resp, err)
			}
		})
	}
}

// TestJSONSchemaValidation: a route with a schema file refuses malformed,
// ambiguous and out-of-schema bodies before the upstream, and lists where
// the body failed without echoing it; check-config refuses a schema with
// an unsupported keyword, naming its location.
func TestJSONSchemaValidation(t *testing.T) {
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "order.json")
	writeConfig(t, schemaFile, `{"type":"object","required":["sku","qty"],"additionalProperties":false,
 "properties":{"sku":{"type":"string","format":"uuid"},"qty":{"type":"integer","minimum":1,"maximum":10}}}`)
	rec := startRecorder(t)
	doc := baseConfig(`
  - name: rec
    targets: [`+rec.addr()+`]
`, `
  - name: orders
    path: /orders
    methods: [POST]
    upstream: rec
    validate:
      json_schema_file: `+schemaFile+`
`)
	g := startGateway(t, doc)
	post := func(ct, body string) string {
		return "POST /orders HTTP/1.1\r\nHost: gw.test\r\nContent-Type: " + ct + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	const sku = `"sku":"3f1c6b3e-9a51-4c8e-bb5a-1d2f3e4a5b6c"`
	for _, tc := range []struct {
		name, raw string
		status    int
		want      string
	}{
		{"valid", post("application/json", `{`+sku+`,"qty":2}`), 200, ""},
		{"wrong content type", post("text/plain", `{`+sku+`,"qty":2}`), 415, "media_type_unsupported"},
		{"out of range", post("application/json", `{`+sku+`,"qty":11}`), 400, `"pointer":"/qty"`},
		{"bad format", post("application/json", `{"sku":"not-a-uuid","qty":1}`), 400, `"pointer":"/sku"`},
		{"duplicate key", post("application/json", `{`+sku+`,"qty":1,"qty":9}`), 400, "body_invalid"},
		{"deep nesting", post("application/json", strings.Repeat("[", 10000)+strings.Repeat("]", 10000)), 400, "body_invalid"},
		{"trailing data", post("application/json", `{`+sku+`,"qty":1}x`), 400, "body_invalid"},
		{"utf-8 declared", post("application/json; charset=UTF-8", `{`+sku+`,"qty":2}`), 200, ""},
		{"utf-7 declared", post("application/json; charset=utf-7", `{`+sku+`,"qty":2}`), 415, "media_type_unsupported"},
		{"utf-16 declared", post("application/json; charset=utf-16", `{`+sku+`,"qty":2}`), 415, "media_type_unsupported"},
		{"utf-8 byte order mark", post("application/json", "\xef\xbb\xbf{"+sku+`,"qty":2}`), 400, "body_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			r := rawDo(t, g.data, tc.raw)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Fatalf("got %d %q, want %d containing %s", r.status, r.body, tc.status, tc.want)
			}
			if strings.Contains(r.body, "not-a-uuid") {
				t.Errorf("the answer echoes the body: %s", r.body)
			}
			if reached := len(rec.requests()) != before; reached != (tc.status == 200) {
				t.Errorf("upstream reached: %v", reached)
			}
		})
	}
	if m := g.metrics(t); !strings.Contains(m, `edgeguard_validation_refused_total{route="orders",cause="json_duplicate_key"} 1`) {
		t.Error("the duplicate-key refusal is not counted")
	}

	bad := filepath.Join(dir, "bad.json")
	writeConfig(t, bad, `{"type":"object","properties":{"a":{"unevaluatedProperties":false}}}`)
	cfg := filepath.Join(dir, "bad.yaml")
	writeConfig(t, cfg, strings.Replace(doc, schemaFile, bad, 1))
	out, err := exec.Command(gatewaydBin, "check-config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/properties/a/unevaluatedProperties: keyword not supported") {
		t.Fatalf("check-config accepted an unsupported keyword or did not name it: %v\n%s", err, out)
	}

	// Every route's problem in one report, not the first one's alone.
	broken := filepath.Join(dir, "broken.json")
	writeConfig(t, broken, `{"type":`)
	two := filepath.Join(dir, "two.yaml")
	writeConfig(t, two, baseConfig(`
  - name: rec
    targets: [`+rec.addr()+`]
`, `
  - name: first
    path: /a
    upstream: rec
    validate:
      json_schema_file: `+bad+`
  - name: second
    path: /b
    upstream: rec
    validate:
      json_schema_file: `+broken+`
`))
	out, err = exec.Command(gatewaydBin, "check-config", two).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "routes[0]") || !strings.Contains(string(out), "routes[1]") {
		t.Fatalf("check-config did not report both routes' schemas: %v\n%s", err, out)
	}
}

// TestOpenAPIValidation: a route validated by an OpenAPI document answers
// undeclared operations itself and checks parameters and bodies.
func TestOpenAPIValidation(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "api.yaml")
	writeConfig(t, spec, `openapi: 3.0.3
info: {title: pets, version: "1"}
paths:
  /pets:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
      responses: {"200": {description: ok}}
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses: {"201": {description: created}}
  /pets/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses: {"200": {description: ok}}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string, maxLength: 20}
        tag: {type: string, nullable: true, example: cat}
`)
	rec := startRecorder(t)
	g := startGateway(t, baseConfig("\n  - name: rec\n    targets: ["+rec.addr()+"]\n", `
  - name: pets
    path: /api
    upstream: rec
    validate:
      openapi_file: `+spec+`
`))
	req := func(method, target, body string) string {
		s := method + " " + target + " HTTP/1.1\r\nHost: gw.test\r\n"
		if body != "" {
			s += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
		}
		return s + "\r\n" + body
	}
	for _, tc := range []struct {
		name, raw string
		status    int
		want      string
	}{
		{"declared GET", req("GET", "/api/pets?limit=10", ""), 200, ""},
		{"path parameter", req("GET", "/api/pets/42", ""), 200, ""},
		{"path parameter of the wrong type", req("GET", "/api/pets/abc", ""), 400, `"pointer":"/path/id"`},
		{"query parameter out of range", req("GET", "/api/pets?limit=1000", ""), 400, `"pointer":"/query/limit"`},
		{"query parameter in another case", req("GET", "/api/pets?LIMIT=1000", ""), 400, `"pointer":"/query/limit"`},
		{"query parameter with brackets", req("GET", "/api/pets?limit=10&limit[]=1000", ""), 400, `"pointer":"/query/limit"`},
		{"query parameter encoded twice", req("GET", "/api/pets?%256Cimit=1000", ""), 400, `"pointer":"/query/limit"`},
		{"query parameter repeated", req("GET", "/api/pets?limit=10&%6Cimit=1000", ""), 400, `"pointer":"/query/limit"`},
		{"undeclared path", req("GET", "/api/owners", ""), 404, "no_route"},
		{"undeclared method", req("DELETE", "/api/pets", ""), 405, "method_not_allowed"},
		{"valid body with a null tag", req("POST", "/api/pets", `{"name":"Rex","tag":null}`), 200, ""},
		{"body missing", req("POST", "/api/pets", ""), 400, "body_invalid"},
		{"body out of schema", req("POST", "/api/pets", `{"tag":"dog"}`), 400, `"pointer":"/body"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			r := rawDo(t, g.data, tc.raw)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Fatalf("got %d %q, want %d containing %s", r.status, r.body, tc.status, tc.want)
			}
			if reached := len(rec.requests()) != before; reached != (tc.status == 200) {
				t.Errorf("upstream reached: %v", reached)
			}
		})
	}

	// A client that waits for a 100 Continue gets it for a declared
	// operation, and the operation's refusals from the head otherwise.
	for _, tc := range []struct {
		name, target, ctype string
		first               int
	}{
		{"declared operation", "/api/pets", "application/json", 100},
		{"undeclared media type", "/api/pets", "application/xml", 415},
		{"undeclared path", "/api/owners", "application/json", 404},
	} {
		t.Run("expect 100-continue, "+tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", g.data)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			body := `{"name":"Rex"}`
			io.WriteString(c, "POST "+tc.target+" HTTP/1.1\r\nHost: gw.test\r\nContent-Type: "+tc.ctype+"\r\nExpect: 100-continue\r\nContent-Length: "+
				strconv.Itoa(len(body))+"\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			if resp.StatusCode != tc.first {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("first answer %d %s, want %d", resp.StatusCode, b, tc.first)
			}
			if tc.first != 100 {
				return
			}
			io.WriteString(c, body)
			if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
				t.Fatalf("after the body: %v %v", resp, err)
			}
		})
	}
}
