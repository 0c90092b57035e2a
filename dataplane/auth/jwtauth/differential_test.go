package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fastjson"

	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
)

// The differential tests run the production path (verifySlow) and the
// former jwt.MapClaims path (verifyReference) on the same tokens and
// require the same verdict: the same error, or equal entries with equal
// identities. The documented differences: a header member or claim the
// verifier reads given twice is refused (ErrDuplicateMember; the MapClaims
// path kept the last); JSON nested deeper than
// fastjson.MaxDepth is refused by the new path (the old one allowed 10000
// levels), so there only a refusal is required.

// diffVerifier has issuers with the default claim names and with
// configured ones, so both kinds of claim slots are exercised.
func diffVerifier(t testing.TB) *Verifier {
	k := mustKeys(t)
	rsaOnly := baseIssuer(t)
	rsaOnly.Name, rsaOnly.Issuer, rsaOnly.Algorithms = "rsa-only", "https://rsa.test/", []string{"RS256"}
	rsaOnly.Static = jwks.NewSet([]*jwks.Key{pub(t, "rsa1", &k.rsa.PublicKey)})
	mixed := baseIssuer(t)
	mixed.Name, mixed.Issuer, mixed.Algorithms = "mixed", "https://mixed.test/", []string{"RS256", "HS256"}
	mixed.Static = jwks.NewSet([]*jwks.Key{pub(t, "rsa1", &k.rsa.PublicKey)})
	alt := IssuerConfig{
		Name: "alt", Issuer: "https://alt.test/", Audiences: []string{"api"},
		Algorithms:     []string{"HS256", "EdDSA"},
		RequiredClaims: []string{"role", "aud", "iss"},
		SubjectClaim:   "uid",
		Static:         jwks.NewSet([]*jwks.Key{secretKey(t, "hs1", k.secret), pub(t, "ed1", k.ed.Public())}),
	}
	return newVerifier(t, baseIssuer(t), rsaOnly, mixed, alt)
}

var b64 = base64.RawURLEncoding

// hsToken signs header and payload JSON, taken verbatim, with the test
// HMAC secret.
func hsToken(t testing.TB, header, payload string) string {
	t.Helper()
	return hsSigned(t, b64.EncodeToString([]byte(header))+"."+b64.EncodeToString([]byte(payload)))
}

func hsSigned(t testing.TB, signing string) string {
	t.Helper()
	sig, err := jwt.SigningMethodHS256.Sign(signing, mustKeys(t).secret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64.EncodeToString(sig)
}

const hdrHS = `{"alg":"HS256","kid":"hs1","typ":"JWT"}`

// diffPayload is a valid claim set for the base issuer with the members
// in extra replacing or following the usual ones (raw JSON text, so
// duplicates and odd encodings stay as written).
func diffPayload(extra string) string {
	exp, iat := testNow.Add(time.Hour).Unix(), testNow.Add(-time.Minute).Unix()
	p := fmt.Sprintf(`{"iss":"https://idp.test/","aud":["api"],"sub":"alice","exp":%d,"iat":%d,"nbf":%d,"scope":"orders:read orders:write","email":"alice@example.test","tier":"gold"`, exp, iat, iat)
	if extra != "" {
		p += "," + extra
	}
	return p + "}"
}

// diffTokens are the named tokens of the differential test.
func diffTokens(t testing.TB) map[string]string {
	k := mustKeys(t)
	exp := testNow.Add(time.Hour).Unix()
	good := hsToken(t, hdrHS, diffPayload(""))
	parts := strings.Split(good, ".")
	p := func(extra string) string { return hsToken(t, hdrHS, diffPayload(extra)) }
	h := func(header string) string { return hsToken(t, header, diffPayload("")) }
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	alt := func(extra string) string {
		return hsToken(t, hdrHS, fmt.Sprintf(`{"iss":"https://alt.test/","aud":"api","uid":"u1","role":"r","exp":%d%s}`, exp, extra))
	}
	toks := map[string]string{
		// Valid tokens of every family, and the usual refusals.
		"valid HS256":      good,
		"valid RS256":      sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa, nil),
		"valid PS256":      sign(t, jwt.SigningMethodPS256, "rsa1", claims(nil), k.rsa, nil),
		"valid ES256":      sign(t, jwt.SigningMethodES256, "ec1", claims(nil), k.ec, nil),
		"valid EdDSA":      sign(t, jwt.SigningMethodEdDSA, "ed1", claims(nil), k.ed, nil),
		"valid alt":        alt(""),
		"alt without role": hsToken(t, hdrHS, fmt.Sprintf(`{"iss":"https://alt.test/","aud":"api","uid":"u1","exp":%d}`, exp)),
		"alt uid number":   alt(`,"uid":7`),
		"alt EdDSA":        sign(t, jwt.SigningMethodEdDSA, "ed1", jwt.MapClaims{"iss": "https://alt.test/", "aud": "api", "uid": "u", "role": "r", "exp": exp}, k.ed, nil),
		"alt RS256":        sign(t, jwt.SigningMethodRS256, "rsa1", jwt.MapClaims{"iss": "https://alt.test/", "aud": "api", "uid": "u", "role": "r", "exp": exp}, k.rsa, nil),
		"expired":          sign(t, jwt.SigningMethodRS256, "rsa1", claims(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}), k.rsa, nil),
		"wrong key":        sign(t, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa2, nil),
		"wrong HMAC key":   sign(t, jwt.SigningMethodHS256, "hs1", claims(nil), []byte("another-secret-of-at-least-32-bytes!!"), nil),
		"wrong alg":        sign(t, jwt.SigningMethodRS512, "rsa1", claims(nil), k.rsa, nil),
		"confusion":        sign(t, jwt.SigningMethodHS256, "rsa1", claims(map[string]any{"iss": "https://rsa.test/"}), pemOf(t, &k.rsa.PublicKey), nil),
		"confusion mixed":  sign(t, jwt.SigningMethodHS256, "rsa1", claims(map[string]any{"iss": "https://mixed.test/"}), pemOf(t, &k.rsa.PublicKey), nil),
		"tampered":         parts[0] + "." + b64.EncodeToString([]byte(diffPayload(`"sub":"root"`))) + "." + parts[2],
		"no signature":     parts[0] + "." + parts[1] + ".",
		"unknown kid":      h(`{"alg":"HS256","kid":"nope"}`),
		"no kid":           h(`{"alg":"HS256"}`),

		// Duplicate members: the last one wins, as in a Go map.
		"dup sub":            p(`"sub":"mallory","sub":"bob"`),
		"dup exp invalid":    p(fmt.Sprintf(`"exp":%d,"exp":"x"`, exp)),
		"dup exp valid":      p(`"exp":"x","exp":` + fmt.Sprint(exp)),
		"dup iss":            hsToken(t, hdrHS, `{"iss":"https://idp.test/","iss":"https://evil.test/"}`),
		"dup aud":            p(`"aud":"other","aud":["api"]`),
		"dup alg none last":  h(`{"alg":"HS256","kid":"hs1","alg":"none"}`),
		"dup alg HS256 last": h(`{"alg":"none","kid":"hs1","alg":"HS256"}`),
		"dup kid":            h(`{"alg":"HS256","kid":7,"kid":"hs1"}`),
		"dup crit":           h(`{"alg":"HS256","kid":"hs1","crit":null}`),

		// Numbers.
		"exp as string":       p(fmt.Sprintf(`"exp":"%d"`, exp)),
		"exp null":            p(`"exp":null`),
		"exp zero":            p(`"exp":0`),
		"exp minus zero":      p(`"exp":-0.0`),
		"exp fraction":        p(fmt.Sprintf(`"exp":%d.999999999`, exp)),
		"exp exponent":        p(`"exp":1.9e9`),
		"exp negative":        p(`"exp":-1`),
		"exp huge":            p(`"exp":1e19`),
		"exp max float":       p(`"exp":1.7976931348623157e308`),
		"exp out of range":    p(`"exp":1e400`),
		"exp bool":            p(`"exp":true`),
		"exp array":           p(fmt.Sprintf(`"exp":[%d]`, exp)),
		"nbf fraction future": p(fmt.Sprintf(`"nbf":%d.5`, testNow.Add(29*time.Second).Unix())),
		"nbf future":          p(fmt.Sprintf(`"nbf":%d`, testNow.Add(31*time.Second).Unix())),
		"nbf string":          p(`"nbf":"0"`),
		"iat future":          p(fmt.Sprintf(`"iat":%d`, testNow.Add(time.Hour).Unix())),
		"iat null":            p(`"iat":null`),
		"overflow nested":     p(`"x":{"y":[1,{"z":-1e999}]}`),
		"underflow":           p(`"x":1e-400`),
		"long number":         p(`"x":` + strings.Repeat("9", 400)),
		"308 digits":          p(`"x":-` + strings.Repeat("9", 308) + ".5"),
		"309 digits":          p(`"x":` + strings.Repeat("9", 309)),
		"309 digits in range": p(`"x":1` + strings.Repeat("0", 308)),
		"exponent in range":   p(`"x":-1.7e308`),
		"exponent too large":  p(`"x":-1.8e308`),
		"leading zero":        p(`"x":01`),
		"NaN":                 p(`"x":NaN`),
		"Infinity":            p(`"x":Infinity`),
		"plus sign":           p(`"x":+1`),
		"bare dot":            p(`"x":.5`),

		// Structure.
		"nested":                p(`"x":{"a":[{"b":null,"c":[true,false,{}]}]}`),
		"deep 100":              p(`"x":` + deep(100)),
		"deep 298":              p(`"x":` + deep(298)),
		"deep 299":              p(`"x":` + deep(299)),
		"deep 400":              p(`"x":` + deep(400)),
		"payload null":          hsToken(t, hdrHS, `null`),
		"payload array":         hsToken(t, hdrHS, `[1,2]`),
		"payload string":        hsToken(t, hdrHS, `"x"`),
		"payload number":        hsToken(t, hdrHS, `1e400`),
		"payload empty":         hsToken(t, hdrHS, ``),
		"payload spaces":        hsToken(t, hdrHS, " \t\r\n"+diffPayload("")+"\n "),
		"payload two values":    hsToken(t, hdrHS, diffPayload("")+"{}"),
		"trailing comma":        hsToken(t, hdrHS, strings.TrimSuffix(diffPayload(""), "}")+",}"),
		"header null":           h(`null`),
		"header array":          h(`[]`),
		"header spaces":         h(` { "alg" : "HS256" , "kid" : "hs1" } `),
		"header empty":          h(``),
		"header overflow none":  h(`{"alg":"none","x":1e400}`),
		"header overflow HS":    h(`{"alg":"HS256","kid":"hs1","x":1e400}`),
		"header overflow XX":    h(`{"alg":"XX","x":1e400}`),
		"header deep none":      h(`{"alg":"none","x":` + deep(400) + `}`),
		"header alg number":     h(`{"alg":256,"kid":"hs1"}`),
		"header alg null":       h(`{"alg":null}`),
		"header alg None":       h(`{"alg":"None"}`),
		"header crit empty":     h(`{"alg":"HS256","kid":"hs1","crit":[]}`),
		"header kid null":       h(`{"alg":"HS256","kid":null}`),
		"header typ odd":        h(`{"alg":"HS256","kid":"hs1","typ":["x"]}`),
		"header bad json":       h(`{"alg":"HS256",}`),
		"none bad payload":      b64.EncodeToString([]byte(`{"alg":"none"}`)) + ".%%." + parts[2],
		"XX bad payload":        b64.EncodeToString([]byte(`{"alg":"XX"}`)) + ".%%." + parts[2],
		"HS bad payload":        parts[0] + ".%%." + parts[2],
		"none bad signature":    b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".***",
		"XX bad signature":      b64.EncodeToString([]byte(`{"alg":"XX"}`)) + "." + parts[1] + ".***",
		"XX bad payload JSON":   hsToken(t, `{"alg":"XX"}`, `{`),
		"none bad payload JSON": hsToken(t, `{"alg":"nOnE"}`, `{`),

		// Strings: escapes, surrogates and invalid UTF-8, decoded as
		// encoding/json does.
		"sub escaped":             p(`"sub":"\u0061lice"`),
		"sub escapes":             p(`"sub":"a\"b\\c\/d\b\f\t"`),
		"sub lone high":           p(`"sub":"al\ud800ice"`),
		"sub lone low":            p(`"sub":"al\udc00ice"`),
		"sub high then ascii":     p(`"sub":"a\ud800\u0041"`),
		"sub high high low":       p(`"sub":"a\ud800\ud800\udc00"`),
		"sub high at end":         p(`"sub":"a\ud800"`),
		"sub pair":                p(`"sub":"\ud83d\ude00"`),
		"sub pair upper":          p(`"sub":"\uD83D\uDE00"`),
		"sub escaped backslash u": p(`"sub":"\\ud800"`),
		"sub invalid utf8":        p("\"sub\":\"al\xffice\""),
		"sub truncated utf8":      p("\"sub\":\"a\xe2\x82\""),
		"sub encoded surrogate":   p("\"sub\":\"a\xed\xa0\x80\""),
		"sub replacement char":    p(`"sub":"a\ufffd"`),
		"sub control escaped":     p(`"sub":"a\u000ab"`),
		"sub control raw":         p("\"sub\":\"a\x01b\""),
		"sub bad escape":          p(`"sub":"a\qb"`),
		"sub NUL escaped":         p(`"sub":"a\u0000"`),
		"sub empty":               p(`"sub":""`),
		"sub null":                p(`"sub":null`),
		"key escaped":             p(`"s\u0075b":"bob"`),
		"key invalid utf8":        p("\"sub\xff\":\"bob\""),
		"iss escaped":             hsToken(t, hdrHS, strings.Replace(diffPayload(""), `"https://idp.test/"`, `"https:\/\/idp.test\/"`, 1)),
		"kid escaped":             h(`{"alg":"HS256","kid":"h\u00731"}`),
		"kid lone surrogate":      h(`{"alg":"HS256","kid":"hs1\udfff"}`),
		"alg escaped":             h(`{"alg":"H\u0053256","kid":"hs1"}`),
		"alg invalid utf8":        h("{\"alg\":\"HS256\xff\",\"kid\":\"hs1\"}"),
		"tier number":             p(`"tier":1`),
		"tier null":               p(`"tier":null`),
		"tier unicode":            p(`"tier":"g\u00f6ld"`),
		"email null":              p(`"email":null`),
		"email false":             p(`"email":false`),

		// Audience and scopes.
		"aud string":           p(`"aud":"admin"`),
		"aud object":           p(`"aud":{"api":true}`),
		"aud empty":            p(`"aud":[]`),
		"aud number in array":  p(`"aud":["api",1]`),
		"aud null":             p(`"aud":null`),
		"aud escaped":          p(`"aud":["\u0061pi"]`),
		"scope unicode spaces": p(`"scope":"a\u00a0b\u2003c\u0085d \t e"`),
		"scope only spaces":    p(`"scope":"   "`),
		"scope null with scp":  p(`"scope":null,"scp":["x"]`),
		"scp array":            hsToken(t, hdrHS, strings.Replace(diffPayload(`"scp":["a","b"]`), `"scope":"orders:read orders:write",`, "", 1)),
		"scp string":           hsToken(t, hdrHS, strings.Replace(diffPayload(`"scp":"a b"`), `"scope":"orders:read orders:write",`, "", 1)),
		"scope array":          p(`"scope":["a","b"]`),
		"scope array number":   p(`"scope":["a",1]`),
		"scope array empty":    p(`"scope":[]`),
		"scope array blank":    p(`"scope":["a",""]`),
		"scope array space":    p(`"scope":["a b"]`),
		"scope number":         p(`"scope":5`),
		"scope many":           p(`"scope":"` + strings.TrimSpace(strings.Repeat("s ", 40)) + `"`),

		// Encoding of the segments.
		"padded header":      parts[0] + "==." + parts[1] + "." + parts[2],
		"std alphabet":       strings.NewReplacer("-", "+", "_", "/").Replace(good),
		"newline in payload": hsSigned(t, parts[0]+"."+parts[1][:10]+"\r\n"+parts[1][10:]),
		"trailing bits":      hsSigned(t, b64.EncodeToString([]byte("{}"))[:2]+"f."+parts[1]),
		"empty header":       hsSigned(t, "."+parts[1]),
		"two dots only":      "..",
		"one dot":            parts[0] + "." + parts[1],
		"four segments":      good + ".x",
		"empty":              "",
	}
	return toks
}

// diffNows are the instants each token is checked at: the test clock and
// either side of the leeway boundary of a token expiring in an hour.
var diffNows = []time.Time{
	testNow,
	testNow.Add(time.Hour + 30*time.Second - time.Nanosecond),
	testNow.Add(time.Hour + 30*time.Second),
}

func TestDifferential(t *testing.T) {
	v := diffVerifier(t)
	for name, tok := range diffTokens(t) {
		t.Run(name, func(t *testing.T) {
			for _, now := range diffNows {
				sameVerdict(t, v, []byte(tok), now)
			}
		})
	}
}

// sameVerdict fails t unless both paths agree on token at now.
func sameVerdict(t *testing.T, v *Verifier, token []byte, now time.Time) {
	t.Helper()
	if len(token) > v.maxBytes {
		return // Verify refuses these before either path
	}
	want, wantErr := v.verifyReference(token, now)
	got, gotErr := v.verifySlow(token, now)
	if deeperThanFastjson(token) {
		if gotErr == nil {
			t.Fatalf("%q: accepted JSON nested deeper than %d", token, fastjson.MaxDepth)
		}
		return
	}
	if dup := duplicateReadMember(v, token); dup || gotErr == ErrDuplicateMember {
		switch {
		case !dup:
			t.Fatalf("%q: refused as a duplicate member, but no member the verifier reads is repeated", token)
		case gotErr == nil:
			t.Fatalf("%q: accepted a repeated header member or claim", token)
		}
		return // refused, maybe for another fault first: the paths disagree here by design
	}
	if gotErr != wantErr {
		t.Fatalf("%q at %v: error %v, the MapClaims path says %v", token, now, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	if !reflect.DeepEqual(got.Identity, want.Identity) {
		t.Fatalf("%q: identity %+v, the MapClaims path built %+v", token, got.Identity.Principal, want.Identity.Principal)
	}
	if got.Issuer != want.Issuer || got.expires != want.expires || got.cell != want.cell || got.set != want.set || string(got.token) != string(token) {
		t.Fatalf("%q: entry issuer %d expires %d, want issuer %d expires %d (or another key source)", token, got.Issuer, got.expires, want.Issuer, want.expires)
	}
}

// duplicateReadMember reports whether the header repeats alg or kid, or the
// payload repeats a claim v reads (names compared unescaped), read with
// encoding/json's tokenizer.
func duplicateReadMember(v *Verifier, token []byte) bool {
	parts := strings.Split(string(token), ".")
	if len(parts) != 3 {
		return false
	}
	for i, seg := range parts[:2] {
		data, err := segment.DecodeString(seg)
		if err != nil {
			return false
		}
		read := func(name string) bool {
			if i == 0 {
				return name == "alg" || name == "kid"
			}
			_, ok := v.claimSlot[name]
			return ok
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			continue
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			name, _ := tok.(string)
			if read(name) && seen[name] {
				return true
			}
			seen[name] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				break
			}
		}
	}
	return false
}

// deeperThanFastjson reports whether the header or payload of token
// decodes to JSON nested deeper than fastjson parses.
func deeperThanFastjson(token []byte) bool {
	parts := strings.Split(string(token), ".")
	if len(parts) != 3 {
		return false
	}
	for _, seg := range parts[:2] {
		data, err := segment.DecodeString(seg)
		if err != nil {
			continue
		}
		depth, inString, escaped := 0, false, false
		for _, c := range data {
			switch {
			case inString && escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case inString && c == '"':
				inString = false
			case inString:
			case c == '"':
				inString = true
			case c == '[' || c == '{':
				if depth++; depth > fastjson.MaxDepth {
					return true
				}
			case c == ']' || c == '}':
				depth--
			}
		}
	}
	return false
}

// FuzzDifferential compares the two paths on tokens built from fuzzed
// header and payload JSON, HMAC-signed so that the fuzzer reaches the
// claim checks, or on a fuzzed token taken as it is (raw).
func FuzzDifferential(f *testing.F) {
	for _, tok := range diffTokens(f) {
		f.Add([]byte(tok), []byte(nil), true)
	}
	f.Add([]byte(hdrHS), []byte(diffPayload("")), false)
	f.Add([]byte(`{"alg":"HS256","kid":"hs1","kid":"hs1"}`), []byte(diffPayload(`"sub":"\ud800\u0041","x":[1e308]`)), false)
	v := diffVerifier(f)
	f.Fuzz(func(t *testing.T, a, b []byte, raw bool) {
		token := a
		if !raw {
			token = []byte(hsToken(t, string(a), string(b)))
		}
		for _, now := range diffNows {
			sameVerdict(t, v, token, now)
		}
	})
}

// TestWriteDifferentialSeeds regenerates testdata/fuzz/FuzzDifferential
// with -update-seeds.
func TestWriteDifferentialSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz/FuzzDifferential")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDifferential")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seeds := map[string][2]string{
		"signed-valid":       {hdrHS, diffPayload("")},
		"signed-dup-keys":    {`{"alg":"HS256","kid":"x","kid":"hs1"}`, diffPayload(`"sub":"a","sub":"b","exp":"1","exp":` + fmt.Sprint(testNow.Add(time.Hour).Unix()))},
		"signed-surrogates":  {hdrHS, diffPayload(`"sub":"\ud800\u0041\udc00\ud83d\ude00"`)},
		"signed-bad-utf8":    {hdrHS, diffPayload("\"sub\":\"a\xff\xe2\x82\"")},
		"signed-numbers":     {hdrHS, diffPayload(`"exp":1.9e9,"nbf":-0.0,"iat":1e-400,"x":[1e308,-1e308]`)},
		"signed-nested":      {hdrHS, diffPayload(`"x":{"a":[{"b":[[[{}]]]}]}`)},
		"signed-scopes":      {hdrHS, diffPayload(`"scope":null,"scp":["a","b"]`)},
		"signed-null-header": {`null`, diffPayload("")},
	}
	for name, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\nbool(false)\n", s[0], s[1])
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, tok := range map[string]string{
		"raw-none-bad-signature": b64.EncodeToString([]byte(`{"alg":"none"}`)) + ".e30.***",
		"raw-newline":            "eyJhbGciOiJIUzI1NiJ9\n.e30.x",
	} {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\nbool(true)\n", tok, "")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
