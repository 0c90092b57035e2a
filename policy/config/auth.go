package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Auth holds the credentials the gateway verifies: JWT issuers, API keys,
// HMAC signing keys and client certificate identities, and the headers
// that carry an authenticated identity to the upstream. Routes choose
// which methods they accept (RouteAuth).
type Auth struct {
	// Realm names the protection space in WWW-Authenticate challenges.
	Realm string `mapstructure:"realm"`
	// IdentityHeaders are set on requests to the upstream from the
	// authenticated identity, after the same names are stripped from the
	// client's request on every route. "-" turns one off.
	IdentityHeaders IdentityHeaders `mapstructure:"identity_headers"`
	JWT             JWTAuth         `mapstructure:"jwt"`
	APIKeys         APIKeyAuth      `mapstructure:"api_keys"`
	HMAC            HMACAuth        `mapstructure:"hmac"`
	ClientCert      ClientCertAuth  `mapstructure:"client_cert"`
}

// IdentityHeaders names the upstream request headers of an identity.
type IdentityHeaders struct {
	Subject string `mapstructure:"subject"`
	KeyID   string `mapstructure:"key_id"`
	Tier    string `mapstructure:"tier"`
	Scopes  string `mapstructure:"scopes"` // space-separated
	Method  string `mapstructure:"method"` // jwt, api_key, hmac or cert
}

// JWTAuth configures bearer token verification.
type JWTAuth struct {
	// Header carries the token; with Authorization the "Bearer" scheme is
	// required, with any other header the value is the token.
	Header string `mapstructure:"header"`
	// Cookie is read when the header is absent; "" for none.
	Cookie        string        `mapstructure:"cookie"`
	MaxTokenBytes int           `mapstructure:"max_token_bytes"`
	CacheSize     int           `mapstructure:"cache_size"` // verified tokens remembered
	CacheTTL      time.Duration `mapstructure:"cache_ttl"`  // a cached token is re-verified at least this often
	Issuers       []JWTIssuer   `mapstructure:"issuers"`
}

// JWTIssuer is one trusted token issuer and its keys.
type JWTIssuer struct {
	Name           string        `mapstructure:"name"`   // referred to by routes[].auth.issuers
	Issuer         string        `mapstructure:"issuer"` // required "iss", exact match
	Audiences      []string      `mapstructure:"audiences"`
	Algorithms     []string      `mapstructure:"algorithms"`
	Leeway         time.Duration `mapstructure:"leeway"` // clock skew allowed on exp, nbf, iat
	RequiredClaims []string      `mapstructure:"required_claims"`
	SubjectClaim   string        `mapstructure:"subject_claim"`
	TierClaim      string        `mapstructure:"tier_claim"`
	Keys           []JWTKey      `mapstructure:"keys"`
	JWKSRefresh    time.Duration `mapstructure:"jwks_refresh"`     // background refresh of jwks_url keys
	JWKSMinRefresh time.Duration `mapstructure:"jwks_min_refresh"` // at most one early refresh (unknown kid) per interval
	JWKSTimeout    time.Duration `mapstructure:"jwks_timeout"`
	// RefreshWait is how long a request with an unknown kid waits for the
	// early refresh it triggered.
	RefreshWait time.Duration `mapstructure:"refresh_wait"`
}

// JWTKey is one key source: exactly one of the file/URL fields.
type JWTKey struct {
	KID        string `mapstructure:"kid"`         // for pem_file and secret_file
	PEMFile    string `mapstructure:"pem_file"`    // public key or certificate (never a private key)
	SecretFile string `mapstructure:"secret_file"` // HMAC secret, at least 32 bytes
	JWKSFile   string `mapstructure:"jwks_file"`
	JWKSURL    string `mapstructure:"jwks_url"` // https (http only on loopback)
}

// APIKeyAuth configures API keys, stored as hashes only.
type APIKeyAuth struct {
	Header string `mapstructure:"header"`
	// QueryParams are parameter names that mark a key sent in the URL: such
	// requests are refused with 400 (as is any value starting with egk_).
	QueryParams []string `mapstructure:"query_params"`
	Keys        []APIKey `mapstructure:"keys"`
}

// APIKey is one key, by hash.
type APIKey struct {
	ID     string   `mapstructure:"id"` // in metrics and the access log; never the key
	Client string   `mapstructure:"client"`
	Tier   string   `mapstructure:"tier"`
	Hash   string   `mapstructure:"hash"`   // "sha256:" + 64 hex digits (tools/apikey prints it)
	Routes []string `mapstructure:"routes"` // empty: every route accepting api_key
	Scopes []string `mapstructure:"scopes"`
	// NotAfter (RFC 3339, quoted or not) ends the key's validity: set it on
	// the old key when rotating, and both keys work until then. YAML turns
	// an unquoted time into a time value, hence the loose type; read it
	// with ParseNotAfter.
	NotAfter any `mapstructure:"not_after"`
}

// HMACAuth configures signed requests (scheme EG-HMAC-SHA256).
type HMACAuth struct {
	MaxSkew         time.Duration `mapstructure:"max_skew"`
	ReplayCacheSize int           `mapstructure:"replay_cache_size"`
	RequiredHeaders []string      `mapstructure:"required_headers"` // lower-case names every signature must cover
	Keys            []HMACKey     `mapstructure:"keys"`
}

// HMACKey is one shared signing secret.
type HMACKey struct {
	ID         string   `mapstructure:"id"`
	Client     string   `mapstructure:"client"`
	Tier       string   `mapstructure:"tier"`
	SecretFile string   `mapstructure:"secret_file"` // at least 32 bytes
	Routes     []string `mapstructure:"routes"`
	Scopes     []string `mapstructure:"scopes"`
	NotAfter   any      `mapstructure:"not_after"` // as APIKey.NotAfter
}

// ClientCertAuth configures identities from verified client certificates.
type ClientCertAuth struct {
	// Identity is san (URI, DNS, email or IP SAN; subject DN without SAN),
	// subject (DN) or common_name.
	Identity string       `mapstructure:"identity"`
	Clients  []CertClient `mapstructure:"clients"`
}

// CertClient gives a certificate identity a tier and scopes.
type CertClient struct {
	Identity string   `mapstructure:"identity"`
	Tier     string   `mapstructure:"tier"`
	Scopes   []string `mapstructure:"scopes"`
}

// RouteAuth is one route's authentication requirement.
type RouteAuth struct {
	// Methods accepted, any of: jwt, api_key, hmac, client_cert. Empty: the
	// route is public (identity headers are still stripped).
	Methods []string `mapstructure:"methods"`
	Issuers []string `mapstructure:"issuers"` // JWT issuers accepted; empty: all
	Scopes  []string `mapstructure:"scopes"`  // all required, else 403
	// RequireClientCert demands a verified client certificate in addition
	// to the method's credential.
	RequireClientCert bool `mapstructure:"require_client_cert"`
}

// Auth defaults.
const (
	DefaultRealm            = "edgeguard"
	DefaultJWTHeader        = "Authorization"
	DefaultMaxTokenBytes    = 8192
	DefaultJWTCacheSize     = 16384
	DefaultJWTCacheTTL      = 5 * time.Minute
	DefaultSubjectClaim     = "sub"
	DefaultJWKSRefresh      = 5 * time.Minute
	DefaultJWKSMinRefresh   = 30 * time.Second
	DefaultJWKSTimeout      = 5 * time.Second
	DefaultRefreshWait      = 2 * time.Second
	DefaultAPIKeyHeader     = "X-API-Key"
	DefaultHMACMaxSkew      = 5 * time.Minute
	DefaultReplayCacheSize  = 100000
	DefaultCertIdentity     = CertIdentitySAN
	CertIdentitySAN         = "san"
	CertIdentitySubject     = "subject"
	CertIdentityCommonName  = "common_name"
	AuthMethodJWT           = "jwt"
	AuthMethodAPIKey        = "api_key"
	AuthMethodHMAC          = "hmac"
	AuthMethodClientCert    = "client_cert"
	IdentityHeaderOff       = "-"
	apiKeyHashPrefix        = "sha256:"
	maxJWTIssuers           = 64
	minMaxTokenBytes        = 256
	maxMaxTokenBytes        = 64 << 10
	maxHMACSkew             = time.Hour
	maxAuthListEntriesInKey = 64
)

// DefaultIdentityHeaders are the upstream identity headers.
var DefaultIdentityHeaders = IdentityHeaders{
	Subject: "X-Auth-Subject", KeyID: "X-Auth-Key-Id", Tier: "X-Auth-Tier",
	Scopes: "X-Auth-Scopes", Method: "X-Auth-Method",
}

// DefaultAPIKeyQueryParams mark an API key sent in the query string.
var DefaultAPIKeyQueryParams = []string{"api_key", "apikey", "api-key", "x-api-key", "access_key"}

// DefaultHMACRequiredHeaders must be covered by every signature.
var DefaultHMACRequiredHeaders = []string{"host"}

// jwtAlgorithms are the algorithms an issuer may list.
var jwtAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true, "HS256": true, "HS384": true, "HS512": true,
}

func (a *Auth) applyDefaults() {
	setString(&a.Realm, DefaultRealm)
	ih := &a.IdentityHeaders
	setString(&ih.Subject, DefaultIdentityHeaders.Subject)
	setString(&ih.KeyID, DefaultIdentityHeaders.KeyID)
	setString(&ih.Tier, DefaultIdentityHeaders.Tier)
	setString(&ih.Scopes, DefaultIdentityHeaders.Scopes)
	setString(&ih.Method, DefaultIdentityHeaders.Method)

	j := &a.JWT
	setString(&j.Header, DefaultJWTHeader)
	setInt(&j.MaxTokenBytes, DefaultMaxTokenBytes)
	setInt(&j.CacheSize, DefaultJWTCacheSize)
	setDuration(&j.CacheTTL, DefaultJWTCacheTTL)
	for i := range j.Issuers {
		is := &j.Issuers[i]
		setString(&is.SubjectClaim, DefaultSubjectClaim)
		setDuration(&is.JWKSRefresh, DefaultJWKSRefresh)
		setDuration(&is.JWKSMinRefresh, DefaultJWKSMinRefresh)
		setDuration(&is.JWKSTimeout, DefaultJWKSTimeout)
		setDuration(&is.RefreshWait, DefaultRefreshWait)
	}

	setString(&a.APIKeys.Header, DefaultAPIKeyHeader)
	if a.APIKeys.QueryParams == nil {
		a.APIKeys.QueryParams = append([]string(nil), DefaultAPIKeyQueryParams...)
	}
	setDuration(&a.HMAC.MaxSkew, DefaultHMACMaxSkew)
	setInt(&a.HMAC.ReplayCacheSize, DefaultReplayCacheSize)
	if a.HMAC.RequiredHeaders == nil {
		a.HMAC.RequiredHeaders = append([]string(nil), DefaultHMACRequiredHeaders...)
	}
	setString(&a.ClientCert.Identity, DefaultCertIdentity)
}

func (a *Auth) validate(v *validator) {
	if a.Realm == "" || strings.ContainsAny(a.Realm, "\"\\\r\n\x00") {
		v.add("auth.realm", "must be non-empty without quotes, backslashes or line breaks, got %q", a.Realm)
	}
	a.validateIdentityHeaders(v)
	a.validateJWT(v)
	a.validateAPIKeys(v)
	a.validateHMAC(v)
	cc := a.ClientCert
	switch cc.Identity {
	case CertIdentitySAN, CertIdentitySubject, CertIdentityCommonName:
	default:
		v.add("auth.client_cert.identity", "must be %s, %s or %s, got %q", CertIdentitySAN, CertIdentitySubject, CertIdentityCommonName, cc.Identity)
	}
	seen := map[string]bool{}
	for i, c := range cc.Clients {
		key := fmt.Sprintf("auth.client_cert.clients[%d]", i)
		if c.Identity == "" || seen[c.Identity] {
			v.add(key+".identity", "required and unique, got %q", c.Identity)
		}
		seen[c.Identity] = true
		validateIdentityFields(v, key, c.Tier, c.Scopes)
	}
}

func (a *Auth) validateIdentityHeaders(v *validator) {
	ih := a.IdentityHeaders
	seen := map[string]string{}
	for _, f := range []struct{ key, name string }{
		{"subject", ih.Subject}, {"key_id", ih.KeyID}, {"tier", ih.Tier}, {"scopes", ih.Scopes}, {"method", ih.Method},
	} {
		key := "auth.identity_headers." + f.key
		if f.name == IdentityHeaderOff {
			continue
		}
		if !isToken(f.name) {
			v.add(key, "not a valid header name: %q (use %q to turn it off)", f.name, IdentityHeaderOff)
			continue
		}
		lower := strings.ToLower(strings.ReplaceAll(f.name, "_", "-"))
		switch lower {
		case "authorization", "cookie", "host", "content-length", "content-type", "transfer-encoding", "connection", "x-forwarded-for":
			v.add(key, "%q is a standard header the gateway must not overwrite", f.name)
		}
		if other, dup := seen[lower]; dup {
			v.add(key, "same header as auth.identity_headers.%s", other)
		}
		seen[lower] = f.key
	}
}

func (a *Auth) validateJWT(v *validator) {
	j := a.JWT
	if !isToken(j.Header) {
		v.add("auth.jwt.header", "not a valid header name: %q", j.Header)
	}
	if j.Cookie != "" && !isToken(j.Cookie) {
		v.add("auth.jwt.cookie", "not a valid cookie name: %q", j.Cookie)
	}
	if j.MaxTokenBytes < minMaxTokenBytes || j.MaxTokenBytes > maxMaxTokenBytes {
		v.add("auth.jwt.max_token_bytes", "must be %d-%d, got %d", minMaxTokenBytes, maxMaxTokenBytes, j.MaxTokenBytes)
	}
	v.atLeast("auth.jwt.cache_size", j.CacheSize, 16)
	v.positive("auth.jwt.cache_ttl", j.CacheTTL)
	if len(j.Issuers) > maxJWTIssuers {
		v.add("auth.jwt.issuers", "at most %d issuers, got %d", maxJWTIssuers, len(j.Issuers))
	}
	names, isses := map[string]int{}, map[string]int{}
	for i, is := range j.Issuers {
		key := fmt.Sprintf("auth.jwt.issuers[%d]", i)
		if !isToken(is.Name) {
			v.add(key+".name", "required, letters, digits and -_. only, got %q", is.Name)
		} else if o, dup := names[is.Name]; dup {
			v.add(key+".name", "duplicate issuer name %q (also auth.jwt.issuers[%d])", is.Name, o)
		}
		names[is.Name] = i
		if is.Issuer == "" {
			v.add(key+".issuer", "required: tokens must name their issuer (iss)")
		} else if o, dup := isses[is.Issuer]; dup {
			v.add(key+".issuer", "duplicate issuer %q (also auth.jwt.issuers[%d])", is.Issuer, o)
		}
		isses[is.Issuer] = i
		if len(is.Audiences) == 0 {
			v.add(key+".audiences", "at least one audience is required")
		}
		for k, aud := range is.Audiences {
			if aud == "" {
				v.add(fmt.Sprintf("%s.audiences[%d]", key, k), "must not be empty")
			}
		}
		if len(is.Algorithms) == 0 {
			v.add(key+".algorithms", "list the accepted algorithms explicitly, e.g. [RS256]")
		}
		for k, alg := range is.Algorithms {
			ak := fmt.Sprintf("%s.algorithms[%d]", key, k)
			switch {
			case strings.EqualFold(alg, "none"):
				v.add(ak, "\"none\" is never accepted: unsigned tokens prove nothing")
			case !jwtAlgorithms[alg]:
				v.add(ak, "unsupported algorithm %q (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512)", alg)
			}
		}
		if is.Leeway < 0 || is.Leeway > 5*time.Minute {
			v.add(key+".leeway", "must be 0-5m, got %s", is.Leeway)
		}
		for k, c := range is.RequiredClaims {
			if c == "" {
				v.add(fmt.Sprintf("%s.required_claims[%d]", key, k), "must not be empty")
			}
		}
		if is.SubjectClaim == "" {
			v.add(key+".subject_claim", "must not be empty")
		}
		v.positive(key+".jwks_refresh", is.JWKSRefresh)
		v.positive(key+".jwks_min_refresh", is.JWKSMinRefresh)
		v.positive(key+".jwks_timeout", is.JWKSTimeout)
		if is.RefreshWait < 0 {
			v.add(key+".refresh_wait", "must be >= 0, got %s", is.RefreshWait)
		}
		if is.JWKSMinRefresh > is.JWKSRefresh && is.JWKSRefresh > 0 {
			v.add(key+".jwks_min_refresh", "must not exceed jwks_refresh (%s), got %s", is.JWKSRefresh, is.JWKSMinRefresh)
		}
		if len(is.Keys) == 0 {
			v.add(key+".keys", "at least one key source is required")
		}
		for k, jk := range is.Keys {
			validateJWTKey(v, fmt.Sprintf("%s.keys[%d]", key, k), jk)
		}
		validateJWTKeyKinds(v, key, is)
	}
}

func validateJWTKey(v *validator, key string, k JWTKey) {
	n := 0
	for _, s := range []string{k.PEMFile, k.SecretFile, k.JWKSFile, k.JWKSURL} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		v.add(key, "set exactly one of pem_file, secret_file, jwks_file, jwks_url")
		return
	}
	if k.KID != "" && (k.JWKSFile != "" || k.JWKSURL != "") {
		v.add(key+".kid", "only for pem_file and secret_file: JWKS keys carry their own kid")
	}
	for _, f := range []struct{ name, path string }{{"pem_file", k.PEMFile}, {"secret_file", k.SecretFile}, {"jwks_file", k.JWKSFile}} {
		if f.path != "" && !strings.HasPrefix(f.path, "/") {
			v.add(key+"."+f.name, "must be an absolute path, got %q", f.path)
		}
	}
	if k.JWKSURL != "" {
		if err := checkJWKSURL(k.JWKSURL); err != nil {
			v.add(key+".jwks_url", "%v", err)
		}
	}
}

// validateJWTKeyKinds refuses an algorithm no key of the issuer can verify:
// HS* takes a secret_file, the others a public key (pem_file, or a JWKS,
// which holds public keys only). Such an algorithm admits no token at all.
func validateJWTKeyKinds(v *validator, key string, is JWTIssuer) {
	var secret, public bool
	for _, k := range is.Keys {
		secret = secret || k.SecretFile != ""
		public = public || k.PEMFile != "" || k.JWKSFile != "" || k.JWKSURL != ""
	}
	if len(is.Keys) == 0 {
		return // "at least one key source is required" says it
	}
	for k, alg := range is.Algorithms {
		if !jwtAlgorithms[alg] {
			continue
		}
		ak := fmt.Sprintf("%s.algorithms[%d]", key, k)
		switch hmac := strings.HasPrefix(alg, "HS"); {
		case hmac && !secret:
			v.add(ak, "%s needs an HMAC key (secret_file) and %s.keys has none: no %s token could verify", alg, key, alg)
		case !hmac && !public:
			v.add(ak, "%s needs a public key (pem_file, jwks_file or jwks_url) and %s.keys has only secret_file (HMAC): no %s token could verify", alg, key, alg)
		}
	}
}

// checkJWKSURL accepts https URLs, and http only to a loopback host.
func checkJWKSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("not an absolute URL: %q", s)
	}
	if strings.ContainsAny(s, "\" \\") {
		return fmt.Errorf("must not contain quotes, spaces or backslashes: %q", s)
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials: %q", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("must be https (http only to a loopback host), got %q", s)
	}
	return fmt.Errorf("must be https, got %q", s)
}

func (a *Auth) validateAPIKeys(v *validator) {
	ak := a.APIKeys
	if !isToken(ak.Header) {
		v.add("auth.api_keys.header", "not a valid header name: %q", ak.Header)
	} else if strings.EqualFold(ak.Header, "authorization") || strings.EqualFold(ak.Header, "cookie") {
		v.add("auth.api_keys.header", "use a dedicated header (default %s), not %s", DefaultAPIKeyHeader, ak.Header)
	} else if strings.EqualFold(ak.Header, a.JWT.Header) {
		// One header, two meanings: a token would be looked up as an API
		// key and an API key parsed as a token.
		v.add("auth.api_keys.header", "%s is auth.jwt.header too: give API keys and tokens a header each", ak.Header)
	}
	for i, q := range ak.QueryParams {
		if q == "" || len(q) > 64 {
			v.add(fmt.Sprintf("auth.api_keys.query_params[%d]", i), "must be 1-64 characters, got %q", q)
		}
	}
	ids, hashes := map[string]int{}, map[string]int{}
	for i, k := range ak.Keys {
		key := fmt.Sprintf("auth.api_keys.keys[%d]", i)
		validateKeyID(v, key, k.ID, ids, i, "auth.api_keys.keys")
		if k.Client == "" {
			v.add(key+".client", "required")
		}
		if h, ok := strings.CutPrefix(k.Hash, apiKeyHashPrefix); !ok || len(h) != 64 || !isLowerHex(h) {
			v.add(key+".hash", "must be %q and 64 lower-case hex digits (the SHA-256 of the key; never the key itself)", apiKeyHashPrefix)
		} else if o, dup := hashes[h]; dup {
			v.add(key+".hash", "same hash as auth.api_keys.keys[%d]", o)
		} else {
			hashes[h] = i
		}
		validateIdentityFields(v, key, k.Tier, k.Scopes)
		if _, err := ParseNotAfter(k.NotAfter); err != nil {
			v.add(key+".not_after", "%v", err)
		}
	}
}

func (a *Auth) validateHMAC(v *validator) {
	h := a.HMAC
	if h.MaxSkew <= 0 || h.MaxSkew > maxHMACSkew {
		v.add("auth.hmac.max_skew", "must be > 0 and <= %s, got %s", maxHMACSkew, h.MaxSkew)
	}
	v.atLeast("auth.hmac.replay_cache_size", h.ReplayCacheSize, 64)
	for i, name := range h.RequiredHeaders {
		if !isToken(name) || name != strings.ToLower(name) {
			v.add(fmt.Sprintf("auth.hmac.required_headers[%d]", i), "must be a lower-case header name, got %q", name)
		}
	}
	ids := map[string]int{}
	for i, k := range h.Keys {
		key := fmt.Sprintf("auth.hmac.keys[%d]", i)
		validateKeyID(v, key, k.ID, ids, i, "auth.hmac.keys")
		if k.Client == "" {
			v.add(key+".client", "required")
		}
		if !strings.HasPrefix(k.SecretFile, "/") {
			v.add(key+".secret_file", "required, an absolute path, got %q", k.SecretFile)
		}
		validateIdentityFields(v, key, k.Tier, k.Scopes)
		if _, err := ParseNotAfter(k.NotAfter); err != nil {
			v.add(key+".not_after", "%v", err)
		}
	}
}

func validateKeyID(v *validator, key, id string, seen map[string]int, i int, list string) {
	if !isToken(id) || len(id) > 128 {
		v.add(key+".id", "required, letters, digits and -_. only, got %q", id)
		return
	}
	if o, dup := seen[id]; dup {
		v.add(key+".id", "duplicate id %q (also %s[%d])", id, list, o)
	}
	seen[id] = i
}

// validateIdentityFields checks values that travel in identity headers.
func validateIdentityFields(v *validator, key, tier string, scopes []string) {
	if strings.ContainsAny(tier, " \t\r\n\x00") {
		v.add(key+".tier", "must not contain spaces or control characters, got %q", tier)
	}
	if len(scopes) > maxAuthListEntriesInKey {
		v.add(key+".scopes", "at most %d scopes", maxAuthListEntriesInKey)
	}
	for i, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\x00") {
			v.add(fmt.Sprintf("%s.scopes[%d]", key, i), "must be non-empty without spaces, got %q", s)
		}
	}
}

// ParseNotAfter reads a not_after value: an RFC 3339 string or a time
// decoded from an unquoted YAML timestamp. Unset is no expiry (zero time).
func ParseNotAfter(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x, nil
	case string:
		if x == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("must be an RFC 3339 time such as 2030-01-31T00:00:00Z, got %q", x)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("must be an RFC 3339 time such as 2030-01-31T00:00:00Z, got %v", v)
}

// APIKeyHash returns the hex digest of a configured hash ("sha256:<hex>").
func APIKeyHash(s string) string { return strings.TrimPrefix(s, apiKeyHashPrefix) }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (ra *RouteAuth) applyDefaults() {}

// validate checks one route's auth section; key is e.g. "routes[3].auth".
func (ra *RouteAuth) validate(v *validator, key string, a *Auth) {
	seen := map[string]bool{}
	for i, m := range ra.Methods {
		mk := fmt.Sprintf("%s.methods[%d]", key, i)
		if seen[m] {
			v.add(mk, "duplicate method %q", m)
		}
		seen[m] = true
		switch m {
		case AuthMethodJWT:
			if len(a.JWT.Issuers) == 0 {
				v.add(mk, "jwt needs at least one auth.jwt.issuers entry")
			}
		case AuthMethodAPIKey:
			if len(a.APIKeys.Keys) == 0 {
				v.add(mk, "api_key needs at least one auth.api_keys.keys entry")
			}
		case AuthMethodHMAC:
			if len(a.HMAC.Keys) == 0 {
				v.add(mk, "hmac needs at least one auth.hmac.keys entry")
			}
		case AuthMethodClientCert:
		default:
			v.add(mk, "must be %s, %s, %s or %s, got %q", AuthMethodJWT, AuthMethodAPIKey, AuthMethodHMAC, AuthMethodClientCert, m)
		}
	}
	if len(ra.Issuers) > 0 && !seen[AuthMethodJWT] {
		v.add(key+".issuers", "only meaningful with the jwt method")
	}
	for i, name := range ra.Issuers {
		found := false
		for _, is := range a.JWT.Issuers {
			found = found || is.Name == name
		}
		if !found {
			v.add(fmt.Sprintf("%s.issuers[%d]", key, i), "unknown issuer %q (auth.jwt.issuers[].name)", name)
		}
	}
	if len(ra.Methods) == 0 && (len(ra.Scopes) > 0 || ra.RequireClientCert) {
		v.add(key+".methods", "required when scopes or require_client_cert are set")
	}
	for i, s := range ra.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\x00") {
			v.add(fmt.Sprintf("%s.scopes[%d]", key, i), "must be non-empty without spaces, got %q", s)
		}
	}
}
