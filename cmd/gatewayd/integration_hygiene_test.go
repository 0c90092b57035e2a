package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/hmacsig"
)

// recorder is an upstream that remembers every request it was sent, so a
// test can assert that a refused request reached no upstream at all.
type recorder struct {
	*upstream
	mu   sync.Mutex
	seen []string // request line and headers of each request
}

func startRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.upstream = startUpstream(t, "rec", func(ctx *fasthttp.RequestCtx) {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", ctx.Method(), ctx.Request.Header.RequestURI())
		for k, v := range ctx.Request.Header.All() {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
		rec.mu.Lock()
		rec.seen = append(rec.seen, b.String())
		rec.mu.Unlock()
		ctx.SetBodyString(b.String())
	})
	return rec
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// rawResponse is what came back for raw request bytes.
type rawResponse struct {
	status int
	body   string
	closed bool // the gateway closed the connection after the response
}

// rawDo sends raw bytes on a new connection to addr and reads one response;
// with checkClose it also finds out whether the gateway closed the
// connection after it.
func rawDo(t *testing.T, addr, raw string, checkClose ...bool) rawResponse {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var req *http.Request
	if strings.HasPrefix(raw, "HEAD ") {
		req = &http.Request{Method: "HEAD"} // its response has no body to read
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatalf("read response to %q: %v", raw, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := rawResponse{status: resp.StatusCode, body: string(b)}
	if len(checkClose) == 0 || !checkClose[0] {
		return out
	}
	// A closed connection reads EOF at once; an open one times out.
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = br.ReadByte()
	out.closed = err == io.EOF || (err != nil && !isTimeout(err))
	return out
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

const (
	hygieneSecret = "hygiene-hs256-secret-0123456789abcdef"
	hygieneHMAC   = "hygiene-hmac-secret-0123456789abcdef"
	hygieneKey    = "egk_hygiene-key-0123456789abcdef"
)

func hs256(t *testing.T, scope string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://idp.test/", "aud": "api", "sub": "alice", "scope": scope,
		"exp": time.Now().Add(time.Hour).Unix(),
	})
	s, err := tok.SignedString([]byte(hygieneSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// noneToken is an unsigned token claiming the admin scope.
func noneToken() string {
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	c, _ := json.Marshal(map[string]any{"iss": "https://idp.test/", "aud": "api", "sub": "mallory", "scope": "admin",
		"exp": time.Now().Add(time.Hour).Unix()})
	return enc(h) + "." + enc(c) + "."
}

// hygieneConfig: an open route, JWT (header or cookie), API keys and HMAC on
// /v1, the admin scope on /v1/admin, a matrix-parameter API on /m with an
// admin part, and no route for /private. server holds extra lines of the
// server section ("  key: value\n").
func hygieneConfig(t *testing.T, rec *recorder, server string) (doc, accessLog string) {
	dir := t.TempDir()
	accessLog = filepath.Join(dir, "access.log")
	secret := writeSecret(t, dir, "jwt.secret", hygieneSecret)
	hmacFile := writeSecret(t, dir, "hmac.secret", hygieneHMAC)
	doc = strings.Replace(baseConfig(`
  - name: rec
    targets: [`+rec.addr()+`]
`, `
  - name: admin
    path: /v1/admin
    upstream: rec
    auth: {methods: [jwt, api_key, hmac], scopes: [admin]}
  - name: api
    path: /v1
    upstream: rec
    auth: {methods: [jwt, api_key, hmac]}
  - name: matrix-admin
    path: /m/admin
    upstream: rec
    matrix_params: true
    auth: {methods: [jwt], scopes: [admin]}
  - name: matrix
    path: /m
    upstream: rec
    matrix_params: true
    auth: {methods: [jwt]}
  - name: open
    path: /open
    upstream: rec
  - name: search
    path: /search
    upstream: rec
    methods: [GET, HEAD, TRACE]
    allow_get_body: true
`), `path: "off"`, "path: "+accessLog, 1)
	doc = strings.Replace(doc, "  shutdown_grace: 5s\n", "  shutdown_grace: 5s\n"+server, 1)
	return doc + `
auth:
  jwt:
    cookie: eg_token
    issuers:
      - name: corp
        issuer: https://idp.test/
        audiences: [api]
        algorithms: [HS256]
        keys: [{secret_file: ` + secret + `}]
  api_keys:
    keys:
      - {id: k1, client: acme, hash: "` + keyHash(hygieneKey) + `", scopes: [read]}
  hmac:
    keys:
      - {id: h1, client: billing, secret_file: ` + hmacFile + `}
rate_limit:
  auth_failures: {enabled: false}
`, accessLog
}

// signedAuth returns an HMAC Authorization value for GET path on host.
func signedAuth(t *testing.T, host, path string) string {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://" + host + path)
	if err := hmacsig.Sign(req, path, "h1", []byte(hygieneHMAC), []string{"host"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	return string(req.Header.Peek("Authorization"))
}

// TestRequestHygiene sends, as raw bytes, requests that a common upstream
// would read differently than the gateway, and checks that each is refused
// before any upstream sees it, with its reason code, while benign
// look-alikes pass.
func TestRequestHygiene(t *testing.T) {
	rec := startRecorder(t)
	doc, accessLog := hygieneConfig(t, rec, "")
	g := startGateway(t, doc)
	user, admin := hs256(t, "read"), hs256(t, "admin")
	bearer := "Authorization: Bearer " + user + "\r\n"
	get := func(target string, headers ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: gw.test\r\n" + strings.Join(headers, "") + "\r\n"
	}
	cases := []struct {
		name   string
		raw    string
		status int
		reason string
		closed bool // the connection must be closed after the answer
	}{
		// 1. Double percent-encoding, nested and in any case.
		{"double encoded dot dot", get("/open/%252e%252e/private/y"), 400, "path_ambiguous", false},
		{"double encoded slash", get("/open/..%252fprivate/y"), 400, "path_ambiguous", false},
		{"double encoded letter past the admin scope", get("/v1/%2561dmin/y", bearer), 400, "path_ambiguous", false},
		{"double encoding upper hex", get("/v1/%2561DMIN/y", bearer), 400, "path_ambiguous", false},
		{"double encoded dot upper", get("/open/%252E%252E/private/y"), 400, "path_ambiguous", false},
		{"triple encoding", get("/open/%25252e%25252e/private/y"), 400, "path_ambiguous", false},
		{"encoded percent sign encoded again", get("/open/%2525/x"), 400, "path_ambiguous", false},
		{"double encoded backslash lower hex", get("/open/..%255cprivate/y"), 400, "path_ambiguous", false},
		{"double encoded semicolon in the last segment", get("/v1/admin%253bx", bearer), 400, "path_ambiguous", false},
		{"percent 25 before encoded hex digits", get("/open/%25%32%65%25%32%65/private/y"), 400, "path_ambiguous", false},
		{"percent 25 lower hex digits", get("/v1/%25%36%31dmin/y", bearer), 400, "path_ambiguous", false},
		{"IIS unicode encoding double encoded", get("/open/%25u002e%25u002e/private/y"), 400, "path_ambiguous", false},
		// 2. Path parameters.
		{"parameters on the admin segment", get("/v1/admin;a=b/y", bearer), 400, "path_ambiguous", false},
		{"parameters in the last segment", get("/v1/admin;a=b", bearer), 400, "path_ambiguous", false},
		{"encoded semicolon", get("/v1/admin%3ba=b/y", bearer), 400, "path_ambiguous", false},
		{"dot dot semicolon", get("/open/..;/v1/admin/y", bearer), 400, "path_ambiguous", false},
		{"parameters on a route without matrix_params", get("/open;x=1/y"), 400, "path_ambiguous", false},
		{"matrix route: scope checked on the cut path", get("/m/admin;v=2/y", bearer), 403, "forbidden", false},
		{"matrix route: dot dot semicolon stays ambiguous", get("/m/..;/admin/y", bearer), 400, "path_ambiguous", false},
		// 3. Trailing dots and spaces.
		{"trailing dot on the admin segment", get("/v1/admin./y", bearer), 400, "path_ambiguous", false},
		{"trailing encoded dot", get("/v1/admin%2e/y", bearer), 400, "path_ambiguous", false},
		{"trailing dots", get("/v1/admin../y", bearer), 400, "path_ambiguous", false},
		{"trailing encoded space", get("/v1/admin%20/y", bearer), 400, "path_ambiguous", false},
		// 4. Repeated credentials, every kind.
		{"valid token plus a forged admin token", get("/v1/admin/y", bearer, "Authorization: Bearer "+noneToken()+"\r\n"), 400, "credential_ambiguous", false},
		{"two tokens in two cases", get("/v1/x", bearer, "authorization: Bearer "+admin+"\r\n"), 400, "credential_ambiguous", false},
		{"API key twice", get("/v1/x", "X-API-Key: "+hygieneKey+"\r\n", "X-Api-Key: egk_other\r\n"), 400, "credential_ambiguous", false},
		{"API key beside its underscore spelling", get("/v1/x", "X-API-Key: "+hygieneKey+"\r\n", "X_API_KEY: egk_other\r\n"), 400, "credential_ambiguous", false},
		{"API key only in underscores", get("/open/x", "x_api_key: "+hygieneKey+"\r\n"), 400, "credential_ambiguous", false},
		{"HMAC signature plus a token", get("/v1/x", "Authorization: "+signedAuth(t, "gw.test", "/v1/x")+"\r\n", bearer), 400, "credential_ambiguous", false},
		{"JWT cookie twice in one header", get("/v1/x", "Cookie: eg_token="+user+"; eg_token="+admin+"\r\n"), 400, "credential_ambiguous", false},
		{"JWT cookie in two headers", get("/v1/x", "Cookie: eg_token="+user+"\r\n", "Cookie: EG_TOKEN="+admin+"\r\n"), 400, "credential_ambiguous", false},
		{"JWT cookie respelt for PHP beside the real one", get("/v1/x", "Cookie: eg.token="+admin+"; eg_token="+user+"\r\n"), 400, "credential_ambiguous", false},
		// Upstreams that also split cookies on ',' (ASP.NET Core) would read the second.
		{"JWT cookie hidden after a comma", get("/v1/x", "Cookie: eg_token="+user+"; x=1,eg_token="+admin+"\r\n"), 400, "credential_ambiguous", false},
		{"JWT cookie after a comma beside a bearer token", get("/v1/x", bearer, "Cookie: a=1, eg_token="+admin+"\r\n"), 400, "credential_ambiguous", false},
		{"content length respelt", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2\r\nContent_Length: 0\r\n\r\nhi", 400, "header_invalid", true},
		// Trailer fields bypass every name rule in fasthttp: refused.
		{"spoofable header in a chunked trailer", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" +
			"X-Original-URL: /v1/admin\r\nTrue-Client-IP: 6.6.6.6\r\n\r\n", 400, "header_invalid", true},
		{"second token in a chunked trailer", "POST /v1/x HTTP/1.1\r\nHost: gw.test\r\n" + bearer + "Transfer-Encoding: chunked\r\n\r\n0\r\n" +
			"X-API-Key: " + hygieneKey + "\r\n\r\n", 400, "header_invalid", true},
		{"transfer encoding respelt", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2\r\nTransfer_Encoding: chunked\r\n\r\nhi", 400, "header_invalid", true},
		// 5. Bodies on methods that have none: an upstream that does not
		// read them would take them for a second request.
		{"GET body hiding a second request", "GET /open/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 43\r\n\r\n" +
			"GET /v1/admin/y HTTP/1.1\r\nHost: gw.test\r\n\r\n", 400, "framing_invalid", true},
		{"GET chunked body", "GET /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400, "framing_invalid", true},
		{"GET body announced with Expect", "GET /open/x HTTP/1.1\r\nHost: gw.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 400, "framing_invalid", true},
		{"TRACE body where TRACE is not allowed", "TRACE /open/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 3\r\n\r\nabc", 400, "framing_invalid", true},
		{"GET body to no route", "GET /nothing HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 3\r\n\r\nabc", 400, "framing_invalid", true},
		{"lower-case get with a body", "get /open/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2\r\n\r\n{}", 400, "framing_invalid", true},
		{"HEAD body, where GET bodies are allowed", "HEAD /search/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5\r\n\r\nhello", 400, "", true},
		{"TRACE body, where GET bodies are allowed", "TRACE /search/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5\r\n\r\nhello", 400, "framing_invalid", true},
		// 6. Header names: with strict framing the connection layer refuses
		// them first (TestLenientFraming checks the header stage's answer).
		{"space in a header name", get("/open/x", "X Bad: 1\r\n"), 400, "framing_invalid", true},
		{"slash in a header name", get("/open/x", "X/Bad: 1\r\n"), 400, "framing_invalid", true},
		// 7. Framing: 400 and the connection closed.
		{"Content-Length with Transfer-Encoding", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "framing_invalid", true},
		{"Transfer-Encoding before Content-Length", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, "framing_invalid", true},
		{"Transfer-Encoding identity", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: identity\r\n\r\n", 400, "framing_invalid", true},
		{"obs-fold", get("/open/x", "X-A: 1\r\n 2\r\n"), 400, "framing_invalid", true},
		{"bare LF after the request line", "GET /open/x HTTP/1.1\nHost: gw.test\r\n\r\n", 400, "framing_invalid", true},
		{"bare LF after a header", "GET /open/x HTTP/1.1\r\nHost: gw.test\nX-A: 1\r\n\r\n", 400, "framing_invalid", true},
		{"bare LF ends the head, smuggling a second request",
			"GET /open/x HTTP/1.1\r\nHost: gw.test\r\n\nGET /v1/admin/y HTTP/1.1\r\nHost: gw.test\r\n\r\n", 400, "framing_invalid", true},
		{"bare CR in a header line", get("/open/x", "X-A: 1\r2\r\n"), 400, "framing_invalid", true},
		{"bare LF in a chunk size line", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, "framing_invalid", true},
		{"bare LF after chunk data", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400, "framing_invalid", true},
		{"chunk extensions past 4096 bytes", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("e", 5000) + "\r\nhello\r\n0\r\n\r\n", 400, "framing_invalid", true},
		// 8. CONNECT: no tunnels, and tunnel bytes after it are not a request.
		{"CONNECT in origin form", "CONNECT /open/x HTTP/1.1\r\nHost: gw.test\r\n\r\n", 400, "path_invalid", true},
		{"CONNECT in authority form", "CONNECT gw.test:443 HTTP/1.1\r\nHost: gw.test:443\r\n\r\n", 400, "path_invalid", true},
		{"bare LF in the trailer", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n", 400, "framing_invalid", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			r := rawDo(t, g.data, tc.raw, tc.closed)
			if r.status != tc.status || tc.reason != "" && !strings.Contains(r.body, `"reason":"`+tc.reason) {
				t.Fatalf("got %d %q, want %d with reason %q", r.status, r.body, tc.status, tc.reason)
			}
			if tc.closed && !r.closed {
				t.Error("the connection stayed open after a framing violation")
			}
			if tc.reason != "" && strings.Contains(r.body, `"request_id":""`) {
				t.Error("the refusal names no request ID")
			}
			if n := len(rec.requests()); n != before {
				t.Errorf("the upstream saw %d request(s): %q", n-before, rec.requests()[before:])
			}
		})
	}

	t.Run("benign look-alikes pass", func(t *testing.T) {
		for _, tc := range []struct {
			name, raw, upstreamSees string
		}{
			{"literal %25 in the query", get("/open/x?q=100%25&r=%2525"), "GET /open/x?q=100%25&r=%2525"},
			{"semicolon in the query", get("/open/x?a=1;b=2"), "GET /open/x?a=1;b=2"},
			{"literal %25 in a path", get("/open/100%25off"), "GET /open/100%25off"},
			{"dot inside a segment", get("/open/v1.2/items"), "GET /open/v1.2/items"},
			{"one Authorization header with extra spaces", get("/v1/x", "Authorization:   Bearer "+user+"   \r\n"), "GET /v1/x"},
			{"matrix parameters on a matrix route", get("/m/items;v=2/x", bearer), "GET /m/items;v=2/x"},
			{"API key once", get("/v1/x", "X-API-Key: "+hygieneKey+"\r\n"), "GET /v1/x"},
			{"JWT cookie once among others", get("/v1/x", "Cookie: a=1; eg_token="+user+"; a=2\r\n"), "GET /v1/x"},
			{"Trailer announced on a Content-Length body", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTrailer: X-Checksum\r\nContent-Length: 3\r\n\r\nabc", "POST /open/x"},
			{"Trailer announced on a bodiless GET", get("/open/x", "Trailer: X-Checksum\r\n"), "GET /open/x"},
			{"GET with an empty body", "GET /open/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n\r\n", "GET /open/x"},
			{"GET body on a route that allows it", "GET /search/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2\r\n\r\n{}", "GET /search/x"},
			{"DELETE with a body", "DELETE /open/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2\r\n\r\n{}", "DELETE /open/x"},
			{"chunked body with CRLF framing", "POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "POST /open/x"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := rawDo(t, g.data, tc.raw)
				if r.status != 200 || !strings.HasPrefix(r.body, tc.upstreamSees+"\n") {
					t.Fatalf("got %d %q, want 200 from an upstream that saw %q", r.status, r.body, tc.upstreamSees)
				}
			})
		}
	})

	t.Run("only the verified credential reaches the upstream", func(t *testing.T) {
		r := rawDo(t, g.data, get("/v1/x", bearer, "Cookie: theme=dark; eg_token="+noneToken()+"\r\n", "X-API-Key: egk_forged\r\n"))
		if r.status != 200 {
			t.Fatalf("got %d %q", r.status, r.body)
		}
		if strings.Contains(r.body, "eg_token") || strings.Contains(r.body, "egk_forged") || !strings.Contains(r.body, "theme=dark") {
			t.Fatalf("the upstream got an unverified credential or lost a cookie:\n%s", r.body)
		}
	})

	t.Run("client-IP and URL-override headers never reach the upstream", func(t *testing.T) {
		spoofed := []string{
			"True-Client-IP: 6.6.6.6", "X-Client-IP: 6.6.6.6", "CF-Connecting-IP: 6.6.6.6", "Fastly-Client-IP: 6.6.6.6",
			"X-Cluster-Client-IP: 6.6.6.6", "Forwarded: for=6.6.6.6", "X-Original-URL: /v1/admin", "X-Rewrite-URL: /v1/admin",
			"x_original_url: /v1/admin", "X_Client_IP: 6.6.6.6", "X-HTTP-Method-Override: DELETE", "X-Forwarded-Host: evil.test",
			"X_Forwarded_For: 6.6.6.6", "x-real-ip: 6.6.6.6",
		}
		r := rawDo(t, g.data, get("/open/x", strings.Join(spoofed, "\r\n")+"\r\n"))
		if r.status != 200 {
			t.Fatalf("got %d %q", r.status, r.body)
		}
		if strings.Contains(r.body, "6.6.6.6") || strings.Contains(r.body, "/v1/admin") ||
			strings.Contains(r.body, "DELETE") || strings.Contains(r.body, "evil.test") {
			t.Fatalf("a spoofable header reached the upstream:\n%s", r.body)
		}
		if !strings.Contains(r.body, "X-Forwarded-For: 127.0.0.1") {
			t.Errorf("the gateway's own X-Forwarded-For is missing:\n%s", r.body)
		}
	})

	m := g.metrics(t)
	for _, reason := range []string{"path_ambiguous", "credential_ambiguous", "header_invalid", "framing_invalid"} {
		if !strings.Contains(m, `edgeguard_denied_total{reason="`+reason+`"}`) {
			t.Errorf("no denial counted for %s", reason)
		}
	}
	for _, kind := range []string{"bare_lf", "obs_fold"} {
		if !strings.Contains(m, `edgeguard_framing_violations_total{kind="`+kind+`"}`) {
			t.Errorf("no framing violation counted for %s", kind)
		}
	}
	// Every refusal has its access log line, with the precise cause.
	for _, want := range []string{`"reason":"framing_invalid"`, `"detail":"obs_fold"`, `"reason":"credential_ambiguous"`,
		`"detail":"credential_repeated"`, `"reason":"path_ambiguous"`} {
		waitFor(t, "access log line with "+want, func() bool {
			data, _ := readFile(accessLog)
			return strings.Contains(data, want)
		})
	}
	// A refusal before the head was parsed whole names no method or path
	// (not fasthttp's defaults, GET /); one after names the client's.
	data, _ := readFile(accessLog)
	for _, tc := range []struct{ detail, want string }{
		{`"detail":"cl_and_te"`, `"method":"","path":""`},
		{`"detail":"body_not_allowed"`, `"method":"TRACE","path":"/open/x"`},
	} {
		line := grepLines(data, tc.detail)
		if line == "" || !strings.Contains(line, tc.want) {
			t.Errorf("access log for %s: %q, want %s", tc.detail, line, tc.want)
		}
	}
}

// TestLenientFraming: server.lenient_framing accepts what fasthttp
// normalizes, for legacy clients; the default refuses it.
func TestLenientFraming(t *testing.T) {
	rec := startRecorder(t)
	doc, _ := hygieneConfig(t, rec, "  lenient_framing: true\n")
	g := startGateway(t, doc)
	for _, raw := range []string{
		"GET /open/x HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\r\n 2\r\n\r\n",
		"GET /open/x HTTP/1.1\nHost: gw.test\r\n\r\n",
	} {
		if r := rawDo(t, g.data, raw); r.status != 200 {
			t.Errorf("lenient framing: %q got %d %q", raw, r.status, r.body)
		}
	}
	// The header stage still refuses a name that is not a token.
	r := rawDo(t, g.data, "GET /open/x HTTP/1.1\r\nHost: gw.test\r\nX Bad: 1\r\n\r\n")
	if r.status != 400 || !strings.Contains(r.body, `"reason":"header_invalid"`) {
		t.Errorf("space in a header name: %d %q, want 400 header_invalid", r.status, r.body)
	}
	if len(rec.requests()) != 2 {
		t.Errorf("the upstream saw %d requests, want the 2 lenient ones", len(rec.requests()))
	}
}

// TestSlowHeadsAndConnectionCaps: a request head that trickles in is cut at
// the head timeout with 408; one source cannot hold more than its cap of
// connections, while another source and a trusted proxy can; every cut is
// counted and logged.
func TestSlowHeadsAndConnectionCaps(t *testing.T) {
	rec := startRecorder(t)
	doc, accessLog := hygieneConfig(t, rec, "  request_head_timeout: 400ms\n  max_conns_per_ip: 4\n")
	doc = strings.Replace(doc, "\nroutes:", "\nheaders:\n  trusted_proxies: [127.0.0.9/32]\nroutes:", 1)
	g := startGateway(t, doc)
	dial := func(src string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp4", g.data)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}

	t.Run("a head sent a line at a time is cut at the head timeout", func(t *testing.T) {
		c, err := dial("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_ = c.SetDeadline(start.Add(5 * time.Second))
		io.WriteString(c, "GET /open/x HTTP/1.1\r\n")
		for i := 0; i < 40; i++ { // a line every 50ms: each read is quick, the head never ends
			if _, err := io.WriteString(c, fmt.Sprintf("X-Slow-%d: 1\r\n", i)); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
			if time.Since(start) > 3*time.Second {
				break
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to a slow head: %v", err)
		}
		if resp.StatusCode != 408 {
			t.Fatalf("status %d, want 408", resp.StatusCode)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the slow head was held %v; the head timeout is 400ms", took)
		}
		for _, r := range rec.requests() {
			if strings.Contains(r, "X-Slow-") {
				t.Error("a partial head reached the upstream")
			}
		}
	})

	t.Run("the body gets read_timeout, an idle keep-alive connection idle_timeout", func(t *testing.T) {
		c, err := dial("127.0.0.3")
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, "POST /open/x HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n")
		for range 4 { // 1.2 s for the body: three head timeouts
			time.Sleep(300 * time.Millisecond)
			io.WriteString(c, "ab")
		}
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("a slow body was cut by the head timeout: %v", err)
		} else {
			io.Copy(io.Discard, resp.Body)
		}
		time.Sleep(time.Second) // idle between requests, past the head timeout
		io.WriteString(c, "GET /open/y HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("an idle keep-alive connection was cut by the head timeout: %v", err)
		}
	})

	t.Run("per-source cap", func(t *testing.T) {
		var held []net.Conn
		for range 4 {
			c, err := dial("127.0.0.2")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, "GET /open/x HTTP/1.1\r\n"); err != nil { // a head in progress
				t.Fatal(err)
			}
			held = append(held, c)
		}
		time.Sleep(50 * time.Millisecond)
		c, err := dial("127.0.0.2")
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			io.WriteString(c, "GET /open/x HTTP/1.1\r\nHost: a\r\n\r\n")
			if _, err = c.Read(make([]byte, 1)); err == nil {
				t.Fatal("a fifth connection from one source was served")
			}
		}
		if r := rawDo(t, g.data, "GET /open/x HTTP/1.1\r\nHost: a\r\n\r\n"); r.status != 200 {
			t.Fatalf("another source was refused: %d", r.status)
		}
		for i := range 6 {
			c, err := dial("127.0.0.9")
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			io.WriteString(c, "GET /open/x HTTP/1.1\r\nHost: a\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("trusted proxy connection %d: %v", i, err)
			}
		}
		for _, c := range held {
			c.Close()
		}
	})

	m := g.metrics(t)
	for _, want := range []string{`edgeguard_denied_total{reason="request_timeout"} 1`, `edgeguard_conns_refused_total{reason="per_source"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	g.waitLog("connection refused", "per_source", "127.0.0.2/32")
	waitFor(t, "the access log line of the 408", func() bool {
		data, _ := readFile(accessLog)
		return strings.Contains(data, `"reason":"request_timeout"`)
	})
}

// TestAllowAmbiguousPaths: the switch relaxes the rules for identifiers
// (encoded slashes, double encoding, trailing dots) but never parameters,
// which stay per route and are routed on the cut path.
func TestAllowAmbiguousPaths(t *testing.T) {
	rec := startRecorder(t)
	doc, _ := hygieneConfig(t, rec, "  allow_ambiguous_paths: true\n")
	g := startGateway(t, doc)
	bearer := "Authorization: Bearer " + hs256(t, "read") + "\r\n"
	get := func(target string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: gw.test\r\n" + bearer + "\r\n"
	}
	for _, tc := range []struct {
		target string
		status int
		reason string
	}{
		{"/v1/repos/a%2Fb", 200, ""},
		{"/v1/a%252e", 200, ""},
		{"/v1/file.", 200, ""},
		{"/m/admin;x/y", 403, "forbidden"},
		{"/v1/admin;a=b/y", 400, "path_ambiguous"},
		{"/v1/admin%0a/y", 400, "path_ambiguous"},
		{"/v1/admin%ef%bc%8e/y", 400, "path_ambiguous"},
		{"/v1/%2e%2e/admin", 400, "path_ambiguous"},
	} {
		r := rawDo(t, g.data, get(tc.target))
		if r.status != tc.status || !strings.Contains(r.body, tc.reason) {
			t.Errorf("%s: got %d %q, want %d %s", tc.target, r.status, r.body, tc.status, tc.reason)
		}
	}
}

// TestCustomJWTHeader: with auth.jwt.header set, that header is a
// credential like Authorization: refused twice or respelt, and an
// unverified Authorization beside it never reaches the upstream.
func TestCustomJWTHeader(t *testing.T) {
	rec := startRecorder(t)
	doc, _ := hygieneConfig(t, rec, "")
	doc = strings.Replace(doc, "  jwt:\n    cookie: eg_token\n", "  jwt:\n    header: X-Token\n    cookie: eg_token\n", 1)
	g := startGateway(t, doc)
	user := hs256(t, "read")
	get := func(headers ...string) string {
		return "GET /v1/x HTTP/1.1\r\nHost: gw.test\r\n" + strings.Join(headers, "") + "\r\n"
	}
	for _, tc := range []struct {
		name   string
		raw    string
		status int
		reason string
	}{
		{"token header twice", get("X-Token: "+user+"\r\n", "X-Token: "+noneToken()+"\r\n"), 400, "credential_ambiguous"},
		{"token header respelt", get("X_Token: " + noneToken() + "\r\n"), 400, "credential_ambiguous"},
		{"token header once", get("X-Token: " + user + "\r\n"), 200, ""},
	} {
		if r := rawDo(t, g.data, tc.raw); r.status != tc.status || !strings.Contains(r.body, tc.reason) {
			t.Errorf("%s: got %d %q, want %d %s", tc.name, r.status, r.body, tc.status, tc.reason)
		}
	}
	r := rawDo(t, g.data, get("X-Token: "+user+"\r\n", "Authorization: Bearer "+noneToken()+"\r\n"))
	if r.status != 200 || strings.Contains(r.body, "Authorization") {
		t.Fatalf("got %d, upstream saw:\n%s", r.status, r.body)
	}
}
