// Package auth is the authentication stage of a route: it strips identity
// headers a client sent, finds the request's credential (HMAC signature,
// JWT bearer token, API key header or verified client certificate, in that
// order, among the methods the route accepts), verifies it with the
// matching subpackage, checks the route's scope and route restrictions, and
// passes the identity on (pipeline.Request.Principal and upstream headers).
// Failures are 401 with a WWW-Authenticate challenge, 403 for valid
// credentials lacking a scope or the route, and 400 for an API key in the
// query string; the response only says that in general terms, the access
// log and metrics get the precise cause. It must never forward a request
// whose credential it did not verify, and never log a credential.
package auth

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/apikey"
	"github.com/edgeguard/edgeguard/dataplane/auth/certauth"
	"github.com/edgeguard/edgeguard/dataplane/auth/hmacsig"
	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwtauth"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Method is a set of credential kinds a route accepts.
type Method uint8

const (
	MethodJWT Method = 1 << iota
	MethodAPIKey
	MethodHMAC
	MethodCert
)

// ParseMethod maps a configuration name to a Method.
func ParseMethod(s string) (Method, bool) {
	switch s {
	case "jwt":
		return MethodJWT, true
	case "api_key":
		return MethodAPIKey, true
	case "hmac":
		return MethodHMAC, true
	case "client_cert":
		return MethodCert, true
	}
	return 0, false
}

// Stage-level deny causes (verifier errors come from the subpackages).
var (
	ErrMissing          = errors.New("credentials_missing")
	ErrKeyInQuery       = errors.New("api_key_in_query")
	ErrIssuerNotAllowed = errors.New("jwt_issuer_not_allowed")
	ErrRouteNotAllowed  = errors.New("route_not_allowed")
	ErrScopeMissing     = errors.New("scope_missing")
)

// Shared is what every route's stage of one policy shares: verifiers, the
// credential locations and the identity headers. Nil verifiers mean the
// method is not configured.
type Shared struct {
	Realm string

	JWT       *jwtauth.Verifier
	JWTHeader string // default Authorization; the "Bearer " scheme is required there
	JWTCookie string // read when the header is absent; empty: no cookie

	APIKeys           *apikey.Table
	APIKeyHeader      string   // e.g. X-API-Key
	APIKeyQueryParams []string // names that mark a key in the query string

	HMAC  *hmacsig.Verifier
	Certs *certauth.Authenticator

	Identity *identity.Headers

	// Now is the clock; nil uses the request's start time.
	Now func() time.Time
}

// RouteConfig is one route's requirement.
type RouteConfig struct {
	Route             string
	Methods           Method
	Issuers           []string // JWT issuers accepted; empty: all
	Scopes            []string // all required
	RequireClientCert bool     // a verified client certificate in addition
}

// Stage authenticates requests of one route. Immutable once built.
type Stage struct {
	s         *Shared
	route     string
	methods   Method
	issuers   uint64 // bit i: issuer i accepted
	scopes    []string
	needCert  bool
	jwtHeader []byte
	bearer    bool
	cookie    string
	keyHeader []byte
	queryKeys [][]byte
	// carriers are every header that can carry a credential (Authorization,
	// the JWT header, the API key header): those the request did not
	// authenticate with are removed before it goes upstream.
	carriers [][]byte

	challengeMissing []byte
	challengeBearer  []byte // invalid_token
	challengeScope   []byte // insufficient_scope
	challengeKey     []byte
	challengeHMAC    []byte
	challengeCert    []byte

	denied map[error]*metrics.Counter
	ok     [4]*metrics.Counter // by method bit index
}

var _ pipeline.Stage = (*Stage)(nil)

var (
	strWWWAuthenticate = fasthttp.AppendNormalizedHeaderKey(nil, fasthttp.HeaderWWWAuthenticate)
	strAuthorization   = []byte(fasthttp.HeaderAuthorization)
)

// NewStage compiles a route's stage.
func NewStage(s *Shared, rc RouteConfig) (*Stage, error) {
	if rc.Methods == 0 && !rc.RequireClientCert {
		return nil, fmt.Errorf("build auth stage %q: no method", rc.Route)
	}
	st := &Stage{s: s, route: rc.Route, methods: rc.Methods, scopes: append([]string(nil), rc.Scopes...),
		needCert: rc.RequireClientCert, cookie: s.JWTCookie, denied: map[error]*metrics.Counter{}}
	if rc.Methods&MethodJWT != 0 {
		if s.JWT == nil {
			return nil, fmt.Errorf("build auth stage %q: jwt accepted but no issuer configured", rc.Route)
		}
		h := s.JWTHeader
		if h == "" {
			h = fasthttp.HeaderAuthorization
		}
		st.jwtHeader = fasthttp.AppendNormalizedHeaderKey(nil, h)
		st.bearer = bytes.Equal(st.jwtHeader, strAuthorization)
		if len(rc.Issuers) == 0 {
			st.issuers = ^uint64(0)
		}
		for _, name := range rc.Issuers {
			i, ok := s.JWT.IssuerIndex(name)
			if !ok {
				return nil, fmt.Errorf("build auth stage %q: unknown issuer %q", rc.Route, name)
			}
			st.issuers |= 1 << i
		}
	}
	if rc.Methods&MethodAPIKey != 0 {
		if s.APIKeys == nil || s.APIKeyHeader == "" {
			return nil, fmt.Errorf("build auth stage %q: api_key accepted but no keys configured", rc.Route)
		}
		st.keyHeader = fasthttp.AppendNormalizedHeaderKey(nil, s.APIKeyHeader)
		for _, q := range s.APIKeyQueryParams {
			st.queryKeys = append(st.queryKeys, []byte(strings.ToLower(q)))
		}
	}
	st.carriers = [][]byte{strAuthorization}
	for _, n := range []string{s.JWTHeader, s.APIKeyHeader} {
		if n == "" {
			continue
		}
		c := fasthttp.AppendNormalizedHeaderKey(nil, n)
		if !slices.ContainsFunc(st.carriers, func(b []byte) bool { return bytes.Equal(b, c) }) {
			st.carriers = append(st.carriers, c)
		}
	}
	if rc.Methods&MethodHMAC != 0 && s.HMAC == nil {
		return nil, fmt.Errorf("build auth stage %q: hmac accepted but no keys configured", rc.Route)
	}
	if (rc.Methods&MethodCert != 0 || rc.RequireClientCert) && s.Certs == nil {
		return nil, fmt.Errorf("build auth stage %q: client certificates accepted but not configured", rc.Route)
	}
	st.buildChallenges()
	st.buildMetrics()
	return st, nil
}

func (st *Stage) buildChallenges() {
	realm := `realm="` + strings.NewReplacer(`"`, `'`, `\`, `/`).Replace(st.s.Realm) + `"`
	var all []string
	if st.methods&MethodJWT != 0 {
		all = append(all, "Bearer "+realm)
		st.challengeBearer = []byte("Bearer " + realm + `, error="invalid_token"`)
		st.challengeScope = []byte("Bearer " + realm + `, error="insufficient_scope"`)
	}
	if st.methods&MethodAPIKey != 0 {
		c := "ApiKey " + realm + `, header="` + string(st.keyHeader) + `"`
		all = append(all, c)
		st.challengeKey = []byte(c)
	}
	if st.methods&MethodHMAC != 0 {
		c := hmacsig.Scheme + " " + realm
		all = append(all, c)
		st.challengeHMAC = []byte(c)
	}
	if st.methods&MethodCert != 0 || st.needCert {
		c := "ClientCertificate " + realm
		all = append(all, c)
		st.challengeCert = []byte(c)
	}
	st.challengeMissing = []byte(strings.Join(all, ", "))
}

func (st *Stage) buildMetrics() {
	var errs []error
	errs = append(errs, ErrMissing, ErrKeyInQuery, ErrIssuerNotAllowed, ErrRouteNotAllowed, ErrScopeMissing)
	errs = append(errs, jwtauth.Errors()...)
	errs = append(errs, apikey.Errors()...)
	errs = append(errs, hmacsig.Errors()...)
	errs = append(errs, certauth.Errors()...)
	for _, e := range errs {
		st.denied[e] = metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_auth_denied_total{route=%q,cause=%q}`, st.route, e.Error()))
	}
	for i, m := range [...]string{"jwt", "api_key", "hmac", "client_cert"} {
		st.ok[i] = metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_auth_ok_total{route=%q,method=%q}`, st.route, m))
	}
}

// Name implements pipeline.Stage.
func (st *Stage) Name() string { return "auth" }

// Handle implements pipeline.Stage.
func (st *Stage) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	h := &ctx.Request.Header
	if st.s.Identity != nil {
		st.s.Identity.Strip(h)
	}
	now := r.Start
	if st.s.Now != nil {
		now = st.s.Now()
	} else if now.IsZero() {
		now = time.Now()
	}
	if v := st.precheck(ctx, r); v != pipeline.Continue {
		return v
	}

	var (
		id      *identity.Identity
		err     error
		method  int
		allowed = true
		found   bool
		auth    = h.PeekBytes(strAuthorization)
		signed  = st.methods&MethodHMAC != 0 && hmacsig.HasScheme(auth)
		tok     []byte
		cookie  bool // the token came from the cookie
	)
	if st.methods&MethodJWT != 0 && !signed {
		tok, cookie = st.token(h, auth)
	}
	switch {
	case signed:
		found, method = true, 2
		var k *hmacsig.Key
		if k, err = st.s.HMAC.Verify(ctx, r.Path, now); err == nil {
			id, allowed = k.Identity, k.AllowsRoute(st.route)
		}
	case tok != nil:
		found, method = true, 0
		var v *jwtauth.Verified
		if v, err = st.s.JWT.Verify(tok, now); err == nil {
			if st.issuers&(1<<v.Issuer) == 0 {
				err = ErrIssuerNotAllowed
			}
			id = v.Identity
		}
	case st.methods&MethodAPIKey != 0 && len(h.PeekBytes(st.keyHeader)) > 0:
		found, method = true, 1
		var k *apikey.Key
		if k, err = st.s.APIKeys.Lookup(h.PeekBytes(st.keyHeader), now); err == nil {
			id, allowed = k.Identity, k.AllowsRoute(st.route)
		}
	case st.methods&MethodCert != 0:
		id, err = st.s.Certs.Identify(ctx)
		found, method = !errors.Is(err, certauth.ErrNoCert), 3
	}
	if !found {
		return st.deny(ctx, r, fasthttp.StatusUnauthorized, pipeline.ReasonUnauthenticated, ErrMissing, st.challengeMissing)
	}
	if err != nil {
		return st.deny(ctx, r, fasthttp.StatusUnauthorized, pipeline.ReasonUnauthenticated, err, st.challengeFor(method))
	}
	if !allowed {
		return st.deny(ctx, r, fasthttp.StatusForbidden, pipeline.ReasonForbidden, ErrRouteNotAllowed, nil)
	}
	if !id.HasScopes(st.scopes) {
		var c []byte
		if method == 0 {
			c = st.challengeScope
		}
		return st.deny(ctx, r, fasthttp.StatusForbidden, pipeline.ReasonForbidden, ErrScopeMissing, c)
	}
	r.Principal = &id.Principal
	if st.s.Identity != nil {
		st.s.Identity.Set(h, id)
	}
	// The upstream gets only the credential the gateway verified: an
	// unverified one riding along (a forged token beside a valid API key,
	// a cookie beside a header) is what an upstream might act on. An API
	// key goes too: the upstream gets its id in the identity headers, the
	// key itself would only end up in its logs.
	var used []byte
	switch method {
	case 0:
		if !cookie {
			used = st.jwtHeader
		}
	case 2:
		used = strAuthorization
	}
	for _, c := range st.carriers {
		if !bytes.Equal(c, used) && h.PeekBytes(c) != nil {
			h.DelBytes(c)
		}
	}
	if st.cookie != "" && !(method == 0 && cookie) && h.Cookie(st.cookie) != nil {
		h.DelCookie(st.cookie)
	}
	st.ok[method].Inc()
	return pipeline.Continue
}

// CheckHead implements pipeline.HeadChecker: a credential in the query
// (400), a missing client certificate the route demands, or no credential
// of any kind the route takes (401) are refused from the head. Whether a
// credential is valid is left to Handle (an HMAC signature covers the body).
func (st *Stage) CheckHead(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	if v := st.precheck(ctx, r); v != pipeline.Continue {
		return v
	}
	h := &ctx.Request.Header
	auth := h.PeekBytes(strAuthorization)
	found := st.methods&MethodHMAC != 0 && hmacsig.HasScheme(auth)
	if !found && st.methods&MethodJWT != 0 {
		tok, _ := st.token(h, auth)
		found = tok != nil
	}
	if !found && st.methods&MethodAPIKey != 0 {
		found = len(h.PeekBytes(st.keyHeader)) > 0
	}
	if !found && st.methods&MethodCert != 0 {
		_, err := st.s.Certs.Identify(ctx)
		found = !errors.Is(err, certauth.ErrNoCert)
	}
	if !found {
		return st.deny(ctx, r, fasthttp.StatusUnauthorized, pipeline.ReasonUnauthenticated, ErrMissing, st.challengeMissing)
	}
	return pipeline.Continue
}

// precheck refuses, before any credential is looked at, an API key in the
// query and a missing client certificate the route demands.
func (st *Stage) precheck(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	if st.queryKeys != nil && apikey.QueryLeak(ctx.URI().QueryString(), st.queryKeys) {
		return st.deny(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonCredentialInQuery, ErrKeyInQuery, nil)
	}
	if st.needCert {
		if _, err := st.s.Certs.Identify(ctx); err != nil {
			return st.deny(ctx, r, fasthttp.StatusUnauthorized, pipeline.ReasonUnauthenticated, err, st.challengeCert)
		}
	}
	return pipeline.Continue
}

var bearerPrefix = []byte("bearer ")

// token finds the bearer token: in the configured header (with the Bearer
// scheme when that header is Authorization), else in the cookie, which
// fromCookie reports.
func (st *Stage) token(h *fasthttp.RequestHeader, auth []byte) (tok []byte, fromCookie bool) {
	v := auth
	if !st.bearer {
		v = h.PeekBytes(st.jwtHeader)
	}
	if len(v) > 0 {
		if len(v) > len(bearerPrefix) && asciiFoldPrefix(v, bearerPrefix) {
			return bytes.TrimLeft(v[len(bearerPrefix):], " "), false
		}
		if !st.bearer {
			return v, false
		}
	}
	if st.cookie != "" {
		if c := h.Cookie(st.cookie); len(c) > 0 {
			return c, true
		}
	}
	return nil, false
}

func asciiFoldPrefix(b, lowerPrefix []byte) bool {
	for i, c := range lowerPrefix {
		x := b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != c {
			return false
		}
	}
	return true
}

func (st *Stage) challengeFor(method int) []byte {
	switch method {
	case 0:
		return st.challengeBearer
	case 1:
		return st.challengeKey
	case 2:
		return st.challengeHMAC
	}
	return st.challengeCert
}

// deny writes the standard error response, records the precise cause and
// adds the challenge. The response is final: no later stage runs.
func (st *Stage) deny(ctx *fasthttp.RequestCtx, r *pipeline.Request, status int, reason pipeline.Reason, cause error, challenge []byte) pipeline.Verdict {
	v := pipeline.Deny(ctx, r, status, reason)
	r.Detail = cause.Error() // a static string: every cause is a package-level sentinel
	if challenge != nil {
		ctx.Response.Header.SetCanonical(strWWWAuthenticate, challenge)
	}
	if c := st.denied[cause]; c != nil {
		c.Inc()
	}
	return v
}

// StripStage only removes identity headers: routes without authentication
// get it so a client can never hand the upstream a forged identity.
type StripStage struct{ Headers *identity.Headers }

var _ pipeline.Stage = (*StripStage)(nil)

// Name implements pipeline.Stage.
func (s *StripStage) Name() string { return "identity_strip" }

// Handle implements pipeline.Stage.
func (s *StripStage) Handle(ctx *fasthttp.RequestCtx, _ *pipeline.Request) pipeline.Verdict {
	s.Headers.Strip(&ctx.Request.Header)
	return pipeline.Continue
}
