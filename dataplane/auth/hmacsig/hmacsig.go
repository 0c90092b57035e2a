// Package hmacsig authenticates requests signed with a shared secret, a
// simplified AWS SigV4. The client sends
//
//	Authorization: EG-HMAC-SHA256 KeyId=<id>, Timestamp=<unix seconds>,
//	    SignedHeaders=<name;name>, Signature=<64 lower-case hex digits>
//
// where Signature is HMAC-SHA256(secret, string-to-sign) and the
// string-to-sign is these lines joined by "\n":
//
//	EG-HMAC-SHA256
//	<Timestamp, as sent>
//	<method, as sent>
//	<path: the normalized request path, no query>
//	<query: the raw query split on "&", empty parts dropped, sorted bytewise, joined by "&">
//	<one "name:value" line per signed header, in SignedHeaders order; lower-case
//	 name, value as sent with surrounding spaces trimmed>
//	<SignedHeaders, as sent>
//	<hex SHA-256 of the body>
//
// The gateway refuses a bad signature, a timestamp further than the
// configured skew from its clock, and a signature it has already accepted
// within that window (replay). SignedHeaders must include the configured
// required headers (host by default). Sign does the client's half.
//
// This package must never accept a request whose signature it did not
// recompute, never compare signatures in variable time, and never remember
// a signature it has not verified (so garbage cannot fill the replay cache).
package hmacsig

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Scheme is the Authorization scheme name.
const Scheme = "EG-HMAC-SHA256"

// MinSecretBytes is the shortest shared secret accepted.
const MinSecretBytes = 32

const (
	maxSignedHeaders = 16
	maxQueryParts    = 256
)

// Verification errors; each text is the precise deny cause.
var (
	ErrMalformed          = errors.New("hmac_malformed")
	ErrUnknownKey         = errors.New("hmac_key_unknown")
	ErrExpired            = errors.New("hmac_key_expired")
	ErrSkew               = errors.New("hmac_timestamp_skew")
	ErrHeaderNotSigned    = errors.New("hmac_required_header_not_signed")
	ErrSignedHeaderAbsent = errors.New("hmac_signed_header_absent")
	// ErrSignedHeaderRepeated: a signed header appears more than once (in
	// any spelling); the signature covers one value, an upstream might read
	// another.
	ErrSignedHeaderRepeated = errors.New("hmac_signed_header_repeated")
	ErrSignature            = errors.New("hmac_signature_invalid")
	ErrReplay               = errors.New("hmac_replayed")
	ErrReplayCacheFull      = errors.New("hmac_replay_cache_full")
)

// Errors lists every error Verify returns, for metric registration.
func Errors() []error {
	return []error{ErrMalformed, ErrUnknownKey, ErrExpired, ErrSkew, ErrHeaderNotSigned,
		ErrSignedHeaderAbsent, ErrSignedHeaderRepeated, ErrSignature, ErrReplay, ErrReplayCacheFull}
}

var (
	schemePrefix = []byte(Scheme + " ")
	nl           = []byte{'\n'}
	colon        = []byte{':'}
	amp          = []byte{'&'}
)

// KeyConfig is one signing key.
type KeyConfig struct {
	ID       string
	Client   string
	Tier     string
	Secret   []byte
	Routes   []string // empty: every route that accepts HMAC
	Scopes   []string
	NotAfter time.Time
}

// Key is a configured signing key, immutable once built.
type Key struct {
	ID       string
	Identity *identity.Identity
	routes   []string
	notAfter int64
	macs     sync.Pool // hash.Hash keyed with the secret
	uses     *metrics.Counter
	replay   *ReplayCache // this key's accepted signatures
}

// AllowsRoute reports whether the key may call the named route.
func (k *Key) AllowsRoute(route string) bool {
	return len(k.routes) == 0 || slices.Contains(k.routes, route)
}

// Config configures a Verifier.
type Config struct {
	Keys            []KeyConfig
	MaxSkew         time.Duration
	ReplayCacheSize int      // signatures remembered per secret (keys sharing one share it); when full of live ones, its requests are refused
	RequiredHeaders []string // lower-case names that SignedHeaders must include
	// Previous is the verifier a reload replaces: each key keeps its replay
	// cache, and when the skew grows, signatures older than the previous
	// skew allowed stay refused, so a reload never lets one be replayed.
	Previous *Verifier
	// Now is the build time (time.Now when zero; tests set it).
	Now time.Time
}

// ReplayOf returns the replay cache of a key (nil for an unknown key).
func (v *Verifier) ReplayOf(keyID string) *ReplayCache {
	if k := v.keys[keyID]; k != nil {
		return k.replay
	}
	return nil
}

// Verifier checks signed requests. Safe for concurrent use.
type Verifier struct {
	keys     map[string]*Key
	skew     time.Duration
	required [][]byte
	// notBefore (Unix seconds) refuses older signatures: after a reload
	// that grew the skew, those the previous skew refused may have left
	// the replay cache already.
	notBefore int64
	// bySecret holds a replay cache per secret (its SHA-256): keys that
	// share a secret share one, since the key id is not signed and a
	// signature made for one id verifies under the other; and the caches
	// of keys a reload removed stay here while their signatures could
	// still be replayed, for a reload that puts the key back.
	bySecret map[[sha256.Size]byte]*secretCache
}

// secretCache is the replay cache of one secret.
type secretCache struct {
	cache *ReplayCache
	skew  time.Duration // the skew its signatures were accepted under
	until int64         // no key uses it: forgotten after this (unix ns); 0 while one does
}

// New builds a verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.MaxSkew <= 0 || cfg.ReplayCacheSize <= 0 {
		return nil, errors.New("build HMAC verifier: max skew and replay cache size must be > 0")
	}
	v := &Verifier{keys: map[string]*Key{}, skew: cfg.MaxSkew, bySecret: map[[sha256.Size]byte]*secretCache{}}
	now := cfg.Now
	if now.IsZero() {
		now = time.Now()
	}
	if prev := cfg.Previous; prev != nil {
		v.notBefore = prev.notBefore
		if cfg.MaxSkew > prev.skew {
			v.notBefore = max(v.notBefore, now.Add(-prev.skew).Unix())
		}
	}
	for _, h := range cfg.RequiredHeaders {
		v.required = append(v.required, []byte(h))
	}
	for _, c := range cfg.Keys {
		if c.ID == "" || c.Client == "" {
			return nil, errors.New("build HMAC verifier: every key needs an id and a client")
		}
		if _, dup := v.keys[c.ID]; dup {
			return nil, fmt.Errorf("build HMAC verifier: duplicate key id %q", c.ID)
		}
		if len(c.Secret) < MinSecretBytes {
			return nil, fmt.Errorf("build HMAC verifier: key %q: secret of %d bytes, want at least %d", c.ID, len(c.Secret), MinSecretBytes)
		}
		id, err := identity.New(identity.Spec{Kind: pipeline.IdentityHMAC, Subject: c.Client, KeyID: c.ID,
			Tier: c.Tier, Scopes: c.Scopes, RateKey: "hmac:" + c.Client})
		if err != nil {
			return nil, fmt.Errorf("build HMAC verifier: key %q: %w", c.ID, err)
		}
		secret := append([]byte(nil), c.Secret...)
		k := &Key{ID: c.ID, Identity: id, routes: append([]string(nil), c.Routes...),
			uses: metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_auth_hmac_key_uses_total{key_id=%q,client=%q}`, c.ID, c.Client))}
		k.macs.New = func() any { return hmac.New(sha256.New, secret) }
		k.replay = v.replayFor(sha256.Sum256(c.Secret), cfg, now)
		if !c.NotAfter.IsZero() {
			k.notAfter = c.NotAfter.UnixNano()
		}
		v.keys[c.ID] = k
	}
	if prev := cfg.Previous; prev != nil {
		for fp, sc := range prev.bySecret {
			if v.bySecret[fp] != nil {
				continue
			}
			until := sc.until
			if until == 0 {
				// Retired now: an entry expires at most 2*skew from now.
				until = now.Add(2 * sc.skew).UnixNano()
			}
			if until > now.UnixNano() {
				v.bySecret[fp] = &secretCache{cache: sc.cache, skew: sc.skew, until: until}
			}
		}
	}
	return v, nil
}

// replayFor returns the replay cache of the secret whose SHA-256 is fp:
// the one another key of v with that secret has, or the previous
// verifier's (its key's, or a retired one) carried over, or a new one.
func (v *Verifier) replayFor(fp [sha256.Size]byte, cfg Config, now time.Time) *ReplayCache {
	if sc := v.bySecret[fp]; sc != nil {
		return sc.cache
	}
	c := (*ReplayCache)(nil)
	if prev := cfg.Previous; prev != nil {
		if old := prev.bySecret[fp]; old != nil && (old.until == 0 || old.until > now.UnixNano()) {
			extend := int64(cfg.MaxSkew - old.skew)
			// An entry expires at most 2*skew from now (timestamps up to
			// +skew are accepted), and counts extend longer.
			c = old.cache.carry(cfg.ReplayCacheSize, extend, 2*int64(old.skew)+max(extend, 0), now.UnixNano())
		}
	}
	if c == nil {
		c = NewReplayCache(cfg.ReplayCacheSize)
	}
	v.bySecret[fp] = &secretCache{cache: c, skew: cfg.MaxSkew}
	return c
}

// Params are the parts of an Authorization value; the slices point into it.
type Params struct {
	KeyID         []byte
	Timestamp     []byte
	SignedHeaders []byte
	Signature     [sha256.Size]byte
}

// HasScheme reports whether an Authorization value uses this scheme.
func HasScheme(auth []byte) bool { return bytes.HasPrefix(auth, schemePrefix) }

// ParseAuthorization parses an Authorization value of this scheme. Every
// parameter is required exactly once; unknown parameters are refused.
func ParseAuthorization(auth []byte, p *Params) error {
	rest, ok := bytes.CutPrefix(auth, schemePrefix)
	if !ok {
		return ErrMalformed
	}
	var seen uint8
	for len(rest) > 0 {
		var item []byte
		item, rest, _ = bytes.Cut(rest, []byte{','})
		item = bytes.TrimSpace(item)
		name, value, ok := bytes.Cut(item, []byte{'='})
		if !ok || len(value) == 0 {
			return ErrMalformed
		}
		var bit uint8
		switch string(name) {
		case "KeyId":
			bit, p.KeyID = 1, value
		case "Timestamp":
			bit, p.Timestamp = 2, value
			if len(value) > 12 || !allDigits(value) {
				return ErrMalformed
			}
		case "SignedHeaders":
			bit, p.SignedHeaders = 4, value
			if !validHeaderList(value) {
				return ErrMalformed
			}
		case "Signature":
			bit = 8
			if len(value) != 2*sha256.Size || !lowerHex(value) {
				return ErrMalformed
			}
			if _, err := hex.Decode(p.Signature[:], value); err != nil {
				return ErrMalformed
			}
		default:
			return ErrMalformed
		}
		if seen&bit != 0 {
			return ErrMalformed
		}
		seen |= bit
	}
	if seen != 15 {
		return ErrMalformed
	}
	return nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func lowerHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validHeaderList accepts "name;name" with up to maxSignedHeaders
// lower-case token names.
func validHeaderList(b []byte) bool {
	n, l := 1, 0
	for _, c := range b {
		switch {
		case c == ';':
			if l == 0 {
				return false
			}
			n, l = n+1, 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
		l++
	}
	return l > 0 && n <= maxSignedHeaders
}

// scratch is per-request working memory, pooled.
type scratch struct {
	parts [][]byte
	sum   [sha256.Size]byte
	hex   [2 * sha256.Size]byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{parts: make([][]byte, 0, 16)} }}

// writeStringToSign writes the string-to-sign to w. Both Verify and Sign
// use it, so the two halves cannot drift apart.
func writeStringToSign(w io.Writer, s *scratch, ts, method, path, query []byte, h *fasthttp.RequestHeader, signed, body []byte) error {
	w.Write(schemePrefix[:len(schemePrefix)-1])
	w.Write(nl)
	w.Write(ts)
	w.Write(nl)
	w.Write(method)
	w.Write(nl)
	w.Write(path)
	w.Write(nl)
	parts := s.parts[:0]
	for len(query) > 0 {
		var part []byte
		part, query, _ = bytes.Cut(query, amp)
		if len(part) == 0 {
			continue
		}
		if len(parts) == maxQueryParts {
			return ErrMalformed
		}
		parts = append(parts, part)
	}
	slices.SortFunc(parts, bytes.Compare)
	for i, p := range parts {
		if i > 0 {
			w.Write(amp)
		}
		w.Write(p)
	}
	clear(parts)
	s.parts = parts[:0]
	w.Write(nl)
	rest := signed
	for len(rest) > 0 {
		var name []byte
		name, rest, _ = bytes.Cut(rest, []byte{';'})
		v := h.PeekBytes(name)
		if v == nil {
			return ErrSignedHeaderAbsent
		}
		if fieldCount(h, name) > 1 {
			return ErrSignedHeaderRepeated
		}
		w.Write(name)
		w.Write(colon)
		w.Write(bytes.TrimSpace(v))
		w.Write(nl)
	}
	w.Write(signed)
	w.Write(nl)
	s.sum = sha256.Sum256(body)
	hex.Encode(s.hex[:], s.sum[:])
	w.Write(s.hex[:])
	return nil
}

// Verify authenticates a signed request. path is the normalized path the
// gateway routes on. The caller has checked HasScheme. It allocates
// nothing in steady state.
func (v *Verifier) Verify(ctx *fasthttp.RequestCtx, path []byte, now time.Time) (*Key, error) {
	var p Params
	if err := ParseAuthorization(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization), &p); err != nil {
		return nil, err
	}
	k, ok := v.keys[string(p.KeyID)]
	if !ok {
		return nil, ErrUnknownKey
	}
	nowNano := now.UnixNano()
	if k.notAfter != 0 && nowNano >= k.notAfter {
		return nil, ErrExpired
	}
	ts, err := strconv.ParseInt(string(p.Timestamp), 10, 64)
	if err != nil {
		return nil, ErrMalformed
	}
	signedAt := time.Unix(ts, 0)
	if d := now.Sub(signedAt); d > v.skew || d < -v.skew || ts < v.notBefore {
		return nil, ErrSkew
	}
	for _, req := range v.required {
		if !listHas(p.SignedHeaders, req) {
			return nil, ErrHeaderNotSigned
		}
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	mac := k.macs.Get().(hash.Hash)
	defer k.macs.Put(mac)
	mac.Reset()
	if err := writeStringToSign(mac, s, p.Timestamp, ctx.Method(), path, ctx.URI().QueryString(),
		&ctx.Request.Header, p.SignedHeaders, ctx.Request.Body()); err != nil {
		return nil, err
	}
	if !hmac.Equal(mac.Sum(s.sum[:0]), p.Signature[:]) {
		return nil, ErrSignature
	}
	if err := k.replay.add(&p.Signature, signedAt.Add(v.skew).UnixNano()+1, nowNano); err != nil {
		return nil, err
	}
	k.uses.Inc()
	return k, nil
}

func listHas(list, name []byte) bool {
	for len(list) > 0 {
		var n []byte
		n, list, _ = bytes.Cut(list, []byte{';'})
		if bytes.Equal(n, name) {
			return true
		}
	}
	return false
}

// Sign signs req for a client holding keyID's secret, setting its
// Authorization header. path is the request path as the gateway will
// normalize it (for ordinary paths, the path sent). signed lists the
// lower-case header names to sign; they must be set on req already.
func Sign(req *fasthttp.Request, path string, keyID string, secret []byte, signed []string, at time.Time) error {
	list := []byte{}
	for i, n := range signed {
		if i > 0 {
			list = append(list, ';')
		}
		list = append(list, n...)
	}
	if !validHeaderList(list) {
		return fmt.Errorf("sign request: bad signed header list %q", list)
	}
	if len(req.Header.Host()) == 0 {
		req.Header.SetHostBytes(req.URI().Host())
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	s := &scratch{}
	if err := writeStringToSign(mac, s, []byte(ts), req.Header.Method(), []byte(path), req.URI().QueryString(),
		&req.Header, list, req.Body()); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	req.Header.Set(fasthttp.HeaderAuthorization, fmt.Sprintf("%s KeyId=%s, Timestamp=%s, SignedHeaders=%s, Signature=%x",
		Scheme, keyID, ts, list, mac.Sum(nil)))
	return nil
}

// fieldCount counts the fields of h named name, comparing names the way
// lenient servers do (any case, '_' for '-').
func fieldCount(h *fasthttp.RequestHeader, name []byte) int {
	n := 0
	for k := range h.All() {
		if len(k) != len(name) {
			continue
		}
		same := true
		for i := range k {
			if headers.FoldByte(k[i]) != headers.FoldByte(name[i]) {
				same = false
				break
			}
		}
		if same {
			n++
		}
	}
	return n
}
