package policy

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/auth"
	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/policy/config"
)

// authFixture is a JWKS server on loopback and key files in a temp dir.
type authFixture struct {
	dir       string
	jwksURL   string
	jwksHits  atomic.Int32
	secret    string // path of a 40-byte HMAC secret
	keyHash   string
	mu        sync.Mutex
	fetchers  []*jwks.Fetcher
	upstreams string
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	f := &authFixture{dir: t.TempDir()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		// An Ed25519 key is enough: the test checks lifecycles, not crypto.
		_, _ = w.Write([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	}))
	t.Cleanup(srv.Close)
	f.jwksURL = srv.URL + "/jwks"
	f.secret = filepath.Join(f.dir, "hmac.secret")
	if err := os.WriteFile(f.secret, []byte("0123456789abcdef0123456789abcdef-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("egk_policy-test-key"))
	f.keyHash = "sha256:" + hex.EncodeToString(sum[:])
	f.upstreams = "  - name: a\n    targets: [" + upstreamAddr(t) + "]\n"
	prev := fetcherStarted
	fetcherStarted = func(fe *jwks.Fetcher) {
		f.mu.Lock()
		f.fetchers = append(f.fetchers, fe)
		f.mu.Unlock()
	}
	t.Cleanup(func() { fetcherStarted = prev })
	return f
}

func (f *authFixture) started() []*jwks.Fetcher {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.fetchers)
}

// doc builds a config; audience and url vary between reloads.
func (f *authFixture) doc(audience, url string, extra string) string {
	return `
auth:
  jwt:
    issuers:
      - name: corp
        issuer: https://corp/
        audiences: [` + audience + `]
        algorithms: [EdDSA, HS256]
        keys:
          - jwks_url: ` + url + `
          - secret_file: ` + f.secret + `
            kid: hs
  api_keys:
    keys:
      - {id: k1, client: acme, hash: "` + f.keyHash + `", routes: [api]}
  hmac:
    keys:
      - {id: h1, client: billing, secret_file: ` + f.secret + `}
` + extra + doc(f.upstreams, `  - name: api
    path: /api
    upstream: a
    auth: {methods: [jwt, api_key, hmac], scopes: [read]}
  - name: public
    path: /
    upstream: a
`)
}

func TestAuthStages(t *testing.T) {
	f := newAuthFixture(t)
	h, _ := newHolder(t, f.doc("api", f.jwksURL, ""))
	p := h.Current()
	// The auth-failure guard runs first, so a locked-out client costs no signature check.
	if got := stageNames(route(t, p, "/api/x")); !slices.Equal(got, []string{"auth_failure_guard", "auth", "waf", "proxy"}) {
		t.Errorf("api stages %v", got)
	}
	if got := stageNames(route(t, p, "/other")); !slices.Equal(got, []string{"identity_strip", "waf", "proxy"}) {
		t.Errorf("public stages %v: identity headers must be stripped on every route", got)
	}
	if _, ok := route(t, p, "/api/x").Stages[1].(*auth.Stage); !ok {
		t.Error("second stage is not the auth stage")
	}
	if f.jwksHits.Load() != 1 {
		t.Errorf("JWKS fetched %d times at start, want 1", f.jwksHits.Load())
	}
}

func TestAuthReloadCarriesState(t *testing.T) {
	f := newAuthFixture(t)
	h, src := newHolder(t, f.doc("api", f.jwksURL, ""))
	first := h.Current().auth
	fetchers := f.started()
	if len(fetchers) != 1 {
		t.Fatalf("%d fetchers started", len(fetchers))
	}

	// Same file contents, different route: everything is carried over.
	src.set(f.doc("api", f.jwksURL, "") + "  - name: more\n    path: /more\n    upstream: a\n")
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	second := h.Current().auth
	if first.shared.HMAC.ReplayOf("h1") == nil {
		t.Fatal("no replay cache for key h1")
	}
	if second.shared.JWT != first.shared.JWT || second.shared.HMAC.ReplayOf("h1") != first.shared.HMAC.ReplayOf("h1") || second.shared.Certs != first.shared.Certs {
		t.Error("unchanged verifiers, token cache or replay cache not carried over")
	}
	if len(f.started()) != 1 {
		t.Error("a new fetcher was started for an unchanged URL")
	}

	// A changed audience rebuilds the verifier but keeps the fetcher.
	src.set(f.doc("api2", f.jwksURL, ""))
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	third := h.Current().auth
	if third.shared.JWT == second.shared.JWT {
		t.Error("verifier kept although the issuer changed")
	}
	if len(f.started()) != 1 || third.shared.HMAC.ReplayOf("h1") != first.shared.HMAC.ReplayOf("h1") {
		t.Error("fetcher or replay cache not carried over")
	}
	select {
	case <-fetchers[0].Done():
		t.Fatal("fetcher stopped although still used")
	default:
	}

	// A different URL starts a new fetcher and stops the old one.
	src.set(f.doc("api2", f.jwksURL+"?v=2", ""))
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if len(f.started()) != 2 {
		t.Fatalf("%d fetchers started", len(f.started()))
	}
	waitDone(t, fetchers[0])

	// A failed reload stops the fetcher it started and keeps the running one.
	src.set(f.doc("api2", f.jwksURL+"?v=3", "") + "  - name: x\n    path: /x\n    upstream: a\n    auth: {methods: [client_cert]}\n")
	if _, err := h.Reload("test"); err == nil {
		t.Fatal("reload accepted a client_cert route without an mTLS listener")
	}
	src.set(strings.Replace(f.doc("api2", f.jwksURL+"?v=3", ""), f.secret+"}", f.secret+".missing}", 1))
	if _, err := h.Reload("test"); err == nil || !strings.Contains(err.Error(), "auth.hmac.keys[0].secret_file") {
		t.Fatalf("reload with a missing secret: %v", err)
	}
	all := f.started()
	if len(all) != 3 {
		t.Fatalf("%d fetchers started", len(all))
	}
	waitDone(t, all[2])
	select {
	case <-all[1].Done():
		t.Fatal("the running policy's fetcher was stopped by a failed reload")
	default:
	}

	// Close stops everything.
	h.Close()
	waitDone(t, all[1])
}

func waitDone(t *testing.T, f *jwks.Fetcher) {
	t.Helper()
	select {
	case <-f.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("fetcher still running")
	}
}

func TestAuthCompileErrors(t *testing.T) {
	f := newAuthFixture(t)
	good := f.doc("api", f.jwksURL, "")
	cases := []struct {
		name    string
		doc     string
		wantKey string
	}{
		{"missing secret file", strings.Replace(good, "kid: hs", "kid: hs\n          - pem_file: /nonexistent.pem", 1), "auth.jwt.issuers[0].keys[2]: pem_file"},
		{"short HMAC secret", strings.Replace(good, f.secret+"\n            kid: hs", writeTemp(t, f.dir, "short", "tooshort")+"\n            kid: hs", 1), "auth.jwt.issuers[0].keys[1]: secret_file"},
		{"api key for an unknown route", strings.Replace(good, "routes: [api]", "routes: [nope]", 1), "auth.api_keys.keys[0].routes[0]"},
		{"client_cert without an mTLS listener", strings.Replace(good, "methods: [jwt, api_key, hmac]", "methods: [client_cert]", 1), "routes[0].auth"},
		{"private key as a JWT key", strings.Replace(good, "kid: hs", "kid: hs\n          - pem_file: "+writeTemp(t, f.dir, "priv.pem", string(certtest.NewCA(t, "x").Server(t).KeyPEM)), 1), "never a private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := config.Parse([]byte(tc.doc), "yaml", "test")
			if err != nil {
				t.Fatalf("config rejected: %v", err)
			}
			p, err := Compile(l, nil, Options{})
			if err == nil {
				p.Close()
				t.Fatal("compiled")
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("error does not name %s: %v", tc.wantKey, err)
			}
		})
	}
}

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestListenerTLSConfig runs real handshakes against the built config.
func TestListenerTLSConfig(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "clients")
	certFile, keyFile := ca.Server(t).WriteFiles(t, dir, "server")
	caFile := ca.WriteFile(t, dir, "ca")
	client := ca.Client(t, certtest.Names{CommonName: "svc", DNS: []string{"svc.corp"}})
	cases := []struct {
		name       string
		tls        *config.ListenerTLS
		withCert   bool
		handshake  bool
		verified   bool
		wantErrKey string
	}{
		{name: "plain TLS", tls: &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile}, handshake: true},
		{name: "request without a cert", tls: &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile, ClientAuth: "request"}, handshake: true},
		{name: "request with a cert", tls: &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile, ClientAuth: "request"}, withCert: true, handshake: true, verified: true},
		{name: "require without a cert", tls: &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile, ClientAuth: "require"}},
		{name: "require with a cert", tls: &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile, ClientAuth: "require", MinVersion: "1.3"}, withCert: true, handshake: true, verified: true},
		{name: "missing key file", tls: &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile + ".nope"}, wantErrKey: "listeners[0].tls"},
		{name: "CA file without certificates", tls: &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: keyFile, ClientAuth: "require"}, wantErrKey: "listeners[0].tls.client_ca_file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Config{Listeners: []config.Listener{{Name: "l", Address: "127.0.0.1:0", TLS: tc.tls}}}
			cfg, err := ListenerTLSConfig(c, 0)
			if tc.wantErrKey != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrKey) {
					t.Fatalf("err = %v, want naming %s", err, tc.wantErrKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ln, err := tls.Listen("tcp4", "127.0.0.1:0", cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			type result struct{ ok, verified bool }
			res := make(chan result, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					res <- result{}
					return
				}
				defer conn.Close()
				tconn := conn.(*tls.Conn)
				_ = tconn.SetDeadline(time.Now().Add(2 * time.Second))
				if tconn.Handshake() != nil {
					res <- result{}
					return
				}
				res <- result{ok: true, verified: len(tconn.ConnectionState().VerifiedChains) > 0}
			}()
			ccfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
			if tc.withCert {
				ccfg.Certificates = []tls.Certificate{client.TLS}
			}
			if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp4", ln.Addr().String(), ccfg); err == nil {
				defer conn.Close()
			}
			got := <-res
			if got.ok != tc.handshake || got.verified != tc.verified {
				t.Errorf("server side: handshake %v verified %v, want %v %v", got.ok, got.verified, tc.handshake, tc.verified)
			}
		})
	}
	if cfg, err := ListenerTLSConfig(&config.Config{Listeners: []config.Listener{{Name: "plain"}}}, 0); cfg != nil || err != nil {
		t.Errorf("plain listener: %v %v", cfg, err)
	}
}

// TestHMACReplayOutlivesARemovedKeySet: a reload that removes every HMAC
// key and a later one that puts the key back keep its replay cache (the
// signatures accepted before could otherwise be replayed within the skew).
func TestHMACReplayOutlivesARemovedKeySet(t *testing.T) {
	f := newAuthFixture(t)
	with := f.doc("api", f.jwksURL, "")
	without := strings.Replace(strings.Replace(with, "  hmac:\n    keys:\n      - {id: h1, client: billing, secret_file: "+f.secret+"}\n", "", 1),
		"[jwt, api_key, hmac]", "[jwt, api_key]", 1)
	if without == with {
		t.Fatal("the fixture's HMAC section was not removed")
	}
	h, src := newHolder(t, with)
	cache := h.Current().auth.shared.HMAC.ReplayOf("h1")
	src.set(without)
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if h.Current().auth.shared.HMAC != nil {
		t.Fatal("a verifier without keys is in use")
	}
	src.set(with)
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if got := h.Current().auth.shared.HMAC.ReplayOf("h1"); got != cache {
		t.Error("the key's replay cache was not carried over a reload without keys")
	}
}
