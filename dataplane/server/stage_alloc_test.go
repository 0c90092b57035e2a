//go:build !race

package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestStagesAllocateNothing proves a proxied request allocates nothing in
// steady state with each stage on its route: a cached JWT, a per-IP limit
// that never refuses, tier 1 of the WAF over a query and a JSON body, JSON
// schema validation, response headers set and removed (and, as in every
// harness, the access log).
func TestStagesAllocateNothing(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hs.secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	schema := filepath.Join(dir, "order.schema.json")
	if err := os.WriteFile(schema, []byte(`{"type":"object","required":["sku","qty"],"properties":{"sku":{"type":"string","maxLength":32},"qty":{"type":"integer","minimum":1},"note":{"type":"string"}},"additionalProperties":false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "bench", "aud": "api", "sub": "client-1", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, `  - {name: jwt, path: /jwt, upstream: api, auth: {methods: [jwt]}}
  - {name: limit, path: /limit, upstream: api, rate_limit: {limits: [never]}}
  - {name: waf, path: /waf, upstream: api, waf: {libinjection: block}}
  - {name: json, path: /json, upstream: api, validate: {json_schema_file: `+schema+`}}
auth:
  jwt:
    issuers:
      - {name: bench, issuer: bench, audiences: [api], algorithms: [HS256], keys: [{secret_file: `+secret+`}]}
rate_limit:
  limits:
    never: {second: 100000000}
headers:
  set_response: {Strict-Transport-Security: "max-age=63072000"}
`)
	body := []byte(`{"sku":"SKU-1","qty":2,"note":"Blue widget, large, for D'Angelo"}`)
	tests := []struct {
		name, method, uri string
		headers           [][2]string
		body              []byte
	}{
		{"cached JWT", "GET", "/jwt/items", [][2]string{{"Authorization", "Bearer " + token}}, nil},
		{"per-IP limit", "GET", "/limit/items?page=2", nil, nil},
		{"WAF tier 1 on query", "GET", "/waf/search?q=union+of+workers&sort=asc", [][2]string{{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"}}, nil},
		{"WAF tier 1 on JSON", "POST", "/waf/orders", [][2]string{{"Content-Type", "application/json"}}, body},
		{"JSON schema", "POST", "/json/orders", [][2]string{{"Content-Type", "application/json"}}, body},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serve := func() int {
				req := &h.ctx.Request
				if h.ctx.RemoteAddr() != h.peer {
					h.ctx.Init(req, h.peer, nil)
				}
				req.Reset()
				h.ctx.Response.Reset()
				req.Header.SetMethod(tc.method)
				req.Header.SetHost("gw.test")
				req.SetRequestURI(tc.uri)
				for _, kv := range tc.headers {
					req.Header.Set(kv[0], kv[1])
				}
				if tc.body != nil {
					req.SetBodyRaw(tc.body)
				}
				h.srv.handle(&h.ctx)
				return h.ctx.Response.StatusCode()
			}
			if st := serve(); st != 200 {
				t.Fatalf("status %d: %s", st, h.ctx.Response.Body())
			}
			for i := 0; i < 500; i++ {
				serve()
			}
			if n := testing.AllocsPerRun(500, func() { serve() }); n != 0 {
				t.Errorf("%v allocs per request, want 0", n)
			}
		})
	}
}
