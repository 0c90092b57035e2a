package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/auth"
	"github.com/edgeguard/edgeguard/dataplane/auth/apikey"
	"github.com/edgeguard/edgeguard/dataplane/auth/certauth"
	"github.com/edgeguard/edgeguard/dataplane/auth/hmacsig"
	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwtauth"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/policy/config"
)

// authState is the compiled authentication of one policy: verifiers, key
// tables, caches. Parts that must outlive a reload are carried over from
// prev when their settings did not change: JWKS fetchers (with their last
// good key sets) per URL and timing, the JWT verifier with its verified-token
// cache when the JWT section and its key material are identical, the HMAC
// replay cache (a reload must never open a replay window) and the client
// certificate table.
type authState struct {
	shared   *auth.Shared
	strip    *auth.StripStage // nil when no identity header is configured
	fetchers map[fetcherKey]*jwks.Fetcher
	jwtSig   [32]byte
	certCfg  config.ClientCertAuth
	// hmacReplay is the verifier whose replay caches the next reload
	// carries over: shared.HMAC, or without keys a key-less one that
	// keeps the removed keys' caches while their signatures could still
	// be replayed (a reload that puts a key back must find them).
	hmacReplay *hmacsig.Verifier
}

// fetcherStarted is a test seam: it sees every fetcher compile starts.
var fetcherStarted = func(*jwks.Fetcher) {}

// fetcherKey identifies a fetcher that can be carried over a reload.
type fetcherKey struct {
	url                          string
	refresh, minRefresh, timeout time.Duration
}

func compileAuth(c *config.Config, prev *authState, opt Options) (*authState, error) {
	a := &authState{fetchers: map[fetcherKey]*jwks.Fetcher{}}
	ok := false
	defer func() {
		if !ok {
			a.release(prev)
		}
	}()
	if err := checkAuthRefs(c); err != nil {
		return nil, err
	}
	ac := &c.Auth
	s := &auth.Shared{
		Realm:             ac.Realm,
		JWTHeader:         ac.JWT.Header,
		JWTCookie:         ac.JWT.Cookie,
		APIKeyHeader:      ac.APIKeys.Header,
		APIKeyQueryParams: ac.APIKeys.QueryParams,
	}
	a.shared = s

	var err error
	if s.JWT, err = a.compileJWT(ac, prev); err != nil {
		return nil, err
	}
	if s.APIKeys, err = compileAPIKeys(ac.APIKeys); err != nil {
		return nil, err
	}
	if s.HMAC, a.hmacReplay, err = compileHMAC(ac.HMAC, prev); err != nil {
		return nil, err
	}
	a.certCfg = ac.ClientCert
	if prev != nil && prev.shared != nil && prev.shared.Certs != nil && reflect.DeepEqual(prev.certCfg, ac.ClientCert) {
		s.Certs = prev.shared.Certs
	} else {
		s.Certs = compileCerts(ac.ClientCert)
	}
	ih := ac.IdentityHeaders
	off := func(n string) string {
		if n == config.IdentityHeaderOff {
			return ""
		}
		return n
	}
	s.Identity = identity.NewHeaders(identity.HeaderNames{
		Subject: off(ih.Subject), KeyID: off(ih.KeyID), Tier: off(ih.Tier), Scopes: off(ih.Scopes), Kind: off(ih.Method),
	})
	if !s.Identity.Empty() && anyRouteAuthenticates(c) {
		a.strip = &auth.StripStage{Headers: s.Identity}
	}
	ok = true
	return a, nil
}

// anyRouteAuthenticates reports whether identity headers are in use: once
// one route authenticates, upstreams may trust them, so every route strips
// them from client requests.
func anyRouteAuthenticates(c *config.Config) bool {
	for _, r := range c.Routes {
		if len(r.Auth.Methods) > 0 {
			return true
		}
	}
	return false
}

// checkAuthRefs checks what config validation cannot see from one section:
// key route lists name real routes, and routes that accept client
// certificates have a listener that asks for them.
func checkAuthRefs(c *config.Config) error {
	routes := map[string]bool{}
	for _, r := range c.Routes {
		routes[r.Name] = true
	}
	var errs config.Errors
	for i, k := range c.Auth.APIKeys.Keys {
		for j, r := range k.Routes {
			if !routes[r] {
				errs = append(errs, config.FieldError{Key: fmt.Sprintf("auth.api_keys.keys[%d].routes[%d]", i, j), Msg: fmt.Sprintf("unknown route %q", r)})
			}
		}
	}
	for i, k := range c.Auth.HMAC.Keys {
		for j, r := range k.Routes {
			if !routes[r] {
				errs = append(errs, config.FieldError{Key: fmt.Sprintf("auth.hmac.keys[%d].routes[%d]", i, j), Msg: fmt.Sprintf("unknown route %q", r)})
			}
		}
	}
	certs := false
	for _, l := range c.Listeners {
		if l.TLS != nil && l.TLS.ClientAuth != config.ClientAuthNone {
			certs = true
		}
	}
	for i, r := range c.Routes {
		wants := r.Auth.RequireClientCert
		for _, m := range r.Auth.Methods {
			wants = wants || m == config.AuthMethodClientCert
		}
		if wants && !certs {
			errs = append(errs, config.FieldError{Key: fmt.Sprintf("routes[%d].auth", i), Msg: config.ErrNoClientCertListener.Error()})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// compileJWT builds the JWT verifier, reusing prev's (and its cache) when
// nothing it depends on changed.
func (a *authState) compileJWT(ac *config.Auth, prev *authState) (*jwtauth.Verifier, error) {
	j := ac.JWT
	if len(j.Issuers) == 0 {
		return nil, nil
	}
	sig := sha256.New()
	cfgJSON, _ := json.Marshal(j)
	sig.Write(cfgJSON)
	issuers := make([]jwtauth.IssuerConfig, 0, len(j.Issuers))
	for i, is := range j.Issuers {
		key := fmt.Sprintf("auth.jwt.issuers[%d]", i)
		ic := jwtauth.IssuerConfig{
			Name: is.Name, Issuer: is.Issuer, Audiences: is.Audiences, Algorithms: is.Algorithms, Leeway: is.Leeway,
			RequiredClaims: is.RequiredClaims, SubjectClaim: is.SubjectClaim, TierClaim: is.TierClaim, RefreshWait: is.RefreshWait,
		}
		var static []*jwks.Key
		for k, src := range is.Keys {
			kk := fmt.Sprintf("%s.keys[%d]", key, k)
			switch {
			case src.JWKSURL != "":
				fk := fetcherKey{url: src.JWKSURL, refresh: is.JWKSRefresh, minRefresh: is.JWKSMinRefresh, timeout: is.JWKSTimeout}
				f := a.fetchers[fk]
				if f == nil && prev != nil {
					f = prev.fetchers[fk]
				}
				if f == nil {
					f = jwks.NewFetcher(jwks.FetcherConfig{URL: fk.url, Refresh: fk.refresh, MinRefresh: fk.minRefresh, Timeout: fk.timeout})
					f.Start()
					fetcherStarted(f)
				}
				a.fetchers[fk] = f
				ic.Fetchers = append(ic.Fetchers, f)
				fmt.Fprintf(sig, "fetcher %p\n", f)
			default:
				keys, err := loadStaticKeys(src)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", kk, err)
				}
				static = append(static, keys...)
			}
		}
		set := jwks.NewSet(static)
		d := set.Digest()
		sig.Write(d[:])
		ic.Static = set
		issuers = append(issuers, ic)
	}
	sig.Sum(a.jwtSig[:0])
	if prev != nil && prev.shared != nil && prev.shared.JWT != nil && prev.jwtSig == a.jwtSig {
		return prev.shared.JWT, nil
	}
	v, err := jwtauth.New(jwtauth.Config{Issuers: issuers, MaxTokenBytes: j.MaxTokenBytes, CacheSize: j.CacheSize, CacheTTL: j.CacheTTL})
	if err != nil {
		return nil, fmt.Errorf("auth.jwt: %w", err)
	}
	return v, nil
}

func loadStaticKeys(src config.JWTKey) ([]*jwks.Key, error) {
	switch {
	case src.PEMFile != "":
		data, err := os.ReadFile(src.PEMFile)
		if err != nil {
			return nil, fmt.Errorf("pem_file: %w", err)
		}
		k, err := jwks.ParsePEM(src.KID, data)
		if err != nil {
			return nil, fmt.Errorf("pem_file %s: %w", src.PEMFile, err)
		}
		return []*jwks.Key{k}, nil
	case src.SecretFile != "":
		secret, err := readSecret(src.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("secret_file: %w", err)
		}
		k, err := jwks.NewSecret(src.KID, secret)
		if err != nil {
			return nil, fmt.Errorf("secret_file %s: %w", src.SecretFile, err)
		}
		return []*jwks.Key{k}, nil
	case src.JWKSFile != "":
		data, err := os.ReadFile(src.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("jwks_file: %w", err)
		}
		set, _, err := jwks.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("jwks_file %s: %w", src.JWKSFile, err)
		}
		if set.Len() == 0 {
			return nil, fmt.Errorf("jwks_file %s: no usable signing key", src.JWKSFile)
		}
		return set.Keys(), nil
	}
	return nil, errors.New("no key source")
}

// readSecret reads a secret file; one trailing line break (as editors and
// echo add) is not part of the secret.
func readSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	return bytes.TrimSuffix(data, []byte("\r")), nil
}

func compileAPIKeys(ak config.APIKeyAuth) (*apikey.Table, error) {
	if len(ak.Keys) == 0 {
		return nil, nil
	}
	cfgs := make([]apikey.KeyConfig, 0, len(ak.Keys))
	for i, k := range ak.Keys {
		key := fmt.Sprintf("auth.api_keys.keys[%d]", i)
		h, err := apikey.ParseHash(config.APIKeyHash(k.Hash))
		if err != nil {
			return nil, fmt.Errorf("%s.hash: %w", key, err)
		}
		na, err := config.ParseNotAfter(k.NotAfter)
		if err != nil {
			return nil, fmt.Errorf("%s.not_after: %w", key, err)
		}
		cfgs = append(cfgs, apikey.KeyConfig{ID: k.ID, Client: k.Client, Tier: k.Tier, Hash: h, Routes: k.Routes, Scopes: k.Scopes, NotAfter: na})
	}
	t, err := apikey.NewTable(cfgs)
	if err != nil {
		return nil, fmt.Errorf("auth.api_keys: %w", err)
	}
	return t, nil
}

// compileHMAC returns the verifier routes use (nil without keys) and the
// one whose replay caches the next reload carries over (authState).
func compileHMAC(hc config.HMACAuth, prev *authState) (use, carry *hmacsig.Verifier, err error) {
	if len(hc.Keys) == 0 && (prev == nil || prev.hmacReplay == nil) {
		return nil, nil, nil
	}
	cfg := hmacsig.Config{MaxSkew: hc.MaxSkew, ReplayCacheSize: hc.ReplayCacheSize, RequiredHeaders: hc.RequiredHeaders}
	if prev != nil {
		// Keep every signature accepted before the reload (per secret,
		// even when the cache size or the skew changes, and for keys this
		// reload removes): a fresh cache would let them be replayed until
		// their timestamps age out.
		cfg.Previous = prev.hmacReplay
	}
	for i, k := range hc.Keys {
		key := fmt.Sprintf("auth.hmac.keys[%d]", i)
		secret, err := readSecret(k.SecretFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.secret_file: %w", key, err)
		}
		na, err := config.ParseNotAfter(k.NotAfter)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.not_after: %w", key, err)
		}
		cfg.Keys = append(cfg.Keys, hmacsig.KeyConfig{ID: k.ID, Client: k.Client, Tier: k.Tier, Secret: secret,
			Routes: k.Routes, Scopes: k.Scopes, NotAfter: na})
	}
	v, err := hmacsig.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("auth.hmac: %w", err)
	}
	if len(hc.Keys) == 0 {
		return nil, v, nil
	}
	return v, v, nil
}

func compileCerts(cc config.ClientCertAuth) *certauth.Authenticator {
	mode := certauth.SAN
	switch cc.Identity {
	case config.CertIdentitySubject:
		mode = certauth.Subject
	case config.CertIdentityCommonName:
		mode = certauth.CommonName
	}
	cfg := certauth.Config{Mode: mode, CacheSize: 4096}
	for _, cl := range cc.Clients {
		cfg.Clients = append(cfg.Clients, certauth.Client{Identity: cl.Identity, Tier: cl.Tier, Scopes: cl.Scopes})
	}
	return certauth.New(cfg)
}

// routeStages returns the stages that authenticate requests on route r, in
// order. When any route authenticates, a route without authentication
// still gets the stage that strips identity headers, so a client can never
// forge them.
func (a *authState) routeStages(r *config.Route) ([]pipeline.Stage, error) {
	if len(r.Auth.Methods) == 0 {
		if a.strip == nil {
			return nil, nil
		}
		return []pipeline.Stage{a.strip}, nil
	}
	rc := auth.RouteConfig{Route: r.Name, Issuers: r.Auth.Issuers, Scopes: r.Auth.Scopes, RequireClientCert: r.Auth.RequireClientCert}
	for _, m := range r.Auth.Methods {
		bit, ok := auth.ParseMethod(m)
		if !ok {
			return nil, fmt.Errorf("auth: unknown method %q", m)
		}
		rc.Methods |= bit
	}
	st, err := auth.NewStage(a.shared, rc)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return []pipeline.Stage{st}, nil
}

// release stops what a does not hand over to next (nil: stop everything):
// the JWKS fetchers next does not use. Verifiers and caches hold no
// goroutines and are dropped with the policy.
func (a *authState) release(next *authState) {
	if a == nil {
		return
	}
	for k, f := range a.fetchers {
		if next != nil && next.fetchers[k] == f {
			continue
		}
		f.Close()
	}
}
