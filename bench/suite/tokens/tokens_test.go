package tokens

import (
	"bufio"
	"os"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestMake checks each token is what its name says, with golang-jwt as
// the judge: the valid ones verify with the configured key, every other
// one is refused.
func TestMake(t *testing.T) {
	s, err := Make(t.TempDir(), 5)
	if err != nil {
		t.Fatal(err)
	}
	hs := func(*jwt.Token) (any, error) { return []byte(s.HSSecret), nil }
	rs := func(*jwt.Token) (any, error) { return &s.RSAKey.PublicKey, nil }
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256", "RS256"}), jwt.WithAudience(Audience), jwt.WithExpirationRequired()}
	tests := []struct {
		name  string
		token string
		key   jwt.Keyfunc
		valid bool
	}{
		{"HS256", s.HS256, hs, true},
		{"RS256", s.RS256, rs, true},
		{"HS256 bad signature", s.HSBadSignature, hs, false},
		{"RS256 bad signature", s.RSBadSignature, rs, false},
		{"HS256 expired", s.HSExpired, hs, false},
		{"RS256 expired", s.RSExpired, rs, false},
		{"alg none HS", s.AlgNoneHS, hs, false},
		{"alg none RS", s.AlgNoneRS, rs, false},
		{"HS256 with the RSA public key", s.HSOnRSKey, rs, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jwt.Parse(tc.token, tc.key, opts...)
			if (err == nil) != tc.valid {
				t.Fatalf("valid=%v, err=%v", tc.valid, err)
			}
		})
	}
	f, err := os.Open(s.RotatingFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if _, err := jwt.Parse(sc.Text(), rs, opts...); err != nil {
			t.Errorf("rotating token %d: %v", len(seen), err)
		}
		seen[sc.Text()] = true
	}
	if len(seen) != 5 {
		t.Errorf("%d distinct rotating tokens, want 5", len(seen))
	}
}
