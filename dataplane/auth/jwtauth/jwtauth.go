// Package jwtauth verifies JWT bearer tokens for the gateway: signature with
// github.com/golang-jwt/jwt/v5 against the keys of the token's issuer, then
// the issuer's claim rules (iss, aud, exp, nbf, iat, required claims), and
// caches verified tokens so a repeated token costs a hash and a compare.
// It must never trust anything a token says about where its key lives (jku,
// x5u and jwk headers are ignored, never fetched), never accept "none", and
// never let an algorithm verify with a key of another family.
package jwtauth

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Verification errors. Each text is the precise deny cause recorded in the
// access log and metrics; clients only ever see "unauthenticated".
var (
	ErrTooLarge       = errors.New("jwt_too_large")
	ErrMalformed      = errors.New("jwt_malformed")
	ErrAlgNone        = errors.New("jwt_alg_none")
	ErrAlgNotAllowed  = errors.New("jwt_alg_not_allowed")
	ErrCrit           = errors.New("jwt_crit_unsupported")
	ErrIssuer         = errors.New("jwt_issuer_unknown")
	ErrSignature      = errors.New("jwt_signature_invalid")
	ErrExpMissing     = errors.New("jwt_exp_missing")
	ErrExpired        = errors.New("jwt_expired")
	ErrNotYetValid    = errors.New("jwt_not_yet_valid")
	ErrIssuedInFuture = errors.New("jwt_iat_in_future")
	ErrAudience       = errors.New("jwt_audience_invalid")
	ErrClaimMissing   = errors.New("jwt_claim_missing")
	ErrClaimInvalid   = errors.New("jwt_claim_invalid")
)

// Errors lists every error Verify returns, for metric registration.
func Errors() []error {
	return []error{ErrTooLarge, ErrMalformed, ErrAlgNone, ErrAlgNotAllowed, ErrCrit, ErrIssuer,
		jwks.ErrUnknownKID, jwks.ErrKIDRequired, jwks.ErrNoKey, ErrSignature, ErrExpMissing,
		ErrExpired, ErrNotYetValid, ErrIssuedInFuture, ErrAudience, ErrClaimMissing, ErrClaimInvalid}
}

// MaxIssuers bounds the issuers of one verifier (routes select them with a
// bit mask).
const MaxIssuers = 64

// supportedAlgs are the algorithms an issuer may list.
var supportedAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true, "HS256": true, "HS384": true, "HS512": true,
}

// Supported reports whether alg can be listed in an issuer's algorithms.
func Supported(alg string) bool { return supportedAlgs[alg] }

// IssuerConfig is one trusted token issuer.
type IssuerConfig struct {
	Name       string   // names the issuer in config, routes and metrics
	Issuer     string   // required exact "iss"
	Audiences  []string // "aud" must contain at least one
	Algorithms []string // accepted "alg" values; "none" is never accepted
	Leeway     time.Duration
	// RequiredClaims must be present (and not null) in every token.
	RequiredClaims []string
	SubjectClaim   string // default "sub"; must be a non-empty string
	TierClaim      string // optional string claim naming the rate-limit tier
	// Static keys (PEM files, secrets, JWKS files) and fetched key sets.
	Static   *jwks.Set
	Fetchers []*jwks.Fetcher
	// RefreshWait is how long a token with an unknown kid waits for an
	// early refresh of the fetched sets (when the rate limit allows one).
	RefreshWait time.Duration
}

// Config configures a Verifier.
type Config struct {
	Issuers       []IssuerConfig
	MaxTokenBytes int
	CacheSize     int           // verified tokens kept; rounded up to a power of two
	CacheTTL      time.Duration // a cached token is re-verified at least this often
}

type issuer struct {
	IssuerConfig
	index   int
	algs    map[string]bool
	aud     map[string]bool
	static  atomic.Pointer[jwks.Set] // never changes; a cell like a fetcher's
	sources []*atomic.Pointer[jwks.Set]
}

// Verifier verifies tokens. Safe for concurrent use; immutable apart from
// its cache.
type Verifier struct {
	issuers  []*issuer
	byIss    map[string]*issuer
	byName   map[string]int
	parser   *jwt.Parser
	cache    *cache
	maxBytes int
	ttl      time.Duration
}

// New builds a verifier.
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("build JWT verifier: no issuer")
	}
	if len(cfg.Issuers) > MaxIssuers {
		return nil, fmt.Errorf("build JWT verifier: %d issuers exceeds %d", len(cfg.Issuers), MaxIssuers)
	}
	if cfg.MaxTokenBytes <= 0 || cfg.CacheSize <= 0 || cfg.CacheTTL <= 0 {
		return nil, errors.New("build JWT verifier: max token bytes, cache size and cache TTL must be > 0")
	}
	v := &Verifier{
		byIss:    map[string]*issuer{},
		byName:   map[string]int{},
		parser:   jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding()),
		cache:    newCache(cfg.CacheSize),
		maxBytes: cfg.MaxTokenBytes,
		ttl:      cfg.CacheTTL,
	}
	for i, ic := range cfg.Issuers {
		if ic.Issuer == "" || len(ic.Audiences) == 0 || len(ic.Algorithms) == 0 {
			return nil, fmt.Errorf("build JWT verifier: issuer %q: iss, audiences and algorithms are required", ic.Name)
		}
		if _, dup := v.byIss[ic.Issuer]; dup {
			return nil, fmt.Errorf("build JWT verifier: issuer %q: iss %q configured twice", ic.Name, ic.Issuer)
		}
		if _, dup := v.byName[ic.Name]; dup {
			return nil, fmt.Errorf("build JWT verifier: issuer name %q configured twice", ic.Name)
		}
		is := &issuer{IssuerConfig: ic, index: i, algs: map[string]bool{}, aud: map[string]bool{}}
		if is.SubjectClaim == "" {
			is.SubjectClaim = "sub"
		}
		for _, a := range ic.Algorithms {
			if !supportedAlgs[a] {
				return nil, fmt.Errorf("build JWT verifier: issuer %q: unsupported algorithm %q", ic.Name, a)
			}
			is.algs[a] = true
		}
		for _, a := range ic.Audiences {
			is.aud[a] = true
		}
		if ic.Static != nil && ic.Static.Len() > 0 {
			is.static.Store(ic.Static)
			is.sources = append(is.sources, &is.static)
		}
		for _, f := range ic.Fetchers {
			is.sources = append(is.sources, f.Cell())
		}
		if len(is.sources) == 0 {
			return nil, fmt.Errorf("build JWT verifier: issuer %q: no keys", ic.Name)
		}
		v.issuers = append(v.issuers, is)
		v.byIss[ic.Issuer] = is
		v.byName[ic.Name] = i
	}
	return v, nil
}

// IssuerIndex returns the index of the named issuer, for route masks.
func (v *Verifier) IssuerIndex(name string) (int, bool) {
	i, ok := v.byName[name]
	return i, ok
}

// Verified is a verified token: the cache entry itself, shared by every
// request that presents the same token, and never modified.
type Verified struct {
	Identity *identity.Identity
	Issuer   int // index in the verifier's issuers
	hash     uint64
	token    []byte
	expires  int64                     // unix nanoseconds; no later than the token's exp
	cell     *atomic.Pointer[jwks.Set] // where the verifying key came from
	set      *jwks.Set                 // the set it was in: a changed set re-verifies
}

// Verify checks token at time now. A token verified before and still
// cached costs a keyed hash and one compare and allocates nothing.
func (v *Verifier) Verify(token []byte, now time.Time) (*Verified, error) {
	if len(token) > v.maxBytes {
		return nil, ErrTooLarge
	}
	nowNano := now.UnixNano()
	if e := v.cache.get(token, nowNano); e != nil {
		return e, nil
	}
	return v.verifySlow(token, now)
}

// keyChoice is what the key function picked, for the cache entry.
type keyChoice struct {
	v      *Verifier
	is     *issuer
	cell   *atomic.Pointer[jwks.Set]
	set    *jwks.Set
	failed error
}

func (v *Verifier) verifySlow(token []byte, now time.Time) (*Verified, error) {
	if len(token) == 0 || strings.Count(string(token), ".") != 2 {
		return nil, ErrMalformed
	}
	kc := &keyChoice{v: v}
	claims := jwt.MapClaims{}
	t, err := v.parser.ParseWithClaims(string(token), claims, kc.keyFunc)
	if err != nil {
		return nil, v.classify(t, kc, err)
	}
	is := kc.is
	id, expires, err := is.check(claims, now, v.ttl)
	if err != nil {
		return nil, err
	}
	e := &Verified{Identity: id, Issuer: is.index, token: append([]byte(nil), token...),
		expires: expires, cell: kc.cell, set: kc.set}
	if expires > now.UnixNano() {
		v.cache.put(e, now.UnixNano())
	}
	return e, nil
}

// classify maps a parse failure to one of the package's errors.
func (v *Verifier) classify(t *jwt.Token, kc *keyChoice, err error) error {
	if kc.failed != nil {
		return kc.failed
	}
	if t != nil && t.Header != nil {
		if alg, ok := t.Header["alg"].(string); ok {
			if strings.EqualFold(alg, "none") {
				return ErrAlgNone
			}
			if !supportedAlgs[alg] {
				return ErrAlgNotAllowed
			}
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return ErrAlgNotAllowed
	}
	return ErrMalformed
}

// keyFunc picks the verification key. It runs on the parsed but unverified
// token: only the alg, kid and crit headers and the iss claim are read.
func (kc *keyChoice) keyFunc(t *jwt.Token) (any, error) {
	fail := func(err error) (any, error) {
		kc.failed = err
		return nil, err
	}
	alg, _ := t.Header["alg"].(string)
	if strings.EqualFold(alg, "none") {
		return fail(ErrAlgNone)
	}
	if _, ok := t.Header["crit"]; ok {
		// No header extension is understood here, so any crit list makes
		// the token invalid (RFC 7515 section 4.1.11).
		return fail(ErrCrit)
	}
	var kid string
	if raw, ok := t.Header["kid"]; ok {
		s, isStr := raw.(string)
		if !isStr {
			return fail(ErrMalformed)
		}
		kid = s
	}
	claims, _ := t.Claims.(jwt.MapClaims)
	iss, _ := claims["iss"].(string)
	is, ok := kc.v.byIss[iss]
	if !ok {
		return fail(ErrIssuer)
	}
	kc.is = is
	if !is.algs[alg] || t.Method == nil || t.Method.Alg() != alg {
		return fail(ErrAlgNotAllowed)
	}
	key, cell, set, err := is.lookup(kid, alg)
	if errors.Is(err, jwks.ErrUnknownKID) && is.refresh() {
		key, cell, set, err = is.lookup(kid, alg)
	}
	if err != nil {
		return fail(err)
	}
	kc.cell, kc.set = cell, set
	return key.Verifier(), nil
}

// lookup searches the issuer's key sources for the key of kid and alg.
func (is *issuer) lookup(kid, alg string) (*jwks.Key, *atomic.Pointer[jwks.Set], *jwks.Set, error) {
	var (
		found    *jwks.Key
		foundIn  *atomic.Pointer[jwks.Set]
		foundSet *jwks.Set
		best     = jwks.ErrUnknownKID
	)
	if kid == "" {
		best = jwks.ErrNoKey
	}
	for _, cell := range is.sources {
		set := cell.Load()
		k, err := set.Lookup(kid, alg)
		switch {
		case err == nil:
			if found != nil {
				return nil, nil, nil, jwks.ErrKIDRequired // ambiguous across sources
			}
			found, foundIn, foundSet = k, cell, set
			if kid != "" {
				return found, foundIn, foundSet, nil
			}
		case errors.Is(err, jwks.ErrKIDRequired):
			return nil, nil, nil, err
		case errors.Is(err, jwks.ErrNoKey):
			best = err // the kid exists (or keys exist) but not for this alg
		}
	}
	if found == nil {
		return nil, nil, nil, best
	}
	return found, foundIn, foundSet, nil
}

// refresh asks every fetcher of the issuer for an early refresh and waits
// up to RefreshWait for those that accepted. It reports whether any did.
func (is *issuer) refresh() bool {
	if len(is.Fetchers) == 0 || is.RefreshWait <= 0 {
		return false
	}
	var waits []<-chan struct{}
	for _, f := range is.Fetchers {
		if ch := f.RequestRefresh(); ch != nil {
			waits = append(waits, ch)
		}
	}
	if len(waits) == 0 {
		return false
	}
	timer := time.NewTimer(is.RefreshWait)
	defer timer.Stop()
	for _, ch := range waits {
		select {
		case <-ch:
		case <-timer.C:
			return true
		}
	}
	return true
}

// check applies the issuer's claim rules and builds the identity. It
// returns the cache expiry: the token's exp, or now+ttl if sooner.
func (is *issuer) check(c jwt.MapClaims, now time.Time, ttl time.Duration) (*identity.Identity, int64, error) {
	exp, err := c.GetExpirationTime()
	if err != nil {
		return nil, 0, ErrClaimInvalid
	}
	if exp == nil {
		return nil, 0, ErrExpMissing
	}
	if !now.Before(exp.Add(is.Leeway)) {
		return nil, 0, ErrExpired
	}
	nbf, err := c.GetNotBefore()
	if err != nil {
		return nil, 0, ErrClaimInvalid
	}
	if nbf != nil && now.Add(is.Leeway).Before(nbf.Time) {
		return nil, 0, ErrNotYetValid
	}
	iat, err := c.GetIssuedAt()
	if err != nil {
		return nil, 0, ErrClaimInvalid
	}
	if iat != nil && now.Add(is.Leeway).Before(iat.Time) {
		return nil, 0, ErrIssuedInFuture
	}
	aud, err := c.GetAudience()
	if err != nil {
		return nil, 0, ErrClaimInvalid
	}
	audOK := false
	for _, a := range aud {
		if is.aud[a] {
			audOK = true
			break
		}
	}
	if !audOK {
		return nil, 0, ErrAudience
	}
	for _, name := range is.RequiredClaims {
		if val, ok := c[name]; !ok || val == nil {
			return nil, 0, ErrClaimMissing
		}
	}
	sub, err := stringClaim(c, is.SubjectClaim, true)
	if err != nil {
		return nil, 0, err
	}
	var tier string
	if is.TierClaim != "" {
		if tier, err = stringClaim(c, is.TierClaim, false); err != nil {
			return nil, 0, err
		}
	}
	scopes, err := scopesOf(c)
	if err != nil {
		return nil, 0, err
	}
	id, err := identity.New(identity.Spec{
		Kind: pipeline.IdentityJWT, Subject: sub, Tier: tier, Scopes: scopes,
		RateKey: "jwt:" + is.Name + ":" + sub,
	})
	if err != nil {
		return nil, 0, ErrClaimInvalid
	}
	expires := exp.UnixNano()
	if exp.Unix() > math.MaxInt64/int64(time.Second) {
		expires = math.MaxInt64
	}
	if limit := now.Add(ttl).UnixNano(); limit < expires {
		expires = limit
	}
	return id, expires, nil
}

func stringClaim(c jwt.MapClaims, name string, required bool) (string, error) {
	raw, ok := c[name]
	if !ok || raw == nil {
		if required {
			return "", ErrClaimMissing
		}
		return "", nil
	}
	s, ok := raw.(string)
	if !ok || (required && s == "") {
		return "", ErrClaimInvalid
	}
	return s, nil
}

// scopesOf reads "scope" (RFC 8693: space-separated string) or "scp"
// (string or array, as some issuers send), preferring "scope".
func scopesOf(c jwt.MapClaims) ([]string, error) {
	raw, ok := c["scope"]
	if !ok {
		raw, ok = c["scp"]
	}
	if !ok || raw == nil {
		return nil, nil
	}
	switch s := raw.(type) {
	case string:
		return strings.Fields(s), nil
	case []any:
		out := make([]string, 0, len(s))
		for _, x := range s {
			str, ok := x.(string)
			if !ok {
				return nil, ErrClaimInvalid
			}
			out = append(out, str)
		}
		return out, nil
	}
	return nil, ErrClaimInvalid
}
