//go:build !race

package jwtauth

import (
	"bytes"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestVerifyCachedAllocatesNothing(t *testing.T) {
	k := mustKeys(t)
	v := newVerifier(t, baseIssuer(t))
	tok := []byte(sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa, nil))
	if _, err := v.Verify(tok, testNow); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := v.Verify(tok, testNow); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("cached Verify allocates %.1f times per call", n)
	}
	// Refusing an oversized token allocates nothing either.
	big := make([]byte, 10000)
	if n := testing.AllocsPerRun(100, func() { _, _ = v.Verify(big, testNow) }); n != 0 {
		t.Errorf("oversized refusal allocates %.1f", n)
	}
}

// TestVerifyUncachedAllocations holds the uncached path to what the cache
// entry needs (the entry, its copy of the token, one string holding the
// identity's texts, and what identity.New allocates) plus what golang-jwt's
// signing method allocates inside Verify, measured here on its own: the
// parsing, the claim checks and the key choice allocate nothing.
func TestVerifyUncachedAllocations(t *testing.T) {
	k := mustKeys(t)
	v := newVerifier(t, baseIssuer(t))
	for _, tc := range []struct {
		name   string
		method jwt.SigningMethod
		kid    string
		key    any
	}{
		{"HS256", jwt.SigningMethodHS256, "hs1", k.secret},
		{"EdDSA", jwt.SigningMethodEdDSA, "ed1", k.ed},
		{"ES256", jwt.SigningMethodES256, "ec1", k.ec},
		{"RS256", jwt.SigningMethodRS256, "rsa1", k.rsa},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := []byte(sign(t, tc.method, tc.kid, claims(nil), tc.key, nil))
			dot := bytes.LastIndexByte(tok, '.')
			sig, err := segment.DecodeString(string(tok[dot+1:]))
			if err != nil {
				t.Fatal(err)
			}
			key, err := baseIssuer(t).Static.Lookup(tc.kid, tc.method.Alg())
			if err != nil {
				t.Fatal(err)
			}
			signing := b2s(tok[:dot])
			sigAllocs := testing.AllocsPerRun(50, func() {
				if err := tc.method.Verify(signing, sig, key.Verifier()); err != nil {
					t.Fatal(err)
				}
			})
			spec := identity.Spec{Kind: pipeline.IdentityJWT, Subject: "alice", Tier: "gold",
				Scopes: []string{"orders:read", "orders:write"}, RateKey: "jwt:corp:alice"}
			idAllocs := testing.AllocsPerRun(50, func() {
				if _, err := identity.New(spec); err != nil {
					t.Fatal(err)
				}
			})
			got := testing.AllocsPerRun(50, func() {
				if _, err := v.verifySlow(tok, testNow); err != nil {
					t.Fatal(err)
				}
			})
			const entry = 3 // Verified, the token copy, the identity's string
			if got > sigAllocs+idAllocs+entry {
				t.Errorf("uncached %s verification allocates %.0f times: want at most %.0f (signature) + %.0f (identity.New) + %d (entry)",
					tc.name, got, sigAllocs, idAllocs, entry)
			}
			t.Logf("%s: %.0f allocations = signature %.0f + identity.New %.0f + entry %d", tc.name, got, sigAllocs, idAllocs, int(got-sigAllocs-idAllocs))
		})
	}
}

// TestVerifyRefusalsAllocateNothing: a flood of forged tokens refused
// before the signature check costs no garbage, except for JSON that
// json.Valid refuses (it returns a new *json.SyntaxError).
func TestVerifyRefusalsAllocateNothing(t *testing.T) {
	k := mustKeys(t)
	v := newVerifier(t, baseIssuer(t))
	good := sign(t, jwt.SigningMethodHS256, "hs1", claims(nil), k.secret, nil)
	for _, tc := range []struct {
		name   string
		token  string
		want   error
		allocs float64
	}{
		{"unknown kid", sign(t, jwt.SigningMethodHS256, "nope", claims(nil), k.secret, nil), jwks.ErrUnknownKID, 0},
		{"unknown issuer", sign(t, jwt.SigningMethodHS256, "hs1", claims(map[string]any{"iss": "https://evil.test/"}), k.secret, nil), ErrIssuer, 0},
		{"alg none", rawToken(`{"alg":"none"}`, payloadJSON(t, claims(nil)), nil), ErrAlgNone, 0},
		{"bad base64", "!" + good, ErrMalformed, 0},
		{"bad JSON", rawToken(`{"alg":"HS256"`, "{}", nil), ErrMalformed, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := []byte(tc.token)
			if _, err := v.verifySlow(tok, testNow); err != tc.want {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if n := testing.AllocsPerRun(50, func() { _, _ = v.verifySlow(tok, testNow) }); n != tc.allocs {
				t.Errorf("refusal allocates %.0f times, want %.0f", n, tc.allocs)
			}
		})
	}
}
