//go:build !race

package jwtauth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
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
