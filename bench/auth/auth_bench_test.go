package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth"
	"github.com/edgeguard/edgeguard/dataplane/auth/apikey"
	"github.com/edgeguard/edgeguard/dataplane/auth/hmacsig"
	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwtauth"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type alg struct {
	name   string
	method jwt.SigningMethod
	sign   any // private key or secret
	key    *jwks.Key
}

func algs(b *testing.B) []alg {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	secret := []byte("bench-hmac-secret-0123456789abcdef0123")
	must := func(k *jwks.Key, err error) *jwks.Key {
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	rsaKey := must(jwks.NewPublicKey("rsa", "", &rk.PublicKey))
	return []alg{
		{"RS256", jwt.SigningMethodRS256, rk, rsaKey},
		{"PS256", jwt.SigningMethodPS256, rk, rsaKey},
		{"ES256", jwt.SigningMethodES256, ek, must(jwks.NewPublicKey("ec", "", &ek.PublicKey))},
		{"EdDSA", jwt.SigningMethodEdDSA, edk, must(jwks.NewPublicKey("ed", "", edk.Public()))},
		{"HS256", jwt.SigningMethodHS256, secret, must(jwks.NewSecret("hs", secret))},
	}
}

func token(b *testing.B, a alg, n int) string {
	tok := jwt.NewWithClaims(a.method, jwt.MapClaims{"iss": "https://idp/", "aud": "api", "sub": "alice", "scope": "read write",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(), "n": n})
	tok.Header["kid"] = a.key.ID
	s, err := tok.SignedString(a.sign)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func verifier(b *testing.B, a alg, cacheSize int) *jwtauth.Verifier {
	v, err := jwtauth.New(jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{Name: "corp", Issuer: "https://idp/", Audiences: []string{"api"},
			Algorithms: []string{a.name}, Static: jwks.NewSet([]*jwks.Key{a.key})}},
		MaxTokenBytes: 8192, CacheSize: cacheSize, CacheTTL: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkJWT: per algorithm, the cached check, the full check (a cycle
// of distinct tokens through a 16-entry cache, so every call misses), and
// the bare signature verification. uncached/crypto is reported as a ratio.
func BenchmarkJWT(b *testing.B) {
	for _, a := range algs(b) {
		tok := []byte(token(b, a, 0))
		b.Run(a.name+"/cached", func(b *testing.B) {
			v := verifier(b, a, 1024)
			if _, err := v.Verify(tok, now); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok, now); err != nil {
					b.Fatal(err)
				}
			}
		})
		var cryptoNs float64
		b.Run(a.name+"/crypto", func(b *testing.B) {
			s := string(tok)
			i := strings.LastIndexByte(s, '.')
			sig, err := jwt.NewParser().DecodeSegment(s[i+1:])
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if err := a.method.Verify(s[:i], sig, a.key.Verifier()); err != nil {
					b.Fatal(err)
				}
			}
			cryptoNs = float64(time.Since(start).Nanoseconds()) / float64(b.N)
		})
		b.Run(a.name+"/uncached", func(b *testing.B) {
			const n = 256
			toks := make([][]byte, n)
			for i := range toks {
				toks[i] = []byte(token(b, a, i+1))
			}
			v := verifier(b, a, 16)
			b.ReportAllocs()
			i := 0
			start := time.Now()
			for b.Loop() {
				if _, err := v.Verify(toks[i%n], now); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if cryptoNs > 0 {
				b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/cryptoNs, "x-crypto")
			}
		})
	}
}

func BenchmarkAPIKeyLookup(b *testing.B) {
	key, hash, _ := apikey.Generate()
	h, _ := apikey.ParseHash(hash)
	cfgs := []apikey.KeyConfig{{ID: "k0", Client: "c", Hash: h}}
	for i := 1; i < 10000; i++ {
		cfgs = append(cfgs, apikey.KeyConfig{ID: fmt.Sprintf("k%d", i), Client: "c", Hash: sha256.Sum256([]byte(fmt.Sprint(i)))})
	}
	t, err := apikey.NewTable(cfgs)
	if err != nil {
		b.Fatal(err)
	}
	kb := []byte(key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Lookup(kb, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHMACVerify verifies distinct signed requests (a replayed one
// would be refused), 1 KB body.
func BenchmarkHMACVerify(b *testing.B) {
	secret := []byte("bench-request-signing-secret-0123456789")
	v, err := hmacsig.New(hmacsig.Config{Keys: []hmacsig.KeyConfig{{ID: "svc", Client: "billing", Secret: secret}},
		MaxSkew: time.Hour, ReplayCacheSize: 1 << 22, RequiredHeaders: []string{"host"}})
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 1024)
	const n = 4096
	ctxs := make([]*fasthttp.RequestCtx, n)
	for i := range ctxs {
		req := fasthttp.AcquireRequest()
		req.Header.SetMethod("POST")
		req.SetRequestURI(fmt.Sprintf("http://api.test/ledger?page=%d&sort=asc", i))
		req.Header.Set("Content-Type", "application/json")
		req.SetBodyString(body)
		if err := hmacsig.Sign(req, "/ledger", "svc", secret, []string{"host", "content-type"}, now); err != nil {
			b.Fatal(err)
		}
		ctxs[i] = &fasthttp.RequestCtx{}
		req.CopyTo(&ctxs[i].Request)
		fasthttp.ReleaseRequest(req)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == n {
			b.StopTimer()
			v, _ = hmacsig.New(hmacsig.Config{Keys: []hmacsig.KeyConfig{{ID: "svc", Client: "billing", Secret: secret}},
				MaxSkew: time.Hour, ReplayCacheSize: 1 << 22, RequiredHeaders: []string{"host"}})
			i = 0
			b.StartTimer()
		}
		c := ctxs[i]
		if _, err := v.Verify(c, c.URI().Path(), now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStage runs the whole auth stage (strip, find, verify, scope
// check, identity headers) on a request restored from a template each
// iteration; "copy" is the restore alone.
func BenchmarkStage(b *testing.B) {
	a := algs(b)[0] // RS256
	v := verifier(b, a, 1024)
	key, hash, _ := apikey.Generate()
	h, _ := apikey.ParseHash(hash)
	keys, _ := apikey.NewTable([]apikey.KeyConfig{{ID: "k1", Client: "acme", Hash: h, Scopes: []string{"read"}}})
	s := &auth.Shared{Realm: "edgeguard", JWT: v, APIKeys: keys, APIKeyHeader: "X-API-Key",
		APIKeyQueryParams: []string{"api_key"},
		Identity:          identity.NewHeaders(identity.HeaderNames{Subject: "X-Auth-Subject", KeyID: "X-Auth-Key-Id", Tier: "X-Auth-Tier", Scopes: "X-Auth-Scopes", Kind: "X-Auth-Method"}),
	}
	st, err := auth.NewStage(s, auth.RouteConfig{Route: "api", Methods: auth.MethodJWT | auth.MethodAPIKey, Scopes: []string{"read"}})
	if err != nil {
		b.Fatal(err)
	}
	common := [][2]string{{"User-Agent", "bench/1.0"}, {"Accept", "application/json"}, {"X-Request-ID", "0123456789abcdef0123456789abcdef"}}
	for _, tc := range []struct {
		name string
		hdr  [2]string
	}{
		{"jwt-cached", [2]string{"Authorization", "Bearer " + token(b, a, 0)}},
		{"api-key", [2]string{"X-API-Key", key}},
	} {
		var tmpl fasthttp.RequestHeader
		tmpl.SetRequestURI("/api/items?page=2")
		tmpl.SetHost("api.test")
		for _, kv := range append(common, tc.hdr) {
			tmpl.Set(kv[0], kv[1])
		}
		ctx := &fasthttp.RequestCtx{}
		ctx.Request.SetRequestURI("/api/items?page=2")
		r := &pipeline.Request{Path: []byte("/api/items"), Start: now}
		tmpl.CopyTo(&ctx.Request.Header)
		if st.Handle(ctx, r) != pipeline.Continue {
			b.Fatalf("%s denied: %s", tc.name, r.Detail)
		}
		b.Run(tc.name+"/copy", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tmpl.CopyTo(&ctx.Request.Header)
			}
		})
		b.Run(tc.name+"/copy+stage", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tmpl.CopyTo(&ctx.Request.Header)
				if st.Handle(ctx, r) != pipeline.Continue {
					b.Fatal(r.Detail)
				}
			}
		})
	}
}
