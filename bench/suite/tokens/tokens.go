// Package tokens makes the keys and JWTs the benchmark suite configures in
// every gateway and sends: one HS256 secret, one RSA-2048 key pair, a valid
// token of each, a file of distinct RS256 tokens for the rotating scenario,
// and the tokens every gateway must refuse (no signature match, expired,
// alg none, an HS256 token signed with the RSA public key).
package tokens

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The iss claims of the HS256 and RS256 tokens; each gateway's HS256
// routes accept only the first, its RS256 routes only the second.
const (
	IssuerHS = "bench-hs"
	IssuerRS = "bench-rs"
	// Audience is the aud claim of every token; every gateway requires it.
	Audience = "bench-api"
)

// Set is what Make writes, with the paths of its files.
type Set struct {
	HSSecret     string // the HMAC secret (hex text, 64 characters)
	HSSecretFile string // the secret in a file, as edgeguard's secret_file reads it
	RSAPubFile   string // PEM public key (PKIX)
	RSAKey       *rsa.PrivateKey

	HS256 string // valid HS256 token
	RS256 string // valid RS256 token
	// RotatingFile holds RotatingCount distinct valid RS256 tokens, one per line.
	RotatingFile  string
	RotatingCount int

	// Refused on every JWT route.
	HSBadSignature string // HS256 signed with another secret
	RSBadSignature string // RS256 signed with another key
	HSExpired      string
	RSExpired      string
	AlgNoneHS      string // unsigned, iss of the HS256 routes
	AlgNoneRS      string // unsigned, iss of the RS256 routes
	HSOnRSKey      string // HS256 signed with the RSA public key's PEM bytes (key confusion)
}

// Make writes the keys and tokens into dir; rotating is how many distinct
// RS256 tokens the rotating scenario cycles through.
func Make(dir string, rotating int) (*Set, error) {
	s := &Set{RotatingCount: rotating}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("make tokens: %w", err)
	}
	s.HSSecret = hex.EncodeToString(secret)
	s.HSSecretFile = filepath.Join(dir, "hs256.secret")
	if err := os.WriteFile(s.HSSecretFile, []byte(s.HSSecret), 0o600); err != nil {
		return nil, fmt.Errorf("make tokens: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("make tokens: rsa key: %w", err)
	}
	s.RSAKey = key
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("make tokens: %w", err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	s.RSAPubFile = filepath.Join(dir, "rs256.pub.pem")
	if err := os.WriteFile(s.RSAPubFile, pubPEM, 0o644); err != nil {
		return nil, fmt.Errorf("make tokens: %w", err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("make tokens: rsa key: %w", err)
	}

	now := time.Now()
	validHS := claims(IssuerHS, "client-0", now, 3*time.Hour)
	validRS := claims(IssuerRS, "client-0", now, 3*time.Hour)
	expiredHS := claims(IssuerHS, "client-0", now.Add(-2*time.Hour), time.Hour)
	expiredRS := claims(IssuerRS, "client-0", now.Add(-2*time.Hour), time.Hour)
	sign := func(m jwt.SigningMethod, c jwt.MapClaims, k any) string {
		if err != nil {
			return ""
		}
		var t string
		t, err = jwt.NewWithClaims(m, c).SignedString(k)
		return t
	}
	s.HS256 = sign(jwt.SigningMethodHS256, validHS, []byte(s.HSSecret))
	s.RS256 = sign(jwt.SigningMethodRS256, validRS, key)
	s.HSBadSignature = sign(jwt.SigningMethodHS256, validHS, []byte(strings.Repeat("x", 64)))
	s.RSBadSignature = sign(jwt.SigningMethodRS256, validRS, other)
	s.HSExpired = sign(jwt.SigningMethodHS256, expiredHS, []byte(s.HSSecret))
	s.RSExpired = sign(jwt.SigningMethodRS256, expiredRS, key)
	s.HSOnRSKey = sign(jwt.SigningMethodHS256, validRS, pubPEM)
	if err != nil {
		return nil, fmt.Errorf("make tokens: %w", err)
	}
	s.AlgNoneHS, s.AlgNoneRS = algNone(validHS), algNone(validRS)

	s.RotatingFile = filepath.Join(dir, "rs256.rotating")
	if err := writeRotating(s.RotatingFile, key, rotating, now); err != nil {
		return nil, err
	}
	return s, nil
}

func claims(iss, sub string, iat time.Time, life time.Duration) jwt.MapClaims {
	return jwt.MapClaims{"iss": iss, "aud": Audience, "sub": sub, "iat": iat.Unix(), "exp": iat.Add(life).Unix()}
}

// algNone builds an unsigned token by hand: golang-jwt refuses to.
func algNone(c jwt.MapClaims) string {
	enc := base64.RawURLEncoding
	payload := fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":%q,"iat":%d,"exp":%d}`, c["iss"], c["aud"], c["sub"], c["iat"], c["exp"])
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + "."
}

// writeRotating signs n distinct tokens (a different sub each) on every
// CPU: RSA-2048 signing costs about a millisecond a token.
func writeRotating(path string, key *rsa.PrivateKey, n int, now time.Time) error {
	out := make([]string, n)
	errs := make(chan error, runtime.NumCPU())
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				t, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(IssuerRS, fmt.Sprintf("client-%d", i), now, 3*time.Hour)).SignedString(key)
				if err != nil {
					errs <- err
					return
				}
				out[i] = t
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("make tokens: rotating: %w", err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("make tokens: %w", err)
	}
	return nil
}
