package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// testKeys are generated once per test binary (RSA generation is slow);
// the Ed25519, EC and HMAC keys are fixed so fuzz seeds stay valid.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ec384     *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	secret    []byte
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func mustKeys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		d := make([]byte, 32)
		for i := range d {
			d[i] = byte(i + 1)
		}
		if keys.ec, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err != nil {
			panic(err)
		}
		if keys.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		keys.ed = ed25519.NewKeyFromSeed([]byte("edgeguard-test-ed25519-seed-0001"))
		keys.secret = []byte("edgeguard-test-hmac-secret-32-bytes-long!")
	})
	return &keys
}

func pub(t testing.TB, kid string, k crypto.PublicKey) *jwks.Key {
	t.Helper()
	key, err := jwks.NewPublicKey(kid, "", k)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func secretKey(t testing.TB, kid string, s []byte) *jwks.Key {
	t.Helper()
	key, err := jwks.NewSecret(kid, s)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// claims returns a valid claim set for issuer "https://idp.test/".
func claims(over map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":   "https://idp.test/",
		"aud":   []string{"api"},
		"sub":   "alice",
		"exp":   testNow.Add(time.Hour).Unix(),
		"iat":   testNow.Add(-time.Minute).Unix(),
		"nbf":   testNow.Add(-time.Minute).Unix(),
		"scope": "orders:read orders:write",
		"email": "alice@example.test",
		"tier":  "gold",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func sign(t testing.TB, m jwt.SigningMethod, kid string, c jwt.MapClaims, key any, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// rawToken assembles a token from JSON header and payload and a raw
// signature, for tokens the library refuses to produce.
func rawToken(header, payload string, sig []byte) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sig)
}

func payloadJSON(t testing.TB, c jwt.MapClaims) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func pemOf(t testing.TB, k crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// jwkJSON renders a public key as a JWK.
func jwkJSON(kid string, k crypto.PublicKey) map[string]any {
	enc := base64.RawURLEncoding
	switch p := k.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": enc.EncodeToString(p.N.Bytes()),
			"e": enc.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, _ := p.Bytes()
		size := (p.Curve.Params().BitSize + 7) / 8
		crv := map[int]string{32: "P-256", 48: "P-384", 66: "P-521"}[size]
		return map[string]any{"kty": "EC", "kid": kid, "crv": crv, "x": enc.EncodeToString(b[1 : 1+size]), "y": enc.EncodeToString(b[1+size:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": enc.EncodeToString(p)}
	}
	panic("unsupported key")
}

func jwksDoc(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// baseIssuer trusts every test key under its own kid.
func baseIssuer(t testing.TB) IssuerConfig {
	k := mustKeys(t)
	return IssuerConfig{
		Name:           "corp",
		Issuer:         "https://idp.test/",
		Audiences:      []string{"api", "admin"},
		Algorithms:     []string{"RS256", "PS256", "ES256", "EdDSA", "HS256"},
		Leeway:         30 * time.Second,
		RequiredClaims: []string{"email"},
		TierClaim:      "tier",
		Static: jwks.NewSet([]*jwks.Key{
			pub(t, "rsa1", &k.rsa.PublicKey),
			pub(t, "ec1", &k.ec.PublicKey),
			pub(t, "ed1", k.ed.Public()),
			secretKey(t, "hs1", k.secret),
		}),
	}
}

func newVerifier(t testing.TB, issuers ...IssuerConfig) *Verifier {
	t.Helper()
	v, err := New(Config{Issuers: issuers, MaxTokenBytes: 8192, CacheSize: 1024, CacheTTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
