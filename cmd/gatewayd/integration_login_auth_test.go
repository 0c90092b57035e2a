package main

import (
	"strings"
	"testing"
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
