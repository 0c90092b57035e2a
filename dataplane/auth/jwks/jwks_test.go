package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSA(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey
}

var enc64 = base64.RawURLEncoding

func rsaJWK(kid string, p *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "n": enc64.EncodeToString(p.N.Bytes()), "e": enc64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
}

func ecJWK(kid string, p *ecdsa.PublicKey) map[string]any {
	b, _ := p.Bytes()
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": enc64.EncodeToString(b[1:33]), "y": enc64.EncodeToString(b[33:])}
}

func doc(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParse(t *testing.T) {
	rk := testRSA(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	with := func(m map[string]any, k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range m {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	okp := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": enc64.EncodeToString(edPub)}
	badPoint := ecJWK("bad", &ec.PublicKey)
	badPoint["y"] = enc64.EncodeToString(make([]byte, 32))
	cases := []struct {
		name     string
		doc      []byte
		keys     int
		skipped  int
		wantErr  string
		checkKid string
		kind     Kind
	}{
		{name: "RSA", doc: doc(rsaJWK("r", &rk.PublicKey)), keys: 1, checkKid: "r", kind: KindRSA},
		{name: "EC P-256", doc: doc(ecJWK("e", &ec.PublicKey)), keys: 1, checkKid: "e", kind: KindEC},
		{name: "Ed25519", doc: doc(okp), keys: 1, checkKid: "ed", kind: KindEd25519},
		{name: "encryption key skipped", doc: doc(with(rsaJWK("enc", &rk.PublicKey), "use", "enc"), okp), keys: 1, skipped: 1},
		{name: "unknown kty skipped", doc: doc(map[string]any{"kty": "XYZ"}, okp), keys: 1, skipped: 1},
		{name: "empty set", doc: []byte(`{"keys":[]}`)},
		{name: "private key refused", doc: doc(with(rsaJWK("r", &rk.PublicKey), "d", "AQAB")), wantErr: "private key"},
		{name: "symmetric key refused", doc: doc(map[string]any{"kty": "oct", "k": "c2VjcmV0"}), wantErr: "oct"},
		{name: "RSA under 2048 bits", doc: doc(rsaJWK("s", &small.PublicKey)), wantErr: "bits"},
		{name: "EC point not on the curve", doc: doc(badPoint), wantErr: "point"},
		{name: "EC unknown curve", doc: doc(with(ecJWK("e", &ec.PublicKey), "crv", "P-192")), wantErr: "curve"},
		{name: "alg of another family", doc: doc(with(rsaJWK("r", &rk.PublicKey), "alg", "HS256")), wantErr: "does not fit"},
		{name: "padded base64", doc: doc(with(rsaJWK("r", &rk.PublicKey), "e", "AQAB==")), wantErr: "e:"},
		{name: "missing n", doc: doc(map[string]any{"kty": "RSA", "e": "AQAB"}), wantErr: "n:"},
		{name: "no keys array", doc: []byte(`{}`), wantErr: "no \"keys\""},
		{name: "not JSON", doc: []byte(`<html>`), wantErr: "parse JWKS"},
		{name: "trailing data", doc: append(doc(okp), []byte(` {}`)...), wantErr: "trailing"},
		{name: "too large", doc: append([]byte(`{"keys":[]}`), make([]byte, maxDocumentBytes)...), wantErr: "exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, skipped, err := Parse(tc.doc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if set.Len() != tc.keys || skipped != tc.skipped {
				t.Errorf("keys %d skipped %d, want %d %d", set.Len(), skipped, tc.keys, tc.skipped)
			}
			if tc.checkKid != "" && set.Keys()[0].Kind != tc.kind {
				t.Errorf("kind = %v, want %v", set.Keys()[0].Kind, tc.kind)
			}
		})
	}
}

func TestAllowsNeverMixesFamilies(t *testing.T) {
	rk := testRSA(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaK, _ := NewPublicKey("", "", &rk.PublicKey)
	ecK, _ := NewPublicKey("", "", &ec.PublicKey)
	edK, _ := NewPublicKey("", "", edPub)
	hs, _ := NewSecret("", make([]byte, 48))
	pinned, _ := NewPublicKey("", "PS256", &rk.PublicKey)
	algs := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512", "none", "NONE", ""}
	allowed := map[*Key]string{
		rsaK:   "RS256 RS384 RS512 PS256 PS384 PS512",
		ecK:    "ES256",
		edK:    "EdDSA",
		hs:     "HS256 HS384", // 48 bytes: too short for HS512
		pinned: "PS256",
	}
	for k, want := range allowed {
		for _, a := range algs {
			got := k.Allows(a)
			exp := a != "" && strings.Contains(" "+want+" ", " "+a+" ")
			if got != exp {
				t.Errorf("%s key (alg %q) Allows(%q) = %v", k.Kind, k.Alg, a, got)
			}
		}
	}
}

func TestParsePEM(t *testing.T) {
	rk := testRSA(t)
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})
	cases := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"PKIX", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), true},
		{"PKCS1", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rk.PublicKey)}), true},
		{"private key refused", priv, false},
		{"not PEM", []byte("hello"), false},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParsePEM("kid", tc.data)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && (k.Kind != KindRSA || k.ID != "kid") {
				t.Errorf("key %+v", k)
			}
		})
	}
	if _, err := NewSecret("", make([]byte, 31)); err == nil {
		t.Error("31-byte HMAC secret accepted")
	}
}

func TestLookup(t *testing.T) {
	rk := testRSA(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a, _ := NewPublicKey("a", "", &rk.PublicKey)
	b, _ := NewPublicKey("b", "", &ec.PublicKey)
	hs, _ := NewSecret("h", make([]byte, 32))
	set := NewSet([]*Key{a, b, hs})
	single := NewSet([]*Key{a})
	cases := []struct {
		name     string
		set      *Set
		kid, alg string
		want     *Key
		err      error
	}{
		{"by kid", set, "a", "RS256", a, nil},
		{"kid with the wrong family", set, "a", "HS256", nil, ErrNoKey},
		{"unknown kid", set, "zz", "RS256", nil, ErrUnknownKID},
		{"no kid, one candidate for the alg", set, "", "ES256", b, nil},
		{"no kid, single key", single, "", "PS256", a, nil},
		{"no kid, no candidate", single, "", "ES256", nil, ErrNoKey},
		{"nil set", nil, "a", "RS256", nil, ErrUnknownKID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tc.set.Lookup(tc.kid, tc.alg)
			if k != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("got %v %v, want %v %v", k, err, tc.want, tc.err)
			}
		})
	}
	two := NewSet([]*Key{a, mustKey(NewPublicKey("c", "", &testRSA(t).PublicKey))})
	if _, err := two.Lookup("", "RS256"); !errors.Is(err, ErrKIDRequired) {
		t.Errorf("ambiguous no-kid lookup: %v", err)
	}
	if NewSet([]*Key{a, b}).Digest() != NewSet([]*Key{b, a}).Digest() {
		t.Error("digest depends on order")
	}
}

func mustKey(k *Key, err error) *Key {
	if err != nil {
		panic(err)
	}
	return k
}

func TestFetcher(t *testing.T) {
	rk := testRSA(t)
	var body atomic.Value
	body.Store(doc(rsaJWK("k1", &rk.PublicKey)))
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(body.Load().([]byte))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/jwks", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	t.Run("background refresh picks up a new set", func(t *testing.T) {
		hits.Store(0)
		f := NewFetcher(FetcherConfig{URL: srv.URL + "/jwks", Refresh: 20 * time.Millisecond, MinRefresh: 10 * time.Millisecond, Timeout: time.Second})
		f.Start()
		defer f.Close()
		first := f.Cell().Load()
		if first.Len() != 1 {
			t.Fatalf("keys = %d", first.Len())
		}
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		body.Store(doc(rsaJWK("k1", &rk.PublicKey), ecJWK("k2", &ec.PublicKey)))
		deadline := time.Now().Add(5 * time.Second)
		for f.Cell().Load().Len() != 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if f.Cell().Load().Len() != 2 {
			t.Fatal("refresh did not pick up the second key")
		}
	})
	t.Run("unchanged content keeps the same set", func(t *testing.T) {
		body.Store(doc(rsaJWK("k1", &rk.PublicKey)))
		f := NewFetcher(FetcherConfig{URL: srv.URL + "/jwks", Refresh: time.Hour, MinRefresh: 0, Timeout: time.Second})
		f.Start()
		defer f.Close()
		before := f.Cell().Load()
		<-f.RequestRefresh()
		if f.Cell().Load() != before {
			t.Error("identical document replaced the set (would flush cached tokens)")
		}
	})
	t.Run("redirects are not followed", func(t *testing.T) {
		hits.Store(0)
		f := NewFetcher(FetcherConfig{URL: srv.URL + "/redirect", Refresh: time.Hour, MinRefresh: time.Hour, Timeout: time.Second})
		f.Start()
		defer f.Close()
		if f.Cell().Load() != nil || f.LastError() == nil || hits.Load() != 0 {
			t.Errorf("redirect followed: set %v err %v hits %d", f.Cell().Load(), f.LastError(), hits.Load())
		}
	})
	t.Run("an empty set keeps the last good one", func(t *testing.T) {
		body.Store(doc(rsaJWK("k1", &rk.PublicKey)))
		f := NewFetcher(FetcherConfig{URL: srv.URL + "/jwks", Refresh: time.Hour, MinRefresh: 0, Timeout: time.Second})
		f.Start()
		defer f.Close()
		body.Store([]byte(`{"keys":[]}`))
		<-f.RequestRefresh()
		if f.Cell().Load().Len() != 1 || f.LastError() == nil {
			t.Errorf("keys %d err %v", f.Cell().Load().Len(), f.LastError())
		}
	})
	t.Run("close stops the goroutine and refuses refreshes", func(t *testing.T) {
		f := NewFetcher(FetcherConfig{URL: srv.URL + "/jwks", Refresh: time.Millisecond, MinRefresh: time.Millisecond, Timeout: time.Second})
		f.Start()
		f.Close()
		f.Close()
		select {
		case <-f.done:
		default:
			t.Fatal("loop still running after Close")
		}
		if f.RequestRefresh() != nil {
			t.Error("refresh accepted after Close")
		}
	})
}

func FuzzParse(f *testing.F) {
	rk := testRSA(f)
	f.Add(doc(rsaJWK("r", &rk.PublicKey)))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, _, err := Parse(data)
		if err != nil {
			return
		}
		for _, k := range set.Keys() {
			for _, a := range []string{"HS256", "HS384", "HS512"} {
				if k.Allows(a) {
					t.Fatalf("a JWKS key verifies %s", a)
				}
			}
		}
	})
}
