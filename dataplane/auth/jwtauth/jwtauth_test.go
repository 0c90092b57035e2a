package jwtauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestValidTokens(t *testing.T) {
	k := mustKeys(t)
	v := newVerifier(t, baseIssuer(t))
	cases := []struct {
		name  string
		token string
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa, nil)},
		{"PS256", sign(t, jwt.SigningMethodPS256, "rsa1", claims(nil), k.rsa, nil)},
		{"ES256", sign(t, jwt.SigningMethodES256, "ec1", claims(nil), k.ec, nil)},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, "ed1", claims(nil), k.ed, nil)},
		{"HS256", sign(t, jwt.SigningMethodHS256, "hs1", claims(nil), k.secret, nil)},
		{"no kid, one key of the family", sign(t, jwt.SigningMethodEdDSA, "", claims(nil), k.ed, nil)},
		{"aud as a string", sign(t, jwt.SigningMethodHS256, "hs1", claims(map[string]any{"aud": "admin"}), k.secret, nil)},
		{"expired within leeway", sign(t, jwt.SigningMethodHS256, "hs1", claims(map[string]any{"exp": testNow.Add(-10 * time.Second).Unix()}), k.secret, nil)},
		{"nbf within leeway", sign(t, jwt.SigningMethodHS256, "hs1", claims(map[string]any{"nbf": testNow.Add(10 * time.Second).Unix()}), k.secret, nil)},
		{"scp array", sign(t, jwt.SigningMethodHS256, "hs1", claims(map[string]any{"scope": nil, "scp": []string{"orders:read", "orders:write"}}), k.secret, nil)},
		{"jku and x5u ignored", sign(t, jwt.SigningMethodHS256, "hs1", claims(nil), k.secret, map[string]any{"jku": "http://127.0.0.1:1/jwks", "x5u": "http://127.0.0.1:1/x5u"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify([]byte(tc.token), testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			p := got.Identity.Principal
			if p.Kind != pipeline.IdentityJWT || p.Subject != "alice" || p.Tier != "gold" || p.RateKey != "jwt:corp:alice" {
				t.Errorf("principal = %+v", p)
			}
			if !got.Identity.HasScopes([]string{"orders:read", "orders:write"}) {
				t.Errorf("scopes = %q", p.Scopes)
			}
		})
	}
}

// TestAttacks is the table of tokens that must all be refused, each with
// the precise cause that goes to the access log.
func TestAttacks(t *testing.T) {
	k := mustKeys(t)
	hits := atomic.Int32{}
	attackerJWKS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(jwksDoc(jwkJSON("evil", &k.rsa2.PublicKey)))
	}))
	defer attackerJWKS.Close()

	rsaOnly := baseIssuer(t)
	rsaOnly.Name, rsaOnly.Issuer, rsaOnly.Algorithms = "rsa-only", "https://rsa.test/", []string{"RS256"}
	rsaOnly.Static = jwks.NewSet([]*jwks.Key{pub(t, "rsa1", &k.rsa.PublicKey)})
	mixed := baseIssuer(t) // allows HS256 too, but only has an RSA key
	mixed.Name, mixed.Issuer, mixed.Algorithms = "mixed", "https://mixed.test/", []string{"RS256", "HS256"}
	mixed.Static = jwks.NewSet([]*jwks.Key{pub(t, "rsa1", &k.rsa.PublicKey)})
	twoKeys := baseIssuer(t)
	twoKeys.Name, twoKeys.Issuer = "two", "https://two.test/"
	twoKeys.Static = jwks.NewSet([]*jwks.Key{pub(t, "a", &k.rsa.PublicKey), pub(t, "b", &k.rsa2.PublicKey)})
	v := newVerifier(t, baseIssuer(t), rsaOnly, mixed, twoKeys)

	rsaPEM := pemOf(t, &k.rsa.PublicKey)
	good := sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa, nil)
	parts := strings.Split(good, ".")
	hdrRS := `{"alg":"RS256","kid":"rsa1","typ":"JWT"}`
	body := payloadJSON(t, claims(nil))
	noneToken := func(alg string) string { return rawToken(`{"alg":"`+alg+`","typ":"JWT"}`, body, nil) }

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", noneToken("none"), ErrAlgNone},
		{"alg None", noneToken("None"), ErrAlgNone},
		{"alg NONE", noneToken("NONE"), ErrAlgNone},
		{"alg nOnE", noneToken("nOnE"), ErrAlgNone},
		{"alg none with a signature", rawToken(`{"alg":"none"}`, body, []byte("sig")), ErrAlgNone},
		{"RS256 to HS256 with the PEM public key as secret",
			sign(t, jwt.SigningMethodHS256, "rsa1", claims(map[string]any{"iss": "https://rsa.test/"}), rsaPEM, nil), ErrAlgNotAllowed},
		{"RS256 to HS256 when the issuer also allows HS256",
			sign(t, jwt.SigningMethodHS256, "rsa1", claims(map[string]any{"iss": "https://mixed.test/"}), rsaPEM, nil), jwks.ErrNoKey},
		{"HS256 against an HMAC kid signed with the RSA PEM", sign(t, jwt.SigningMethodHS256, "hs1", claims(nil), rsaPEM, nil), ErrSignature},
		{"algorithm not in the issuer's list", sign(t, jwt.SigningMethodRS512, "rsa1", claims(nil), k.rsa, nil), ErrAlgNotAllowed},
		{"unknown algorithm", rawToken(`{"alg":"XX999","kid":"rsa1"}`, body, []byte("sig")), ErrAlgNotAllowed},
		{"EC key with another curve's algorithm", sign(t, jwt.SigningMethodES384, "ec1", claims(nil), k.ec384, nil), ErrAlgNotAllowed},
		{"wrong kid", sign(t, jwt.SigningMethodRS256, "nope", claims(nil), k.rsa, nil), jwks.ErrUnknownKID},
		{"missing kid with several keys", sign(t, jwt.SigningMethodRS256, "", claims(map[string]any{"iss": "https://two.test/"}), k.rsa, nil), jwks.ErrKIDRequired},
		{"kid not a string", rawToken(`{"alg":"RS256","kid":7}`, body, []byte("sig")), ErrMalformed},
		{"expired", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}), k.rsa, nil), ErrExpired},
		{"exp missing", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"exp": nil}), k.rsa, nil), ErrExpMissing},
		{"exp not a number", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"exp": "tomorrow"}), k.rsa, nil), ErrClaimInvalid},
		{"not yet valid", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"nbf": testNow.Add(time.Hour).Unix()}), k.rsa, nil), ErrNotYetValid},
		{"issued in the future", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"iat": testNow.Add(time.Hour).Unix()}), k.rsa, nil), ErrIssuedInFuture},
		{"wrong iss", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"iss": "https://evil.test/"}), k.rsa, nil), ErrIssuer},
		{"missing iss", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"iss": nil}), k.rsa, nil), ErrIssuer},
		{"wrong aud", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"aud": []string{"other"}}), k.rsa, nil), ErrAudience},
		{"missing aud", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"aud": nil}), k.rsa, nil), ErrAudience},
		{"missing required claim", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"email": nil}), k.rsa, nil), ErrClaimMissing},
		{"missing subject", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"sub": nil}), k.rsa, nil), ErrClaimMissing},
		{"subject with CR LF (header injection)", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"sub": "alice\r\nX-Auth-Tier: admin"}), k.rsa, nil), ErrClaimInvalid},
		{"scope of the wrong type", sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"scope": 5}), k.rsa, nil), ErrClaimInvalid},
		{"signature stripped", parts[0] + "." + parts[1] + ".", ErrSignature},
		{"signature segment missing", parts[0] + "." + parts[1], ErrMalformed},
		{"signature from another key", sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa2, nil), ErrSignature},
		{"payload altered after signing", parts[0] + "." + rawPart(payloadJSON(t, claims(map[string]any{"sub": "root"}))) + "." + parts[2], ErrSignature},
		{"malformed base64 header", "!!!." + parts[1] + "." + parts[2], ErrMalformed},
		{"malformed base64 payload", parts[0] + ".%%%." + parts[2], ErrMalformed},
		{"malformed base64 signature", parts[0] + "." + parts[1] + ".***", ErrMalformed},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2], ErrMalformed},
		{"malformed JSON header", rawPart(`{"alg":"RS256"`) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"malformed JSON payload", rawPart(hdrRS) + "." + rawPart(`{"sub":`) + "." + parts[2], ErrMalformed},
		{"payload not an object", rawPart(hdrRS) + "." + rawPart(`[1,2]`) + "." + parts[2], ErrMalformed},
		{"empty token", "", ErrMalformed},
		{"four segments", good + ".x", ErrMalformed},
		{"oversized token", good + strings.Repeat("A", 9000), ErrTooLarge},
		{"jku pointing elsewhere", sign(t, jwt.SigningMethodRS256, "evil", claims(nil), k.rsa2, map[string]any{"jku": attackerJWKS.URL}), jwks.ErrUnknownKID},
		{"x5u pointing elsewhere", sign(t, jwt.SigningMethodRS256, "evil", claims(nil), k.rsa2, map[string]any{"x5u": attackerJWKS.URL}), jwks.ErrUnknownKID},
		{"embedded jwk", sign(t, jwt.SigningMethodRS256, "", claims(map[string]any{"iss": "https://two.test/"}), k.rsa2,
			map[string]any{"jwk": jwkJSON("", &k.rsa2.PublicKey)}), jwks.ErrKIDRequired},
		{"embedded jwk with the kid of a trusted key", sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa2,
			map[string]any{"jwk": jwkJSON("rsa1", &k.rsa2.PublicKey)}), ErrSignature},
		{"ECDSA zero signature (r=s=0)", rawToken(`{"alg":"ES256","kid":"ec1"}`, body, make([]byte, 64)), ErrSignature},
		{"ECDSA signature of the wrong length", rawToken(`{"alg":"ES256","kid":"ec1"}`, body, make([]byte, 63)), ErrSignature},
		{"Ed25519 zero signature", rawToken(`{"alg":"EdDSA","kid":"ed1"}`, body, make([]byte, 64)), ErrSignature},
		{"crit header", sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa, map[string]any{"crit": []string{"exp"}, "exp": 1}), ErrCrit},
		{"empty crit header", sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa, map[string]any{"crit": []string{}}), ErrCrit},
		// Readers disagree on which of two members counts: refused.
		{"duplicate alg", rawToken(`{"alg":"RS256","alg":"none"}`, body, nil), ErrDuplicateMember},
		{"duplicate alg, none first", rawToken(`{"alg":"none","alg":"HS256"}`, body, nil), ErrDuplicateMember},
		{"duplicate kid", rawToken(`{"alg":"RS256","kid":"rsa1","kid":"other"}`, body, nil), ErrDuplicateMember},
		{"duplicate sub", rawToken(`{"alg":"RS256","kid":"rsa1"}`, `{"sub":"alice","sub":"admin","exp":9999999999}`, nil), ErrDuplicateMember},
		{"duplicate exp", rawToken(`{"alg":"RS256","kid":"rsa1"}`, `{"sub":"alice","exp":1,"exp":9999999999}`, nil), ErrDuplicateMember},
		{"escaped duplicate", rawToken(`{"alg":"RS256","kid":"rsa1"}`, `{"sub":"alice","\u0073ub":"admin","exp":9999999999}`, nil), ErrDuplicateMember},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify([]byte(tc.token), testNow)
			if err == nil {
				t.Fatalf("accepted: %+v", got.Identity.Principal)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the verifier fetched a token-supplied URL %d times", n)
	}
}

func rawPart(s string) string { return strings.Split(rawToken(s, "", nil), ".")[0] }

func TestCache(t *testing.T) {
	k := mustKeys(t)
	v := newVerifier(t, baseIssuer(t))
	tok := []byte(sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"exp": testNow.Add(2 * time.Minute).Unix()}), k.rsa, nil))
	first, err := v.Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.Verify(tok, testNow.Add(time.Second))
	if err != nil || second != first {
		t.Fatalf("second Verify: %v, same entry %v", err, second == first)
	}
	// A different token with the same claims is a different entry.
	other := []byte(sign(t, jwt.SigningMethodPS256, "rsa1", claims(map[string]any{"exp": testNow.Add(2 * time.Minute).Unix()}), k.rsa, nil))
	if e, err := v.Verify(other, testNow); err != nil || e == first {
		t.Fatalf("other token: %v, shared entry %v", err, e == first)
	}
	// The entry expires no later than exp: after it, the token is checked
	// again (and is valid within the leeway, then expired).
	if v.cache.get(tok, testNow.Add(2*time.Minute).UnixNano()) != nil {
		t.Error("cache served a token at its exp")
	}
	if _, err := v.Verify(tok, testNow.Add(2*time.Minute+31*time.Second)); !errors.Is(err, ErrExpired) {
		t.Errorf("past exp+leeway: %v", err)
	}
	// Changing one byte misses the cache and fails the signature.
	bad := append([]byte(nil), tok...)
	bad[len(bad)-2] ^= 1
	if _, err := v.Verify(bad, testNow); err == nil {
		t.Error("altered token accepted")
	}
}

func TestCacheTTLBoundsEntries(t *testing.T) {
	k := mustKeys(t)
	v, err := New(Config{Issuers: []IssuerConfig{baseIssuer(t)}, MaxTokenBytes: 8192, CacheSize: 16, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tok := []byte(sign(t, jwt.SigningMethodHS256, "hs1", claims(nil), k.secret, nil))
	e, err := v.Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := testNow.Add(time.Minute).UnixNano(); e.expires != want {
		t.Errorf("expires = %d, want now+ttl %d", e.expires, want)
	}
	// The table is fixed: many tokens never grow it.
	for i := range 200 {
		tk := sign(t, jwt.SigningMethodHS256, "hs1", claims(map[string]any{"n": i}), k.secret, nil)
		if _, err := v.Verify([]byte(tk), testNow); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.cache.slots) != 16 {
		t.Errorf("cache grew to %d slots", len(v.cache.slots))
	}
}

// TestJWKSRotation runs a real JWKS server on loopback: a token with a new
// kid triggers one early refresh and verifies; a burst of unknown kids is
// rate-limited; a failing server leaves the last good set in place; a key
// removed from the set stops verifying even for cached tokens.
func TestJWKSRotation(t *testing.T) {
	k := mustKeys(t)
	var doc atomic.Value
	doc.Store(jwksDoc(jwkJSON("k1", &k.rsa.PublicKey)))
	var fail atomic.Bool
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(doc.Load().([]byte))
	}))
	defer srv.Close()

	var clock atomic.Int64
	clock.Store(testNow.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	f := jwks.NewFetcher(jwks.FetcherConfig{URL: srv.URL, Refresh: time.Hour, MinRefresh: 10 * time.Second, Timeout: 2 * time.Second, Now: now})
	f.Start()
	defer f.Close()
	if hits.Load() != 1 || f.Cell().Load().Len() != 1 {
		t.Fatalf("initial fetch: hits %d keys %d", hits.Load(), f.Cell().Load().Len())
	}
	is := baseIssuer(t)
	is.Static, is.Fetchers, is.RefreshWait = nil, []*jwks.Fetcher{f}, 2*time.Second
	v := newVerifier(t, is)

	tok1 := []byte(sign(t, jwt.SigningMethodRS256, "k1", claims(nil), k.rsa, nil))
	if _, err := v.Verify(tok1, testNow); err != nil {
		t.Fatalf("k1: %v", err)
	}

	// Rotation: the IdP publishes k2; the first k2 token refreshes early.
	doc.Store(jwksDoc(jwkJSON("k1", &k.rsa.PublicKey), jwkJSON("k2", &k.rsa2.PublicKey)))
	clock.Add(int64(11 * time.Second))
	tok2 := []byte(sign(t, jwt.SigningMethodRS256, "k2", claims(nil), k.rsa2, nil))
	if _, err := v.Verify(tok2, testNow); err != nil {
		t.Fatalf("k2 after rotation: %v", err)
	}
	if hits.Load() != 2 {
		t.Errorf("hits = %d, want one early refresh", hits.Load())
	}

	// Unknown kids within MinRefresh do not reach the server.
	for i := range 20 {
		tok := sign(t, jwt.SigningMethodRS256, "k-unknown", claims(map[string]any{"n": i}), k.rsa, nil)
		if _, err := v.Verify([]byte(tok), testNow); !errors.Is(err, jwks.ErrUnknownKID) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if hits.Load() != 2 {
		t.Errorf("hits = %d after a burst of unknown kids: refresh not rate-limited", hits.Load())
	}

	// A failing server keeps the last good set.
	fail.Store(true)
	clock.Add(int64(11 * time.Second))
	tok3 := []byte(sign(t, jwt.SigningMethodRS256, "k-other", claims(nil), k.rsa, nil))
	if _, err := v.Verify(tok3, testNow); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Fatalf("k-other: %v", err)
	}
	if hits.Load() != 3 || f.LastError() == nil {
		t.Fatalf("hits %d lastErr %v: want a failed refresh", hits.Load(), f.LastError())
	}
	fresh := []byte(sign(t, jwt.SigningMethodRS256, "k2", claims(map[string]any{"n": "x"}), k.rsa2, nil))
	if _, err := v.Verify(fresh, testNow); err != nil {
		t.Fatalf("k2 after a failed fetch: %v", err)
	}

	// The IdP retires k1: cached k1 tokens are re-verified and refused.
	fail.Store(false)
	doc.Store(jwksDoc(jwkJSON("k2", &k.rsa2.PublicKey)))
	clock.Add(int64(11 * time.Second))
	if ch := f.RequestRefresh(); ch != nil {
		<-ch
	}
	if _, err := v.Verify(tok1, testNow); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Errorf("retired k1: %v", err)
	}
	if _, err := v.Verify(tok2, testNow); err != nil {
		t.Errorf("k2 after k1 retired: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := baseIssuer(t)
	cases := []struct {
		name string
		mod  func(c *Config)
	}{
		{"no issuers", func(c *Config) { c.Issuers = nil }},
		{"no audiences", func(c *Config) { c.Issuers[0].Audiences = nil }},
		{"no algorithms", func(c *Config) { c.Issuers[0].Algorithms = nil }},
		{"alg none", func(c *Config) { c.Issuers[0].Algorithms = []string{"none"} }},
		{"no keys", func(c *Config) { c.Issuers[0].Static = nil }},
		{"duplicate iss", func(c *Config) { c.Issuers = append(c.Issuers, c.Issuers[0]); c.Issuers[1].Name = "b" }},
		{"zero cache", func(c *Config) { c.CacheSize = 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Issuers: []IssuerConfig{good}, MaxTokenBytes: 100, CacheSize: 10, CacheTTL: time.Second}
			tc.mod(&c)
			if _, err := New(c); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestConcurrentVerify churns a small cache from several goroutines: every
// token must always come back with its own identity.
func TestConcurrentVerify(t *testing.T) {
	k := mustKeys(t)
	v, err := New(Config{Issuers: []IssuerConfig{baseIssuer(t)}, MaxTokenBytes: 8192, CacheSize: 16, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	toks := make([][]byte, n)
	for i := range toks {
		toks[i] = []byte(sign(t, jwt.SigningMethodHS256, "hs1", claims(map[string]any{"sub": fmt.Sprintf("user-%d", i)}), k.secret, nil))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				j := (i*7 + g) % n
				e, err := v.Verify(toks[j], testNow)
				if err != nil {
					t.Error(err)
					return
				}
				if want := fmt.Sprintf("user-%d", j); e.Identity.Principal.Subject != want {
					t.Errorf("token %d verified as %q", j, e.Identity.Principal.Subject)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestScopeSeparators: "scope" splits on spaces only (RFC 6749 §3.3); a
// tab or a Unicode space is no separator to the issuer, and a token that
// has one is refused instead of read as more scopes than it grants.
func TestScopeSeparators(t *testing.T) {
	k := mustKeys(t)
	v := newVerifier(t, baseIssuer(t))
	for _, tc := range []struct {
		name, scope string
		want        []string // nil: refused
	}{
		{"spaces", " orders:read  orders:write ", []string{"orders:read", "orders:write"}},
		{"no-break space", "orders:read\u00a0admin", nil},
		{"tab", "orders:read\tadmin", nil},
		{"next line", "orders:read\u0085admin", nil},
		{"control", "orders:read\x01", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, jwt.SigningMethodHS256, "hs1", claims(map[string]any{"scope": tc.scope}), k.secret, nil)
			got, err := v.Verify([]byte(tok), testNow)
			if tc.want == nil {
				if !errors.Is(err, ErrClaimInvalid) {
					t.Fatalf("Verify: %v, want ErrClaimInvalid", err)
				}
				return
			}
			if err != nil || !got.Identity.HasScopes(tc.want) || len(got.Identity.Principal.Scopes) != len(tc.want) {
				t.Fatalf("Verify: %v, scopes %q, want %q", err, got.Identity.Principal.Scopes, tc.want)
			}
		})
	}
}
