// Package jwtauth verifies JWT bearer tokens for the gateway: header and
// claims read in one pass with github.com/valyala/fastjson into pooled
// buffers, signature checked with github.com/golang-jwt/jwt/v5's signing
// methods against the keys of the token's issuer, then the issuer's claim
// rules (iss, aud, exp, nbf, iat, required claims); verified tokens are
// cached so a repeated token costs a hash and a compare.
// It must never trust anything a token says about where its key lives (jku,
// x5u and jwk headers are ignored, never fetched), never accept "none", and
// never let an algorithm verify with a key of another family.
package jwtauth

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
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
	// ErrDuplicateMember: a header member or claim the gateway reads is
	// given twice. JSON leaves duplicates to the reader, and readers
	// disagree (the first wins in some, the last in others): the
	// gateway would check one "sub" or "exp" and the upstream read the
	// other.
	ErrDuplicateMember = errors.New("jwt_duplicate_member")
)

// Errors lists every error Verify returns, for metric registration.
func Errors() []error {
	return []error{ErrTooLarge, ErrMalformed, ErrAlgNone, ErrAlgNotAllowed, ErrCrit, ErrIssuer,
		jwks.ErrUnknownKID, jwks.ErrKIDRequired, jwks.ErrNoKey, ErrSignature, ErrExpMissing,
		ErrExpired, ErrNotYetValid, ErrIssuedInFuture, ErrAudience, ErrClaimMissing, ErrClaimInvalid, ErrDuplicateMember}
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
	// Claim slots (see Verifier.claimSlot) of the subject, the tier (-1:
	// none) and the required claims, resolved once here.
	subSlot, tierSlot int
	reqSlots          []int
	rateKeyPrefix     string // "jwt:<name>:"
}

// Verifier verifies tokens. Safe for concurrent use; immutable apart from
// its cache.
type Verifier struct {
	issuers  []*issuer
	byIss    map[string]*issuer
	byName   map[string]int
	cache    *cache
	maxBytes int
	ttl      time.Duration
	// claimSlot numbers every claim name a check reads (the fixed ones
	// first, then each issuer's subject, tier and required claims), so one
	// pass over a payload records each in its slot of the scratch.
	claimSlot map[string]int
	scratch   sync.Pool // *scratch
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
		byIss:     map[string]*issuer{},
		byName:    map[string]int{},
		cache:     newCache(cfg.CacheSize),
		maxBytes:  cfg.MaxTokenBytes,
		ttl:       cfg.CacheTTL,
		claimSlot: map[string]int{},
	}
	for i, name := range fixedClaims {
		v.claimSlot[name] = i
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
		is.subSlot, is.tierSlot = v.slotOf(is.SubjectClaim), -1
		if is.TierClaim != "" {
			is.tierSlot = v.slotOf(is.TierClaim)
		}
		for _, name := range is.RequiredClaims {
			is.reqSlots = append(is.reqSlots, v.slotOf(name))
		}
		is.rateKeyPrefix = "jwt:" + is.Name + ":"
		v.issuers = append(v.issuers, is)
		v.byIss[ic.Issuer] = is
		v.byName[ic.Name] = i
	}
	slots := len(v.claimSlot)
	v.scratch.New = func() any { return &scratch{slots: make([]*fastjson.Value, slots)} }
	return v, nil
}

// slotOf returns the claim slot of name, adding one if it has none.
func (v *Verifier) slotOf(name string) int {
	i, ok := v.claimSlot[name]
	if !ok {
		i = len(v.claimSlot)
		v.claimSlot[name] = i
	}
	return i
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
