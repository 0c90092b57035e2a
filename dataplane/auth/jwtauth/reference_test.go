package jwtauth

import (
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// This file keeps the uncached path as it was before the fastjson parser:
// jwt.Parser.ParseWithClaims into jwt.MapClaims. It is the reference the
// differential test and fuzz target compare the production path against,
// and the "mapclaims" side of BenchmarkVerifyUncached.

// refParser is configured as the Verifier's parser was.
var refParser = jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())

// verifyReference is the former verifySlow, without the cache insert.
func (v *Verifier) verifyReference(token []byte, now time.Time) (*Verified, error) {
	if len(token) == 0 || strings.Count(string(token), ".") != 2 {
		return nil, ErrMalformed
	}
	kc := &refKeyChoice{v: v}
	claims := jwt.MapClaims{}
	t, err := refParser.ParseWithClaims(string(token), claims, kc.keyFunc)
	if err != nil {
		return nil, v.refClassify(t, kc, err)
	}
	is := kc.is
	id, expires, err := is.refCheck(claims, now, v.ttl)
	if err != nil {
		return nil, err
	}
	return &Verified{Identity: id, Issuer: is.index, token: append([]byte(nil), token...),
		expires: expires, cell: kc.cell, set: kc.set}, nil
}

type refKeyChoice struct {
	v      *Verifier
	is     *issuer
	cell   *atomic.Pointer[jwks.Set]
	set    *jwks.Set
	failed error
}

func (v *Verifier) refClassify(t *jwt.Token, kc *refKeyChoice, err error) error {
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

func (kc *refKeyChoice) keyFunc(t *jwt.Token) (any, error) {
	fail := func(err error) (any, error) {
		kc.failed = err
		return nil, err
	}
	alg, _ := t.Header["alg"].(string)
	if strings.EqualFold(alg, "none") {
		return fail(ErrAlgNone)
	}
	if _, ok := t.Header["crit"]; ok {
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

func (is *issuer) refCheck(c jwt.MapClaims, now time.Time, ttl time.Duration) (*identity.Identity, int64, error) {
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
	sub, err := refStringClaim(c, is.SubjectClaim, true)
	if err != nil {
		return nil, 0, err
	}
	var tier string
	if is.TierClaim != "" {
		if tier, err = refStringClaim(c, is.TierClaim, false); err != nil {
			return nil, 0, err
		}
	}
	scopes, err := refScopesOf(c)
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

func refStringClaim(c jwt.MapClaims, name string, required bool) (string, error) {
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

func refScopesOf(c jwt.MapClaims) ([]string, error) {
	raw, ok := c["scope"]
	if !ok {
		raw, ok = c["scp"]
	}
	if !ok || raw == nil {
		return nil, nil
	}
	switch s := raw.(type) {
	case string:
		if strings.IndexFunc(s, func(r rune) bool { return r != ' ' && (r < 0x21 || r > 0x7e) }) >= 0 {
			return nil, ErrClaimInvalid
		}
		return strings.Fields(s), nil // only spaces are left to split on
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
