package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLoginCountsGatewayAuthFailures: on an authentication endpoint that the
// gateway itself authenticates, credentials the gateway rejects count as
// failed logins, so a client guessing API keys is locked out before any of
// its guesses reach the upstream — and stays locked out with a good key.
func TestLoginCountsGatewayAuthFailures(t *testing.T) {
	up := startUpstream(t, "auth", nil)
	good := "eg_good_key_0123456789abcdef0123456789"
	g := startGateway(t, baseConfig("  - name: auth\n    targets: ["+up.addr()+"]\n", `
  - name: token
    path: /token
    upstream: auth
    auth: {methods: [api_key]}
    rate_limit: {login: true}
`)+`
auth:
  api_keys:
    keys:
      - {id: k1, client: acme, hash: "`+keyHash(good)+`"}
rate_limit:
  login:
    max_failures: 3
    lockout: 5s
    delay_step: 10ms
    max_delay: 50ms
`)
	for i := 1; i <= 3; i++ {
		if r := g.do(t, "POST", "/token", "X-API-Key", "eg_guess_"+strings.Repeat("x", i)); r.status != 401 {
			t.Fatalf("guess %d: %d %q, want 401", i, r.status, r.body)
		}
	}
	r := g.do(t, "POST", "/token", "X-API-Key", good)
	if r.status != 429 || !strings.Contains(r.body, `"reason":"login_locked"`) {
		t.Fatalf("after 3 rejected keys: %d %q, want 429 login_locked", r.status, r.body)
	}
	if up.count() != 0 {
		t.Fatalf("upstream reached %d times", up.count())
	}
}

// TestAuthFailuresLockOutAClient: on an ordinary authenticated route, a
// client whose credentials keep failing gets 429 auth_locked before its
// next credential is even checked, while other clients are unaffected.
func TestAuthFailuresLockOutAClient(t *testing.T) {
	up := startUpstream(t, "api", nil)
	good := "eg_good_key_0123456789abcdef0123456789"
	g := startGateway(t, baseConfig("  - name: api\n    targets: ["+up.addr()+"]\n", `
  - name: api
    path: /
    upstream: api
    auth: {methods: [api_key]}
`)+`
auth:
  api_keys:
    keys:
      - {id: k1, client: acme, hash: "`+keyHash(good)+`"}
rate_limit:
  auth_failures: {max_failures: 3, lockout: 30s}
`)
	from := func(src, key string) (int, string, string) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", g.data)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		hdr := ""
		if key != "" {
			hdr = "X-API-Key: " + key + "\r\n"
		}
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: gw\r\n"+hdr+"Connection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), resp.Header.Get("Retry-After")
	}
	// Requests without credentials (a client waiting for the challenge)
	// cost no check and do not count.
	for range 5 {
		if status, body, _ := from("127.0.0.7", ""); status != 401 {
			t.Fatalf("no key: %d %q", status, body)
		}
	}
	for i := 1; i <= 3; i++ {
		if status, body, _ := from("127.0.0.7", "eg_forged_"+strings.Repeat("x", 30+i)); status != 401 {
			t.Fatalf("forged key %d: %d %q", i, status, body)
		}
	}
	status, body, retry := from("127.0.0.7", good)
	if status != 429 || !strings.Contains(body, `"reason":"auth_locked"`) || retry == "" {
		t.Fatalf("after 3 failures, even a good key: %d %q Retry-After %q; want 429 auth_locked", status, body, retry)
	}
	if status, body, _ := from("127.0.0.8", good); status != 200 {
		t.Fatalf("another client: %d %q", status, body)
	}
	if up.count() != 1 {
		t.Fatalf("upstream reached %d times, want once (the other client)", up.count())
	}
}
