package hmacsig

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

var (
	t0     = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	secret = []byte("0123456789abcdef0123456789abcdef-svc")
	other  = []byte("fedcba9876543210fedcba9876543210-svc")
)

func newVerifier(t testing.TB, cacheSize int) *Verifier {
	t.Helper()
	v, err := New(Config{
		Keys: []KeyConfig{
			{ID: "svc1", Client: "billing", Tier: "internal", Secret: secret, Scopes: []string{"ledger:write"}},
			{ID: "old", Client: "billing", Secret: other, NotAfter: t0},
		},
		MaxSkew: 5 * time.Minute, ReplayCacheSize: cacheSize, RequiredHeaders: []string{"host"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// request builds a signed request; mod may tamper with it after signing.
type request struct {
	method, uri, body string
	headers           [][2]string
	signed            []string
	keyID             string
	secret            []byte
	at                time.Time
}

func (r request) ctx(t testing.TB, mod func(*fasthttp.Request)) *fasthttp.RequestCtx {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(r.method)
	req.SetRequestURI(r.uri)
	req.SetBodyString(r.body)
	for _, h := range r.headers {
		req.Header.Set(h[0], h[1])
	}
	if err := Sign(req, string(req.URI().Path()), r.keyID, r.secret, r.signed, r.at); err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(req)
	}
	ctx := &fasthttp.RequestCtx{}
	req.CopyTo(&ctx.Request)
	return ctx
}

func base() request {
	return request{
		method: "POST", uri: "http://api.test/ledger/entries?b=2&a=1&a=0", body: `{"amount":5}`,
		headers: [][2]string{{"Content-Type", "application/json"}, {"X-Request-Nonce", "n1"}},
		signed:  []string{"host", "content-type", "x-request-nonce"},
		keyID:   "svc1", secret: secret, at: t0,
	}
}

func TestVerify(t *testing.T) {
	type tc struct {
		name string
		req  func(r *request)
		mod  func(*fasthttp.Request)
		now  time.Time
		err  error
	}
	cases := []tc{
		{name: "valid POST with body and query"},
		{name: "valid GET without body", req: func(r *request) { r.method, r.body = "GET", "" }},
		{name: "query order does not matter", mod: func(q *fasthttp.Request) { q.URI().SetQueryString("a=0&a=1&b=2") }},
		{name: "empty query parts ignored", mod: func(q *fasthttp.Request) { q.URI().SetQueryString("&a=0&&a=1&b=2&") }},
		{name: "clock skew within bounds", now: t0.Add(4 * time.Minute)},
		{name: "client clock ahead within bounds", now: t0.Add(-4 * time.Minute)},
		{name: "wrong secret", req: func(r *request) { r.secret = other }, err: ErrSignature},
		{name: "method changed", mod: func(q *fasthttp.Request) { q.Header.SetMethod("PUT") }, err: ErrSignature},
		{name: "path changed", mod: func(q *fasthttp.Request) { q.URI().SetPath("/ledger/admin") }, err: ErrSignature},
		{name: "query value changed", mod: func(q *fasthttp.Request) { q.URI().SetQueryString("b=2&a=1&a=9") }, err: ErrSignature},
		{name: "query parameter added", mod: func(q *fasthttp.Request) { q.URI().SetQueryString("b=2&a=1&a=0&admin=1") }, err: ErrSignature},
		{name: "body changed", mod: func(q *fasthttp.Request) { q.SetBodyString(`{"amount":500}`) }, err: ErrSignature},
		{name: "signed header changed", mod: func(q *fasthttp.Request) { q.Header.Set("X-Request-Nonce", "n2") }, err: ErrSignature},
		{name: "host changed", mod: func(q *fasthttp.Request) { q.Header.SetHost("evil.test") }, err: ErrSignature},
		{name: "signed header removed", mod: func(q *fasthttp.Request) { q.Header.Del("X-Request-Nonce") }, err: ErrSignedHeaderAbsent},
		{name: "signed header sent twice", mod: func(q *fasthttp.Request) { q.Header.Add("X-Request-Nonce", "n2") }, err: ErrSignedHeaderRepeated},
		{name: "signed header respelt beside it", mod: func(q *fasthttp.Request) { q.Header.Add("X_Request_Nonce", "n2") }, err: ErrSignedHeaderRepeated},
		{name: "timestamp too old", now: t0.Add(5*time.Minute + time.Second), err: ErrSkew},
		{name: "timestamp too far ahead", now: t0.Add(-5*time.Minute - time.Second), err: ErrSkew},
		{name: "host not signed", req: func(r *request) { r.signed = []string{"content-type"} }, err: ErrHeaderNotSigned},
		{name: "unknown key id", req: func(r *request) { r.keyID = "nobody" }, err: ErrUnknownKey},
		{name: "expired key", req: func(r *request) { r.keyID, r.secret = "old", other }, err: ErrExpired},
		{name: "timestamp edited", mod: func(q *fasthttp.Request) {
			a := string(q.Header.Peek("Authorization"))
			q.Header.Set("Authorization", strings.Replace(a, "Timestamp=1893499200", "Timestamp=1893499260", 1))
		}, err: ErrSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier(t, 1024)
			r := base()
			if c.req != nil {
				c.req(&r)
			}
			now := c.now
			if now.IsZero() {
				now = t0
			}
			ctx := r.ctx(t, c.mod)
			k, err := v.Verify(ctx, ctx.URI().Path(), now)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if c.err == nil {
				p := k.Identity.Principal
				if p.KeyID != "svc1" || p.Subject != "billing" || p.RateKey != "hmac:billing" || p.Tier != "internal" {
					t.Errorf("principal %+v", p)
				}
			}
		})
	}
}

func TestReplay(t *testing.T) {
	v := newVerifier(t, 1024)
	ctx := base().ctx(t, nil)
	if _, err := v.Verify(ctx, ctx.URI().Path(), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, ctx.URI().Path(), t0.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay within the window: %v", err)
	}
	// After the window the timestamp check refuses it.
	if _, err := v.Verify(ctx, ctx.URI().Path(), t0.Add(6*time.Minute)); !errors.Is(err, ErrSkew) {
		t.Fatalf("replay after the window: %v", err)
	}
	// A bad signature is not remembered: the real one still works after it.
	v2 := newVerifier(t, 1024)
	r := base()
	r.secret = other
	bad := r.ctx(t, nil)
	for range 3 {
		if _, err := v2.Verify(bad, bad.URI().Path(), t0); !errors.Is(err, ErrSignature) {
			t.Fatal(err)
		}
	}
	if _, err := v2.Verify(ctx, ctx.URI().Path(), t0); err != nil {
		t.Fatalf("genuine request after forgeries: %v", err)
	}
	c := metrics.GetOrCreateCounter(`edgeguard_auth_hmac_key_uses_total{key_id="svc1",client="billing"}`)
	if c.Get() < 2 {
		t.Errorf("uses = %d", c.Get())
	}
}

// TestReplayRace: the same signed request sent concurrently is accepted
// exactly once.
func TestReplayRace(t *testing.T) {
	v := newVerifier(t, 1024)
	r := base()
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		ctx := r.ctx(t, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(ctx, ctx.URI().Path(), t0); err == nil {
				ok.Add(1)
			} else if !errors.Is(err, ErrReplay) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("accepted %d times", ok.Load())
	}
}

func TestReplayCacheBound(t *testing.T) {
	c := NewReplayCache(replayShards) // one signature per shard
	var a, b [32]byte
	b[1] = 1 // same shard as a (first byte 0)
	if err := c.add(&a, 100, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.add(&b, 100, 50); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("full shard: %v", err)
	}
	if err := c.add(&b, 300, 100); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if len(c.shards[0].m) != 1 {
		t.Errorf("expired entry not swept: %d", len(c.shards[0].m))
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	good := "EG-HMAC-SHA256 KeyId=k, Timestamp=1893499200, SignedHeaders=host;x-a, Signature=" + sig
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", good, true},
		{"no spaces after commas", strings.ReplaceAll(good, ", ", ","), true},
		{"params reordered", "EG-HMAC-SHA256 Signature=" + sig + ", KeyId=k, SignedHeaders=host, Timestamp=1", true},
		{"other scheme", strings.Replace(good, "EG-HMAC-SHA256", "AWS4-HMAC-SHA256", 1), false},
		{"lower-case scheme", strings.Replace(good, "EG-HMAC-SHA256", "eg-hmac-sha256", 1), false},
		{"missing signature", "EG-HMAC-SHA256 KeyId=k, Timestamp=1, SignedHeaders=host", false},
		{"duplicate key id", good + ", KeyId=j", false},
		{"unknown parameter", good + ", Region=eu", false},
		{"upper-case hex", strings.Replace(good, sig, strings.ToUpper(sig), 1), false},
		{"short signature", strings.Replace(good, sig, sig[:62], 1), false},
		{"negative timestamp", strings.Replace(good, "1893499200", "-1", 1), false},
		{"huge timestamp", strings.Replace(good, "1893499200", "99999999999999999999", 1), false},
		{"upper-case header name", strings.Replace(good, "host;x-a", "Host", 1), false},
		{"empty header name", strings.Replace(good, "host;x-a", "host;;x-a", 1), false},
		{"empty value", strings.Replace(good, "KeyId=k", "KeyId=", 1), false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Params
			if err := ParseAuthorization([]byte(tc.in), &p); (err == nil) != tc.ok {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add([]byte("EG-HMAC-SHA256 KeyId=k, Timestamp=1, SignedHeaders=host, Signature=" + strings.Repeat("0", 64)))
	f.Add([]byte("EG-HMAC-SHA256 ,,,=,"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Params
		if ParseAuthorization(data, &p) != nil {
			return
		}
		if len(p.KeyID) == 0 || !allDigits(p.Timestamp) || !validHeaderList(p.SignedHeaders) {
			t.Fatalf("accepted incomplete params %q", data)
		}
	})
}

// signedCtxs returns n distinct signed requests.
func signedCtxs(t testing.TB, n int) []*fasthttp.RequestCtx {
	out := make([]*fasthttp.RequestCtx, n)
	for i := range out {
		r := base()
		r.headers[1][1] = "nonce-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		out[i] = r.ctx(t, nil)
	}
	return out
}

func (c *ReplayCache) reset() {
	for i := range c.shards {
		clear(c.shards[i].m)
	}
}

func BenchmarkVerify(b *testing.B) {
	v := newVerifier(b, 1<<16)
	ctxs := signedCtxs(b, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(ctxs) {
			for _, k := range v.keys {
				k.replay.reset()
			}
			i = 0
		}
		ctx := ctxs[i]
		if _, err := v.Verify(ctx, ctx.URI().Path(), t0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestReplayCachePerKey: a client that fills its replay cache is refused,
// but other keys are not: one client cannot deny HMAC to everyone.
func TestReplayCachePerKey(t *testing.T) {
	v, err := New(Config{
		Keys: []KeyConfig{
			{ID: "svc1", Client: "billing", Secret: secret},
			{ID: "svc2", Client: "ledger", Secret: other},
		},
		MaxSkew: 5 * time.Minute, ReplayCacheSize: replayShards, RequiredHeaders: []string{"host"},
	})
	if err != nil {
		t.Fatal(err)
	}
	full := false
	for i := range 4 * replayShards {
		r := base()
		r.headers[1][1] = "nonce-" + strings.Repeat("x", i)
		ctx := r.ctx(t, nil)
		if _, err := v.Verify(ctx, ctx.URI().Path(), t0); errors.Is(err, ErrReplayCacheFull) {
			full = true
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("svc1 never filled its replay cache")
	}
	r := base()
	r.keyID, r.secret = "svc2", other
	ctx := r.ctx(t, nil)
	if _, err := v.Verify(ctx, ctx.URI().Path(), t0); err != nil {
		t.Fatalf("another key while svc1's cache is full: %v", err)
	}
}

// TestReloadNeverOpensAReplayWindow: a reload that resizes the cache keeps
// the signatures accepted before it, and one that grows the skew neither
// forgets them early nor accepts signatures the old skew had already
// refused (they may have left the cache).
func TestReloadNeverOpensAReplayWindow(t *testing.T) {
	keys := []KeyConfig{{ID: "svc1", Client: "billing", Secret: secret}}
	v1, err := New(Config{Keys: keys, MaxSkew: 5 * time.Minute, ReplayCacheSize: 1024, RequiredHeaders: []string{"host"}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	seen := base().ctx(t, nil) // signed at t0
	if _, err := v1.Verify(seen, seen.URI().Path(), t0); err != nil {
		t.Fatal(err)
	}

	v2, err := New(Config{Keys: keys, MaxSkew: 5 * time.Minute, ReplayCacheSize: 4096, RequiredHeaders: []string{"host"}, Previous: v1, Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(seen, seen.URI().Path(), t0.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("after a resize: %v, want ErrReplay", err)
	}

	// Grow the skew at t0+1m, while the signature is still remembered: it
	// must stay remembered for as long as the new skew accepts it.
	v3, err := New(Config{Keys: keys, MaxSkew: 10 * time.Minute, ReplayCacheSize: 4096, RequiredHeaders: []string{"host"}, Previous: v2, Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(6 * time.Minute) // past the old skew, within the new one
	if _, err := v3.Verify(seen, seen.URI().Path(), at); !errors.Is(err, ErrReplay) {
		t.Fatalf("after growing the skew, an accepted signature: %v, want ErrReplay", err)
	}
	// Grow it again at t0+6m: signatures signed before t0+1m were refused
	// by the old skew and may be gone from the cache.
	v4, err := New(Config{Keys: keys, MaxSkew: 20 * time.Minute, ReplayCacheSize: 4096, RequiredHeaders: []string{"host"}, Previous: v3, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	v3 = v4
	r := base()
	r.headers[1][1] = "never-seen"
	r.at = t0.Add(-5 * time.Minute)
	unseen := r.ctx(t, nil)
	if _, err := v3.Verify(unseen, unseen.URI().Path(), at); !errors.Is(err, ErrSkew) {
		t.Fatalf("a signature older than the previous skew: %v, want ErrSkew", err)
	}
	newer := base()
	newer.at = at.Add(-30 * time.Second)
	if c := newer.ctx(t, nil); func() error { _, err := v3.Verify(c, c.URI().Path(), at); return err }() != nil {
		t.Fatal("refused a current signature after the reload")
	}
}

// TestReplayAcrossKeyChanges: a signature is remembered per secret, not
// per key id (which is not signed): it cannot be replayed under another
// id with the same secret, nor after reloads that remove the key and put
// it back while it could still be accepted.
func TestReplayAcrossKeyChanges(t *testing.T) {
	build := func(prev *Verifier, at time.Time, keys ...KeyConfig) *Verifier {
		t.Helper()
		v, err := New(Config{Keys: keys, MaxSkew: 5 * time.Minute, ReplayCacheSize: 1024, RequiredHeaders: []string{"host"}, Previous: prev, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	svc1 := KeyConfig{ID: "svc1", Client: "billing", Secret: secret}
	svc2 := KeyConfig{ID: "svc2", Client: "billing", Secret: secret}
	verify := func(v *Verifier, keyID string, at time.Time) error {
		r := base()
		r.keyID = keyID
		ctx := r.ctx(t, nil)
		_, err := v.Verify(ctx, ctx.URI().Path(), at)
		return err
	}

	// Two ids, one secret: the signature made for svc1, sent as svc2.
	v := build(nil, t0, svc1, svc2)
	if err := verify(v, "svc1", t0); err != nil {
		t.Fatal(err)
	}
	if err := verify(v, "svc2", t0); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed under another id with the same secret: %v, want ErrReplay", err)
	}

	// Removed by one reload, put back by the next, within the skew.
	v1 := build(nil, t0, svc1)
	if err := verify(v1, "svc1", t0); err != nil {
		t.Fatal(err)
	}
	v2 := build(v1, t0.Add(time.Minute), KeyConfig{ID: "other", Client: "x", Secret: other})
	v3 := build(v2, t0.Add(2*time.Minute), svc1)
	if err := verify(v3, "svc1", t0.Add(2*time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed after the key was removed and put back: %v, want ErrReplay", err)
	}
	// Renamed and renamed back: the secret is the same key.
	v4 := build(v3, t0.Add(3*time.Minute), KeyConfig{ID: "svc1-off", Client: "billing", Secret: secret})
	if err := verify(v4, "svc1-off", t0.Add(3*time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed under the renamed key: %v, want ErrReplay", err)
	}

	// A retired cache is forgotten once nothing in it can be accepted.
	v5 := build(v2, t0.Add(time.Hour), KeyConfig{ID: "other", Client: "x", Secret: other})
	if len(v5.bySecret) != 1 {
		t.Errorf("an hour later, %d secrets' caches kept, want only the one in use", len(v5.bySecret))
	}
}

// TestReloadRaceAcceptsOnce: while a reload swaps verifiers, requests in
// flight on the old one and new requests on the new one present the same
// signature at once: it is accepted exactly once.
func TestReloadRaceAcceptsOnce(t *testing.T) {
	keys := []KeyConfig{{ID: "svc1", Client: "billing", Secret: secret}}
	v1, err := New(Config{Keys: keys, MaxSkew: 5 * time.Minute, ReplayCacheSize: 1024, RequiredHeaders: []string{"host"}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := New(Config{Keys: keys, MaxSkew: 10 * time.Minute, ReplayCacheSize: 4096, RequiredHeaders: []string{"host"}, Previous: v1, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 50 {
		r := base()
		r.headers[1][1] = "race-" + strings.Repeat("z", n)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			v := v1
			if i%2 == 1 {
				v = v2
			}
			ctx := r.ctx(t, nil)
			wg.Go(func() {
				if _, err := v.Verify(ctx, ctx.URI().Path(), t0); err == nil {
					ok.Add(1)
				} else if !errors.Is(err, ErrReplay) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("request %d accepted %d times across the old and the new verifier", n, ok.Load())
		}
	}
}

// TestReloadWithAFullCache: the previous cache is full (the reason to
// enlarge it); a signature the new verifier accepts must still be refused
// by the old one, and the old one must not drop entries the new skew
// still honours.
func TestReloadWithAFullCache(t *testing.T) {
	keys := []KeyConfig{{ID: "svc1", Client: "billing", Secret: secret}}
	v1, err := New(Config{Keys: keys, MaxSkew: 5 * time.Minute, ReplayCacheSize: replayShards, RequiredHeaders: []string{"host"}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	var early *fasthttp.RequestCtx
	for i, ok := 0, 0; ok < replayShards; i++ { // one signature per shard: every shard full
		r := base()
		r.headers[1][1] = "fill-" + strings.Repeat("f", i)
		ctx := r.ctx(t, nil)
		err := func() error { _, err := v1.Verify(ctx, ctx.URI().Path(), t0); return err }()
		switch {
		case err == nil:
			ok++
			if early == nil {
				early = ctx
			}
		case !errors.Is(err, ErrReplayCacheFull) || i > 100*replayShards:
			t.Fatalf("filling: %v", err)
		}
	}
	v2, err := New(Config{Keys: keys, MaxSkew: 6 * time.Minute, ReplayCacheSize: 4096, RequiredHeaders: []string{"host"}, Previous: v1, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	r := base()
	r.headers[1][1] = "after-the-reload"
	s := r.ctx(t, nil)
	if _, err := v2.Verify(s, s.URI().Path(), t0.Add(time.Second)); err != nil {
		t.Fatalf("new verifier: %v", err)
	}
	if _, err := v1.Verify(s, s.URI().Path(), t0.Add(2*time.Second)); !errors.Is(err, ErrReplay) {
		t.Fatalf("old verifier, still serving, on the signature the new one accepted: %v, want ErrReplay", err)
	}
	// Past the old skew, within the new: the old verifier's clean-up must
	// have kept the early entry for the new one.
	at := t0.Add(5*time.Minute + 30*time.Second)
	var p Params
	if err := ParseAuthorization(early.Request.Header.Peek("Authorization"), &p); err != nil {
		t.Fatal(err)
	}
	other := p.Signature
	other[31] ^= 0xff // same shard as early's signature, another signature
	// The old cache cleans that full shard up at a time past the old skew.
	_ = v1.ReplayOf("svc1").add(&other, at.Add(time.Minute).UnixNano(), at.UnixNano())
	if _, err := v2.Verify(early, early.URI().Path(), at); !errors.Is(err, ErrReplay) {
		t.Fatalf("a signature accepted before the reload, within the new skew: %v, want ErrReplay", err)
	}
}
