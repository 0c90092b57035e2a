package auth

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/apikey"
	"github.com/edgeguard/edgeguard/dataplane/auth/certauth"
	"github.com/edgeguard/edgeguard/dataplane/auth/hmacsig"
	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwtauth"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

var (
	now        = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	jwtSecret  = []byte("stage-test-hmac-secret-0123456789abcdef")
	hmacSecret = []byte("stage-test-request-signing-secret-0123456")
	goodKey    = "egk_stage-test-key-orders"
	adminKey   = "egk_stage-test-key-admin"
)

func shared(t testing.TB) *Shared {
	t.Helper()
	k, err := jwks.NewSecret("hs1", jwtSecret)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name, iss string) jwtauth.IssuerConfig {
		return jwtauth.IssuerConfig{Name: name, Issuer: iss, Audiences: []string{"api"}, Algorithms: []string{"HS256"},
			Static: jwks.NewSet([]*jwks.Key{k}), TierClaim: "tier"}
	}
	v, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.IssuerConfig{mk("corp", "https://corp/"), mk("partner", "https://partner/")},
		MaxTokenBytes: 8192, CacheSize: 256, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.NewTable([]apikey.KeyConfig{
		{ID: "acme-1", Client: "acme", Tier: "gold", Hash: sha256.Sum256([]byte(goodKey)), Routes: []string{"orders"}, Scopes: []string{"orders:read"}},
		{ID: "admin-1", Client: "ops", Hash: sha256.Sum256([]byte(adminKey)), Scopes: []string{"orders:read", "admin"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hv, err := hmacsig.New(hmacsig.Config{Keys: []hmacsig.KeyConfig{{ID: "svc", Client: "billing", Secret: hmacSecret, Scopes: []string{"orders:read"}}},
		MaxSkew: time.Minute, ReplayCacheSize: 1024, RequiredHeaders: []string{"host"}})
	if err != nil {
		t.Fatal(err)
	}
	return &Shared{
		Realm: "edgeguard", JWT: v, JWTCookie: "session",
		APIKeys: keys, APIKeyHeader: "X-API-Key", APIKeyQueryParams: []string{"api_key", "apikey"},
		HMAC: hv, Certs: certauth.New(certauth.Config{}),
		Identity: identity.NewHeaders(identity.HeaderNames{Subject: "X-Auth-Subject", KeyID: "X-Auth-Key-Id", Tier: "X-Auth-Tier", Scopes: "X-Auth-Scopes", Kind: "X-Auth-Method"}),
		Now:      func() time.Time { return now },
	}
}

func token(t testing.TB, over map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"iss": "https://corp/", "aud": "api", "sub": "alice", "exp": now.Add(time.Hour).Unix(), "scope": "orders:read", "tier": "silver"}
	for k, v := range over {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = "hs1"
	s, err := tok.SignedString(jwtSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newCtx(uri string, hdr ...string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetRequestURI(uri)
	ctx.Request.Header.SetHost("api.test")
	for i := 0; i+1 < len(hdr); i += 2 {
		ctx.Request.Header.Add(hdr[i], hdr[i+1])
	}
	return ctx
}

func TestStage(t *testing.T) {
	c := metrics.GetOrCreateCounter(`edgeguard_auth_denied_total{route="orders",cause="jwt_expired"}`)
	deniedBefore := c.Get() // the registry is global: count what this run adds
	s := shared(t)
	orders := RouteConfig{Route: "orders", Methods: MethodJWT | MethodAPIKey | MethodHMAC, Scopes: []string{"orders:read"}, Issuers: []string{"corp"}}
	admin := RouteConfig{Route: "admin", Methods: MethodJWT | MethodAPIKey, Scopes: []string{"admin"}}
	mtls := RouteConfig{Route: "mtls", Methods: MethodCert}
	withCert := RouteConfig{Route: "bound", Methods: MethodJWT, RequireClientCert: true}

	signed := func(query string) func(t *testing.T) *fasthttp.RequestCtx {
		return func(t *testing.T) *fasthttp.RequestCtx { return signedReq(t, query) }
	}
	replayed := signedReq(t, "x=1")

	cases := []struct {
		name      string
		route     RouteConfig
		ctx       func(t *testing.T) *fasthttp.RequestCtx
		status    int // 0: Continue
		reason    pipeline.Reason
		detail    string
		challenge string
		subject   string // identity passed upstream
		keyID     string
	}{
		{name: "no credentials", route: orders, ctx: func(*testing.T) *fasthttp.RequestCtx { return newCtx("/orders/7") },
			status: 401, reason: pipeline.ReasonUnauthenticated, detail: "credentials_missing",
			challenge: `Bearer realm="edgeguard", ApiKey realm="edgeguard", header="X-Api-Key", EG-HMAC-SHA256 realm="edgeguard"`},
		{name: "valid bearer token", route: orders, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "Authorization", "Bearer "+token(t, nil))
		}, subject: "alice"},
		{name: "bearer scheme in lower case", route: orders, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "Authorization", "bearer "+token(t, nil))
		}, subject: "alice"},
		{name: "token in the session cookie", route: orders, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "Cookie", "theme=dark; session="+token(t, nil))
		}, subject: "alice"},
		{name: "forged identity headers are replaced", route: orders, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "Authorization", "Bearer "+token(t, nil), "X-Auth-Subject", "root", "X-Auth-Tier", "platinum",
				"X-Auth_Key-Id", "admin-1", "x-auth-scopes", "admin")
		}, subject: "alice"},
		{name: "expired token", route: orders, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "Authorization", "Bearer "+token(t, map[string]any{"exp": now.Add(-time.Hour).Unix()}))
		}, status: 401, reason: pipeline.ReasonUnauthenticated, detail: "jwt_expired", challenge: `Bearer realm="edgeguard", error="invalid_token"`},
		{name: "garbage token", route: orders, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "Authorization", "Bearer abc")
		}, status: 401, reason: pipeline.ReasonUnauthenticated, detail: "jwt_malformed", challenge: `Bearer realm="edgeguard", error="invalid_token"`},
		{name: "issuer not accepted on the route", route: orders, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "Authorization", "Bearer "+token(t, map[string]any{"iss": "https://partner/"}))
		}, status: 401, reason: pipeline.ReasonUnauthenticated, detail: "jwt_issuer_not_allowed", challenge: `Bearer realm="edgeguard", error="invalid_token"`},
		{name: "token without the required scope", route: admin, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/admin", "Authorization", "Bearer "+token(t, nil))
		}, status: 403, reason: pipeline.ReasonForbidden, detail: "scope_missing", challenge: `Bearer realm="edgeguard", error="insufficient_scope"`},
		{name: "valid API key", route: orders, ctx: func(*testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "X-API-Key", goodKey)
		}, subject: "acme", keyID: "acme-1"},
		{name: "unknown API key", route: orders, ctx: func(*testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7", "X-API-Key", "egk_guess")
		}, status: 401, reason: pipeline.ReasonUnauthenticated, detail: "api_key_unknown", challenge: `ApiKey realm="edgeguard", header="X-Api-Key"`},
		{name: "API key in the query string", route: orders, ctx: func(*testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7?api_key=" + goodKey)
		}, status: 400, reason: pipeline.ReasonCredentialInQuery, detail: "api_key_in_query"},
		{name: "API key in the query even with a header key", route: orders, ctx: func(*testing.T) *fasthttp.RequestCtx {
			return newCtx("/orders/7?k="+goodKey, "X-API-Key", goodKey)
		}, status: 400, reason: pipeline.ReasonCredentialInQuery, detail: "api_key_in_query"},
		{name: "API key not allowed on the route", route: admin, ctx: func(*testing.T) *fasthttp.RequestCtx {
			return newCtx("/admin", "X-API-Key", goodKey)
		}, status: 403, reason: pipeline.ReasonForbidden, detail: "route_not_allowed"},
		{name: "API key with the admin scope", route: admin, ctx: func(*testing.T) *fasthttp.RequestCtx {
			return newCtx("/admin", "X-API-Key", adminKey)
		}, subject: "ops", keyID: "admin-1"},
		{name: "signed request", route: orders, ctx: signed("x=2"), subject: "billing", keyID: "svc"},
		{name: "replayed signed request", route: orders, ctx: func(*testing.T) *fasthttp.RequestCtx { return replayed },
			status: 401, reason: pipeline.ReasonUnauthenticated, detail: "hmac_replayed", challenge: `EG-HMAC-SHA256 realm="edgeguard"`},
		{name: "client certificate required on plain HTTP", route: mtls, ctx: func(*testing.T) *fasthttp.RequestCtx { return newCtx("/mtls") },
			status: 401, reason: pipeline.ReasonUnauthenticated, detail: "credentials_missing", challenge: `ClientCertificate realm="edgeguard"`},
		{name: "token bound to a client certificate, none presented", route: withCert, ctx: func(t *testing.T) *fasthttp.RequestCtx {
			return newCtx("/bound", "Authorization", "Bearer "+token(t, nil))
		}, status: 401, reason: pipeline.ReasonUnauthenticated, detail: "cert_missing", challenge: `ClientCertificate realm="edgeguard"`},
	}
	// The replay case needs the request accepted once first.
	st, _ := NewStage(s, orders)
	if st.Handle(replayed, &pipeline.Request{Path: []byte("/orders/7")}) != pipeline.Continue {
		t.Fatal("first signed request refused")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := NewStage(s, tc.route)
			if err != nil {
				t.Fatal(err)
			}
			// The head check refuses exactly what needs no body: a missing
			// credential, a key in the query, a missing certificate; and
			// leaves the request as it was.
			hctx := tc.ctx(t)
			before := hctx.Request.Header.String()
			hr := &pipeline.Request{Path: hctx.URI().Path()}
			hv := st.CheckHead(hctx, hr)
			fromHead := tc.detail == "credentials_missing" || tc.detail == "api_key_in_query" || tc.detail == "cert_missing"
			switch {
			case fromHead && (hv != pipeline.Done || hctx.Response.StatusCode() != tc.status || hr.Detail != tc.detail):
				t.Errorf("CheckHead: %v %d %q, want %d %q", hv, hctx.Response.StatusCode(), hr.Detail, tc.status, tc.detail)
			case !fromHead && hv != pipeline.Continue:
				t.Errorf("CheckHead refused (%q) what only Handle can decide", hr.Detail)
			case hctx.Request.Header.String() != before:
				t.Error("CheckHead changed the request")
			}
			ctx := tc.ctx(t)
			r := &pipeline.Request{Path: ctx.URI().Path()}
			v := st.Handle(ctx, r)
			h := &ctx.Request.Header
			if tc.status == 0 {
				if v != pipeline.Continue {
					t.Fatalf("verdict %v: %d %s (%s)", v, ctx.Response.StatusCode(), ctx.Response.Body(), r.Detail)
				}
				if r.Principal == nil || r.Principal.Subject != tc.subject || r.Principal.KeyID != tc.keyID {
					t.Errorf("principal %+v", r.Principal)
				}
				if got := string(h.Peek("X-Auth-Subject")); got != tc.subject {
					t.Errorf("X-Auth-Subject = %q, want %q", got, tc.subject)
				}
				if got := string(h.Peek("X-Auth-Key-Id")); got != tc.keyID {
					t.Errorf("X-Auth-Key-Id = %q, want %q", got, tc.keyID)
				}
				if h.Peek("X-API-Key") != nil {
					t.Error("the API key itself would reach the upstream")
				}
				n := 0
				for k := range h.All() {
					if strings.EqualFold(strings.ReplaceAll(string(k), "_", "-"), "x-auth-subject") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d X-Auth-Subject headers reach the upstream", n)
				}
				if strings.Contains(h.String(), "root") || strings.Contains(h.String(), "platinum") || strings.Contains(h.String(), "X-Auth_Key-Id") {
					t.Errorf("forged identity reached the upstream:\n%s", h.String())
				}
				return
			}
			if v != pipeline.Done || ctx.Response.StatusCode() != tc.status || r.Reason != tc.reason || r.Detail != tc.detail {
				t.Fatalf("got %v %d %v %q, want %d %v %q", v, ctx.Response.StatusCode(), r.Reason, r.Detail, tc.status, tc.reason, tc.detail)
			}
			if got := string(ctx.Response.Header.Peek("WWW-Authenticate")); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if body := string(ctx.Response.Body()); strings.Contains(body, tc.detail) {
				t.Errorf("response body leaks the precise cause: %s", body)
			}
			if r.Principal != nil {
				t.Error("principal set on a denied request")
			}
		})
	}
	if got := c.Get() - deniedBefore; got != 1 {
		t.Errorf("denied counter rose by %d, want 1", got)
	}
}

func signedReq(t *testing.T, query string) *fasthttp.RequestCtx {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://api.test/orders/7?" + query)
	req.Header.Set("X-Auth-Subject", "forged")
	if err := hmacsig.Sign(req, "/orders/7", "svc", hmacSecret, []string{"host"}, now); err != nil {
		t.Fatal(err)
	}
	ctx := &fasthttp.RequestCtx{}
	req.CopyTo(&ctx.Request)
	return ctx
}

func TestStripStage(t *testing.T) {
	s := shared(t)
	st := &StripStage{Headers: s.Identity}
	ctx := newCtx("/", "X-Auth-Subject", "root", "X_AUTH_TIER", "gold", "X-Auth-Scopes", "a", "X-Auth-Scopes", "b", "X-Other", "keep")
	if st.Handle(ctx, &pipeline.Request{}) != pipeline.Continue {
		t.Fatal("strip stage denied")
	}
	got := ctx.Request.Header.String()
	if strings.Contains(strings.ToLower(got), "x-auth") || strings.Contains(strings.ToLower(got), "x_auth") || !strings.Contains(got, "X-Other: keep") {
		t.Errorf("headers after strip:\n%s", got)
	}
}

func TestNewStageRejects(t *testing.T) {
	s := shared(t)
	none := &Shared{Realm: "r"}
	cases := []struct {
		name string
		s    *Shared
		rc   RouteConfig
	}{
		{"no method", s, RouteConfig{Route: "x"}},
		{"unknown issuer", s, RouteConfig{Route: "x", Methods: MethodJWT, Issuers: []string{"nope"}}},
		{"jwt without issuers", none, RouteConfig{Route: "x", Methods: MethodJWT}},
		{"api_key without keys", none, RouteConfig{Route: "x", Methods: MethodAPIKey}},
		{"hmac without keys", none, RouteConfig{Route: "x", Methods: MethodHMAC}},
		{"client_cert without TLS", none, RouteConfig{Route: "x", Methods: MethodCert}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewStage(tc.s, tc.rc); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestOnlyTheVerifiedCredentialGoesUpstream: a credential the gateway did
// not verify never rides along with one it did.
func TestOnlyTheVerifiedCredentialGoesUpstream(t *testing.T) {
	s := shared(t)
	orders := RouteConfig{Route: "orders", Methods: MethodJWT | MethodAPIKey | MethodHMAC, Scopes: []string{"orders:read"}}
	keyOnly := RouteConfig{Route: "orders", Methods: MethodAPIKey}
	forged := "Bearer eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0."
	for _, tc := range []struct {
		name    string
		route   RouteConfig
		hdr     []string
		kept    string // the credential left for the upstream, "" for none
		removed []string
	}{
		{"API key route drops a forged bearer token", keyOnly, []string{"X-API-Key", goodKey, "Authorization", forged},
			"", []string{"Authorization", "X-Api-Key"}},
		{"bearer token drops a cookie and an API key", orders,
			[]string{"Authorization", "Bearer " + token(t, nil), "Cookie", "session=" + forged, "X-API-Key", "egk_forged"},
			"Authorization", []string{"X-Api-Key"}},
		{"cookie token drops an API key", orders, []string{"Cookie", "a=1; session=" + token(t, nil), "X-API-Key", "egk_forged"},
			"session", []string{"X-Api-Key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := NewStage(s, tc.route)
			if err != nil {
				t.Fatal(err)
			}
			ctx := newCtx("/orders/7", tc.hdr...)
			r := &pipeline.Request{}
			if v := st.Handle(ctx, r); v != pipeline.Continue {
				t.Fatalf("refused: %d %s", ctx.Response.StatusCode(), r.Detail)
			}
			h := &ctx.Request.Header
			for _, n := range tc.removed {
				if n != tc.kept && h.Peek(n) != nil {
					t.Errorf("%s still sent upstream: %q", n, h.Peek(n))
				}
			}
			switch tc.kept {
			case "session":
				if h.Cookie("session") == nil || h.Cookie("a") == nil {
					t.Errorf("the verified cookie or another cookie was dropped: %q", h.Peek("Cookie"))
				}
			case "Authorization":
				if h.Cookie("session") != nil {
					t.Error("the unverified session cookie went upstream")
				}
				if !strings.HasPrefix(string(h.Peek("Authorization")), "Bearer ey") {
					t.Error("the verified token was dropped")
				}
			}
		})
	}
}
