package jwtauth

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz seed corpus files")

// fuzzTokens are tokens over fixed keys and claims (HS256 and EdDSA sign
// deterministically), so the seed files verify on every run.
func fuzzTokens(t testing.TB) map[string]string {
	k := mustKeys(t)
	c := claims(map[string]any{"exp": time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()})
	hs := sign(t, jwt.SigningMethodHS256, "hs1", c, k.secret, nil)
	parts := strings.Split(hs, ".")
	return map[string]string{
		"valid-hs256": hs,
		"valid-eddsa": sign(t, jwt.SigningMethodEdDSA, "ed1", c, k.ed, nil),
		"valid-es256": sign(t, jwt.SigningMethodES256, "ec1", c, k.ec, nil),
		"alg-none":    rawToken(`{"alg":"none"}`, payloadJSON(t, c), nil),
		"alg-NONE":    rawToken(`{"alg":"NONE"}`, payloadJSON(t, c), nil),
		"confusion":   sign(t, jwt.SigningMethodHS256, "rsa1", c, pemOf(t, &k.rsa.PublicKey), nil),
		"crit":        sign(t, jwt.SigningMethodHS256, "hs1", c, k.secret, map[string]any{"crit": []string{"b64"}, "b64": false}),
		"valid-jku":   sign(t, jwt.SigningMethodHS256, "hs1", c, k.secret, map[string]any{"jku": "http://127.0.0.1:1/"}),
		"stripped":    parts[0] + "." + parts[1] + ".",
		"two-parts":   parts[0] + "." + parts[1],
		"bad-base64":  parts[0] + ".!!." + parts[2],
		"bad-json":    rawPart(`{"alg":`) + "." + parts[1] + "." + parts[2],
		"zero-ecdsa":  rawToken(`{"alg":"ES256","kid":"ec1"}`, payloadJSON(t, c), make([]byte, 64)),
		"nested-json": rawToken(`{"alg":"HS256","kid":{"a":[[[[]]]]}}`, `{"exp":1e400}`, []byte("x")),
		"empty":       "",
	}
}

// TestWriteFuzzSeeds regenerates the seed corpus with -update-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz/FuzzVerify")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, tok := range fuzzTokens(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", tok)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzVerify feeds arbitrary bytes to the token path. It must never panic,
// and whatever it accepts must carry a header and payload that were really
// signed: no input may forge content.
func FuzzVerify(f *testing.F) {
	toks := fuzzTokens(f)
	signed := map[string]bool{}
	for name, tok := range toks {
		f.Add([]byte(tok))
		if strings.HasPrefix(name, "valid-") {
			p := strings.Split(tok, ".")
			signed[p[0]+"."+p[1]] = true
		}
	}
	is := baseIssuer(f)
	v := newVerifier(f, is)
	now := testNow
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := v.Verify(data, now)
		if err != nil {
			return
		}
		i := bytes.LastIndexByte(data, '.')
		if i < 0 || !signed[string(data[:i])] {
			t.Fatalf("accepted content that was never signed: %q", data)
		}
		if e.Identity.Principal.Subject != "alice" {
			t.Fatalf("identity %+v", e.Identity.Principal)
		}
	})
}
