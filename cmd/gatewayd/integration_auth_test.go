package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
	"github.com/edgeguard/edgeguard/dataplane/auth/hmacsig"
)

// identityEcho is an upstream that reports the identity headers it got.
func identityEcho(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	n := 0
	for k := range h.All() {
		if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(string(k), "_", "-")), "x-auth-") {
			n++
		}
	}
	fmt.Fprintf(ctx, "sub=%s key=%s tier=%s scopes=%s method=%s n=%d", h.Peek("X-Auth-Subject"), h.Peek("X-Auth-Key-Id"),
		h.Peek("X-Auth-Tier"), h.Peek("X-Auth-Scopes"), h.Peek("X-Auth-Method"), n)
}

// authJWKS is a JWKS server on loopback whose key set the test rotates.
type authJWKS struct {
	srv  *httptest.Server
	doc  atomic.Value
	hits atomic.Int32
}

func startJWKS(t *testing.T, keys ...*ecdsa.PrivateKey) *authJWKS {
	j := &authJWKS{}
	j.publish(keys...)
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.hits.Add(1)
		_, _ = w.Write(j.doc.Load().([]byte))
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *authJWKS) publish(keys ...*ecdsa.PrivateKey) {
	var out []map[string]string
	for i, k := range keys {
		b, _ := k.PublicKey.Bytes()
		out = append(out, map[string]string{"kty": "EC", "crv": "P-256", "kid": fmt.Sprintf("k%d", i+1),
			"x": base64.RawURLEncoding.EncodeToString(b[1:33]), "y": base64.RawURLEncoding.EncodeToString(b[33:])})
	}
	doc, _ := json.Marshal(map[string]any{"keys": out})
	j.doc.Store(doc)
}

func es256(t *testing.T, key *ecdsa.PrivateKey, kid string, over map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"iss": "https://idp.test/", "aud": "api", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix(),
		"iat": time.Now().Add(-time.Minute).Unix(), "scope": "orders:read", "tier": "gold"}
	for k, v := range over {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeSecret(t *testing.T, dir, name, secret string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestAuthEndToEnd(t *testing.T) {
	dir := t.TempDir()
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jw := startJWKS(t, k1)
	hmacSecret := "integration-hmac-secret-0123456789abcdef"
	secretFile := writeSecret(t, dir, "hmac.secret", hmacSecret)
	newKey, oldKey := "egk_integration-new-key-0123456789", "egk_integration-old-key-0123456789"
	accessLog := filepath.Join(dir, "access.log")
	up := startUpstream(t, "api", identityEcho)

	doc := strings.Replace(baseConfig(`
  - name: api
    targets: [`+up.addr()+`]
`, `
  - name: orders
    path: /orders
    upstream: api
    auth: {methods: [jwt, api_key, hmac], scopes: [orders:read]}
  - name: admin
    path: /admin
    upstream: api
    auth: {methods: [jwt], scopes: [admin]}
  - name: public
    path: /
    upstream: api
`), `path: "off"`, `path: `+accessLog, 1) + `
auth:
  jwt:
    issuers:
      - name: corp
        issuer: https://idp.test/
        audiences: [api]
        algorithms: [ES256]
        tier_claim: tier
        jwks_min_refresh: 1s
        keys:
          - jwks_url: ` + jw.srv.URL + `/jwks
  api_keys:
    keys:
      - {id: acme-2030, client: acme, tier: gold, hash: "` + keyHash(newKey) + `", scopes: [orders:read]}
      - {id: acme-2029, client: acme, tier: gold, hash: "` + keyHash(oldKey) + `", scopes: [orders:read], not_after: 2020-01-01T00:00:00Z}
  hmac:
    keys:
      - {id: billing-1, client: billing, secret_file: ` + secretFile + `, scopes: [orders:read]}
# This test sends dozens of bad credentials from one address to check each
# refusal; the auth-failure guard (tested on its own) would lock it out.
rate_limit:
  auth_failures: {enabled: false}
`
	g := startGateway(t, doc)

	cases := []struct {
		name      string
		uri       string
		hdr       []string
		status    int
		body      string // substring
		challenge string // substring of WWW-Authenticate
	}{
		{"no credentials", "/orders/1", nil, 401, `"reason":"unauthenticated"`, `Bearer realm="edgeguard"`},
		{"valid token from the JWKS URL", "/orders/1", []string{"Authorization", "Bearer " + es256(t, k1, "k1", nil), "X-Auth-Subject", "root", "X-Auth_Tier", "platinum"},
			200, "sub=alice key= tier=gold scopes=orders:read method=jwt n=4", ""},
		{"expired token", "/orders/1", []string{"Authorization", "Bearer " + es256(t, k1, "k1", map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})},
			401, `"reason":"unauthenticated"`, `error="invalid_token"`},
		{"token signed by an unknown key", "/orders/1", []string{"Authorization", "Bearer " + es256(t, k2, "k1", nil)}, 401, "unauthenticated", "invalid_token"},
		{"token without the admin scope", "/admin", []string{"Authorization", "Bearer " + es256(t, k1, "k1", nil)}, 403, `"reason":"forbidden"`, "insufficient_scope"},
		{"API key", "/orders/2", []string{"X-API-Key", newKey}, 200, "sub=acme key=acme-2030 tier=gold scopes=orders:read method=api_key", ""},
		{"rotated-out API key", "/orders/2", []string{"X-API-Key", oldKey}, 401, "unauthenticated", "ApiKey"},
		{"API key in the query string", "/orders/2?api_key=" + newKey, nil, 400, `"reason":"credential_in_query"`, ""},
		{"public route strips forged identity", "/hello", []string{"X-Auth-Subject", "root", "X-AUTH-KEY-ID", "acme-2030"}, 200, "sub= key= tier= scopes= method= n=0", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			r := g.do(t, "GET", tc.uri, tc.hdr...)
			if r.status != tc.status || !strings.Contains(r.body, tc.body) {
				t.Fatalf("got %d %q, want %d containing %q", r.status, r.body, tc.status, tc.body)
			}
			if !strings.Contains(r.headers["Www-Authenticate"], tc.challenge) {
				t.Errorf("WWW-Authenticate = %q, want containing %q", r.headers["Www-Authenticate"], tc.challenge)
			}
			if tc.status >= 400 && up.count() != before {
				t.Error("a refused request reached the upstream")
			}
		})
	}

	t.Run("JWKS rotation: a new kid triggers one early refresh", func(t *testing.T) {
		jw.publish(k1, k2)
		tok := es256(t, k2, "k2", map[string]any{"sub": "bob"})
		// Early refreshes are rate-limited (jwks_min_refresh: 1s after the
		// fetch at start); once allowed, the first k2 request refreshes and
		// passes.
		var r response
		waitFor(t, "k2 token accepted", func() bool {
			r = g.do(t, "GET", "/orders/3", "Authorization", "Bearer "+tok)
			return r.status == 200
		})
		if !strings.Contains(r.body, "sub=bob") {
			t.Fatalf("%d %q", r.status, r.body)
		}
		if n := jw.hits.Load(); n != 2 {
			t.Errorf("JWKS fetched %d times, want 2 (start, one early refresh)", n)
		}
	})

	t.Run("signed request and its replay", func(t *testing.T) {
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		req.SetRequestURI("http://" + g.data + "/orders/9?b=2&a=1")
		req.Header.SetMethod("POST")
		req.SetBodyString(`{"amount":5}`)
		if err := hmacsig.Sign(req, "/orders/9", "billing-1", []byte(hmacSecret), []string{"host"}, time.Now()); err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{200, 401} {
			resp := fasthttp.AcquireResponse()
			if err := (&fasthttp.Client{}).DoTimeout(req, resp, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != want {
				t.Errorf("attempt %d: %d %s, want %d", i, resp.StatusCode(), resp.Body(), want)
			}
			if want == 200 && !strings.Contains(string(resp.Body()), "sub=billing key=billing-1") {
				t.Errorf("upstream saw %s", resp.Body())
			}
			fasthttp.ReleaseResponse(resp)
		}
	})

	m := g.metrics(t)
	for _, want := range []string{
		`edgeguard_auth_api_key_uses_total{key_id="acme-2030",client="acme"} 1`,
		`edgeguard_auth_hmac_key_uses_total{key_id="billing-1",client="billing"} 1`,
		`edgeguard_auth_denied_total{route="orders",cause="jwt_expired"} 1`,
		`edgeguard_auth_denied_total{route="orders",cause="api_key_expired"} 1`,
		`edgeguard_auth_denied_total{route="orders",cause="api_key_in_query"} 1`,
		`edgeguard_auth_denied_total{route="orders",cause="hmac_replayed"} 1`,
		`edgeguard_auth_denied_total{route="admin",cause="scope_missing"} 1`,
		`edgeguard_denied_total{reason="credential_in_query"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics missing %s", want)
		}
	}

	// The access log has the precise causes and key ids, never a key.
	var log string
	waitFor(t, "access log lines", func() bool {
		log, _ = readFile(accessLog)
		return strings.Contains(log, `"identity":"billing-1"`) && strings.Contains(log, `"detail":"hmac_replayed"`)
	})
	for _, want := range []string{`"detail":"jwt_expired"`, `"detail":"api_key_in_query"`, `"identity":"acme-2030"`, `"detail":"api_key_expired"`, `"identity":"billing-1"`} {
		if !strings.Contains(log, want) {
			t.Errorf("access log missing %s", want)
		}
	}
	if strings.Contains(log, newKey[4:]) || strings.Contains(log, oldKey[4:]) {
		t.Error("the access log contains an API key")
	}
}

// TestMTLSEndToEnd serves a TLS listener that asks for client certificates
// and routes that need one.
func TestMTLSEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "edgeguard clients")
	certFile, keyFile := ca.Server(t).WriteFiles(t, dir, "server")
	caFile := ca.WriteFile(t, dir, "clients-ca")
	up := startUpstream(t, "svc", identityEcho)
	doc := `
listeners:
  - name: mtls
    address: 127.0.0.1:0
    tls: {cert_file: ` + certFile + `, key_file: ` + keyFile + `, client_ca_file: ` + caFile + `, client_auth: request}
management:
  address: 127.0.0.1:0
access_log: {path: "off"}
upstreams:
  - name: svc
    targets: [` + up.addr() + `]
routes:
  - name: svc
    path: /svc
    upstream: svc
    auth: {methods: [client_cert], scopes: [ledger:write]}
  - name: open
    path: /
    upstream: svc
auth:
  client_cert:
    clients:
      - {identity: "spiffe://corp/billing", tier: internal, scopes: [ledger:write]}
`
	g := startGateway(t, doc)
	billing := ca.Client(t, certtest.Names{CommonName: "billing", URIs: []string{"spiffe://corp/billing"}})
	web := ca.Client(t, certtest.Names{CommonName: "web", DNS: []string{"web.corp"}})
	rogue := certtest.NewCA(t, "rogue").Client(t, certtest.Names{URIs: []string{"spiffe://corp/billing"}})

	cases := []struct {
		name    string
		cert    *certtest.Leaf
		uri     string
		status  int // 0: the handshake must fail
		body    string
		reqLine string
	}{
		{"service certificate", billing, "/svc/pay", 200, "sub=spiffe://corp/billing key= tier=internal scopes=ledger:write method=cert", ""},
		{"certificate without the scope", web, "/svc/pay", 403, `"reason":"forbidden"`, ""},
		{"no certificate", nil, "/svc/pay", 401, `"reason":"unauthenticated"`, ""},
		{"no certificate on an open route", nil, "/hello", 200, "sub= ", ""},
		{"certificate from another CA", rogue, "/svc/pay", 0, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
			if tc.cert != nil {
				cert := tc.cert
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
			}
			c := &fasthttp.Client{TLSConfig: cfg}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("https://" + g.data + tc.uri)
			before := g.metrics(t)
			err := c.DoTimeout(req, resp, 5*time.Second)
			if tc.status == 0 {
				if err == nil {
					t.Fatalf("handshake accepted: %d %s", resp.StatusCode(), resp.Body())
				}
				// A failed handshake is no request: counted as such, not
				// as a denied GET / with header_invalid.
				after := g.metrics(t)
				n0, _ := metricValue(before, "edgeguard_tls_handshake_failures_total")
				n1, _ := metricValue(after, "edgeguard_tls_handshake_failures_total")
				if n1 <= n0 { // the client may try more than once
					t.Errorf("edgeguard_tls_handshake_failures_total did not rise (%v -> %v)", n0, n1)
				}
				d0, _ := metricValue(before, `edgeguard_denied_total{reason="header_invalid"}`)
				d1, _ := metricValue(after, `edgeguard_denied_total{reason="header_invalid"}`)
				if d1 != d0 {
					t.Errorf("the failed handshake was counted as a denied request: header_invalid %v -> %v", d0, d1)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != tc.status || !strings.Contains(string(resp.Body()), tc.body) {
				t.Errorf("got %d %s, want %d containing %q", resp.StatusCode(), resp.Body(), tc.status, tc.body)
			}
		})
	}

	// Framing is checked on the bytes inside TLS: the bare-LF smuggle gets
	// 400 and a closed connection, and the smuggled request never runs.
	t.Run("strict framing inside TLS", func(t *testing.T) {
		cert := billing
		cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost",
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }}
		c, err := tls.Dial("tcp", g.data, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		before := up.count()
		io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: a\r\n\nGET /svc/pay HTTP/1.1\r\nHost: a\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"reason":"framing_invalid"`) {
			t.Fatalf("got %d %s, want 400 framing_invalid", resp.StatusCode, b)
		}
		if _, err := http.ReadResponse(br, nil); err == nil {
			t.Fatal("a second response came back: the smuggled request ran")
		}
		if up.count() != before {
			t.Error("the upstream saw a request")
		}
	})
}

// TestListenerCertificateReload: a renewed certificate written over the
// same files is served to new connections after SIGHUP, without a restart;
// a reload whose certificate does not load is rejected and the running one
// stays.
func TestListenerCertificateReload(t *testing.T) {
	dir := t.TempDir()
	oldCA, newCA := certtest.NewCA(t, "issuer one"), certtest.NewCA(t, "issuer two")
	certFile, keyFile := oldCA.Server(t).WriteFiles(t, dir, "server")
	up := startUpstream(t, "svc", nil)
	g := startGateway(t, `
listeners:
  - name: tls
    address: 127.0.0.1:0
    tls: {cert_file: `+certFile+`, key_file: `+keyFile+`}
management: {address: 127.0.0.1:0}
access_log: {path: "off"}
upstreams: [{name: svc, targets: [`+up.addr()+`]}]
routes: [{name: r, path: /, upstream: svc}]
`)
	issuer := func() string {
		c, err := tls.Dial("tcp", g.data, &tls.Config{InsecureSkipVerify: true}) // only the issuer is read
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Issuer.CommonName
	}
	if got := issuer(); got != "issuer one" {
		t.Fatalf("served certificate from %q", got)
	}
	renewed := newCA.Server(t)
	if err := os.WriteFile(certFile, renewed.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, renewed.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, "the renewed certificate served", func() bool { return issuer() == "issuer two" })

	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	g.waitLog("config reload rejected", "listeners[0].tls")
	if got := issuer(); got != "issuer two" {
		t.Fatalf("after a rejected reload: served certificate from %q", got)
	}
}
