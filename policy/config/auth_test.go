package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const authBase = validBase + `
auth:
  jwt:
    cookie: session
    issuers:
      - name: corp
        issuer: https://idp.example.com/
        audiences: [api]
        algorithms: [RS256, ES256]
        leeway: 30s
        required_claims: [email]
        keys:
          - jwks_url: https://idp.example.com/.well-known/jwks.json
          - pem_file: /etc/edgeguard/corp.pem
            kid: legacy
      - name: local
        issuer: https://local/
        audiences: [api]
        algorithms: [HS256]
        keys:
          - secret_file: /etc/edgeguard/local.secret
          - jwks_url: http://127.0.0.1:8081/jwks
  api_keys:
    keys:
      - id: acme-2030
        client: acme
        tier: gold
        hash: sha256:` + hash64 + `
        routes: [api]
        scopes: [orders:read]
      - id: acme-2029
        client: acme
        hash: sha256:` + hash64b + `
        not_after: "2030-02-01T00:00:00Z"
  hmac:
    keys:
      - id: billing
        client: billing
        secret_file: /etc/edgeguard/billing.secret
  client_cert:
    clients:
      - identity: spiffe://corp/billing
        tier: internal
`

const (
	hash64  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	hash64b = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestAuthParseAndDefaults(t *testing.T) {
	doc := strings.Replace(authBase, "    upstream: api\n", "    upstream: api\n    auth:\n      methods: [jwt, api_key, hmac, client_cert]\n"+
		"      issuers: [corp]\n      scopes: [orders:read]\n      require_client_cert: true\n", 1)
	l, err := Parse([]byte(doc), "yaml", "test")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	a := l.Config.Auth
	if a.Realm != DefaultRealm || a.IdentityHeaders != DefaultIdentityHeaders || a.JWT.Header != "Authorization" ||
		a.JWT.MaxTokenBytes != DefaultMaxTokenBytes || a.JWT.CacheTTL != DefaultJWTCacheTTL {
		t.Errorf("defaults not applied: %+v", a)
	}
	is := a.JWT.Issuers[0]
	if is.SubjectClaim != "sub" || is.JWKSRefresh != DefaultJWKSRefresh || is.JWKSMinRefresh != DefaultJWKSMinRefresh || is.Leeway != 30*time.Second {
		t.Errorf("issuer defaults: %+v", is)
	}
	if a.APIKeys.Header != DefaultAPIKeyHeader || len(a.APIKeys.QueryParams) != len(DefaultAPIKeyQueryParams) {
		t.Errorf("api key defaults: %+v", a.APIKeys)
	}
	if a.HMAC.MaxSkew != DefaultHMACMaxSkew || a.HMAC.RequiredHeaders[0] != "host" || a.ClientCert.Identity != CertIdentitySAN {
		t.Errorf("hmac/cert defaults: %+v %+v", a.HMAC, a.ClientCert)
	}
	ra := l.Config.Routes[0].Auth
	if len(ra.Methods) != 4 || !ra.RequireClientCert || ra.Issuers[0] != "corp" {
		t.Errorf("route auth: %+v", ra)
	}
	if na, _ := ParseNotAfter(a.APIKeys.Keys[1].NotAfter); !na.Equal(time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("not_after = %v", na)
	}
}

// TestAuthInvalid: every mistake is rejected with an error naming its key.
func TestAuthInvalid(t *testing.T) {
	routeAuth := func(s string) [2]string {
		return [2]string{"    upstream: api\n", "    upstream: api\n    auth:\n" + s}
	}
	cases := []struct {
		name    string
		replace [2]string
		wantKey string
	}{
		{"alg none", [2]string{"[RS256, ES256]", "[RS256, none]"}, "auth.jwt.issuers[0].algorithms[1]"},
		{"alg NONE", [2]string{"[RS256, ES256]", "[NONE]"}, "auth.jwt.issuers[0].algorithms[0]"},
		{"unknown alg", [2]string{"[RS256, ES256]", "[RS256, XS1]"}, "auth.jwt.issuers[0].algorithms[1]"},
		{"no algorithms", [2]string{"algorithms: [RS256, ES256]", "algorithms: []"}, "auth.jwt.issuers[0].algorithms"},
		{"no audiences", [2]string{"audiences: [api]\n        algorithms: [RS256", "audiences: []\n        algorithms: [RS256"}, "auth.jwt.issuers[0].audiences"},
		{"missing iss", [2]string{"issuer: https://idp.example.com/", "issuer: \"\""}, "auth.jwt.issuers[0].issuer"},
		{"duplicate issuer name", [2]string{"name: local", "name: corp"}, "auth.jwt.issuers[1].name"},
		{"jwks over plain http", [2]string{"https://idp.example.com/.well-known/jwks.json", "http://idp.example.com/jwks"}, "auth.jwt.issuers[0].keys[0].jwks_url"},
		{"jwks url with credentials", [2]string{"https://idp.example.com/.well-known/jwks.json", "https://u:p@idp.example.com/jwks"}, "auth.jwt.issuers[0].keys[0].jwks_url"},
		{"two sources in one key", [2]string{"- pem_file: /etc/edgeguard/corp.pem", "- pem_file: /etc/edgeguard/corp.pem\n            jwks_file: /x.json"}, "auth.jwt.issuers[0].keys[1]"},
		{"kid on a jwks key", [2]string{"- jwks_url: http://127.0.0.1:8081/jwks", "- jwks_url: http://127.0.0.1:8081/jwks\n            kid: x"}, "auth.jwt.issuers[1].keys[1].kid"},
		{"relative pem path", [2]string{"/etc/edgeguard/corp.pem", "corp.pem"}, "auth.jwt.issuers[0].keys[1].pem_file"},
		{"leeway too long", [2]string{"leeway: 30s", "leeway: 1h"}, "auth.jwt.issuers[0].leeway"},
		{"tiny token limit", [2]string{"cookie: session", "cookie: session\n    max_token_bytes: 10"}, "auth.jwt.max_token_bytes"},
		{"min refresh over refresh", [2]string{"leeway: 30s", "leeway: 30s\n        jwks_refresh: 1m\n        jwks_min_refresh: 2m"}, "auth.jwt.issuers[0].jwks_min_refresh"},
		{"raw key instead of a hash", [2]string{"hash: sha256:" + hash64 + "\n", "hash: egk_abcdef\n"}, "auth.api_keys.keys[0].hash"},
		{"hash without prefix", [2]string{"hash: sha256:" + hash64 + "\n", "hash: " + hash64 + "\n"}, "auth.api_keys.keys[0].hash"},
		{"duplicate key hash", [2]string{hash64b, hash64}, "auth.api_keys.keys[1].hash"},
		{"duplicate key id", [2]string{"id: acme-2029", "id: acme-2030"}, "auth.api_keys.keys[1].id"},
		{"key without client", [2]string{"client: acme\n        tier: gold", "tier: gold"}, "auth.api_keys.keys[0].client"},
		{"bad not_after", [2]string{`"2030-02-01T00:00:00Z"`, `"next year"`}, "auth.api_keys.keys[1].not_after"},
		{"scope with a space", [2]string{"scopes: [orders:read]", "scopes: [\"orders read\"]"}, "auth.api_keys.keys[0].scopes[0]"},
		{"api key header is Authorization", [2]string{"  api_keys:\n", "  api_keys:\n    header: Authorization\n"}, "auth.api_keys.header"},
		{"hmac secret relative", [2]string{"/etc/edgeguard/billing.secret", "billing.secret"}, "auth.hmac.keys[0].secret_file"},
		{"hmac skew too long", [2]string{"  hmac:\n", "  hmac:\n    max_skew: 2h\n"}, "auth.hmac.max_skew"},
		{"hmac required header upper case", [2]string{"  hmac:\n", "  hmac:\n    required_headers: [Host]\n"}, "auth.hmac.required_headers[0]"},
		{"bad cert identity mode", [2]string{"  client_cert:\n", "  client_cert:\n    identity: serial\n"}, "auth.client_cert.identity"},
		{"identity header clash", [2]string{"auth:\n", "auth:\n  identity_headers:\n    tier: X-Auth-Subject\n"}, "auth.identity_headers.tier"},
		{"identity header is Authorization", [2]string{"auth:\n", "auth:\n  identity_headers:\n    subject: Authorization\n"}, "auth.identity_headers.subject"},
		{"realm with a quote", [2]string{"auth:\n", "auth:\n  realm: 'a\"b'\n"}, "auth.realm"},
		{"unknown auth key", [2]string{"auth:\n", "auth:\n  jwks: x\n"}, "auth.jwks"},
		{"unknown method", routeAuth("      methods: [basic]\n"), "routes[0].auth.methods[0]"},
		{"duplicate method", routeAuth("      methods: [jwt, jwt]\n"), "routes[0].auth.methods[1]"},
		{"unknown issuer on a route", routeAuth("      methods: [jwt]\n      issuers: [nope]\n"), "routes[0].auth.issuers[0]"},
		{"issuers without jwt", routeAuth("      methods: [api_key]\n      issuers: [corp]\n"), "routes[0].auth.issuers"},
		{"scopes without methods", routeAuth("      scopes: [a]\n"), "routes[0].auth.methods"},
		{"route scope with a space", routeAuth("      methods: [jwt]\n      scopes: [\"a b\"]\n"), "routes[0].auth.scopes[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(authBase, tc.replace[0]) {
				t.Fatalf("test bug: %q not in the base config", tc.replace[0])
			}
			doc := strings.Replace(authBase, tc.replace[0], tc.replace[1], 1)
			_, err := Parse([]byte(doc), "yaml", "test")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("error does not name %s:\n%v", tc.wantKey, err)
			}
		})
	}
}

func TestRouteMethodsNeedCredentials(t *testing.T) {
	doc := strings.Replace(validBase, "    upstream: api\n", "    upstream: api\n    auth:\n      methods: [jwt, api_key, hmac]\n", 1)
	_, err := Parse([]byte(doc), "yaml", "test")
	for _, want := range []string{"routes[0].auth.methods[0]", "routes[0].auth.methods[1]", "routes[0].auth.methods[2]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in %v", want, err)
		}
	}
}

func TestUnquotedNotAfter(t *testing.T) {
	doc := strings.Replace(authBase, `not_after: "2030-02-01T00:00:00Z"`, `not_after: 2030-02-01T00:00:00Z`, 1)
	l, err := Parse([]byte(doc), "yaml", "test")
	if err != nil {
		t.Fatalf("unquoted RFC 3339 time: %v", err)
	}
	if na, err := ParseNotAfter(l.Config.Auth.APIKeys.Keys[1].NotAfter); err != nil || na.Year() != 2030 {
		t.Errorf("not_after %q: %v", l.Config.Auth.APIKeys.Keys[1].NotAfter, err)
	}
}

func TestListenerTLS(t *testing.T) {
	cases := []struct {
		name    string
		tls     string
		wantKey string // "" = valid
	}{
		{"plain TLS", "cert_file: /c.pem\n      key_file: /k.pem", ""},
		{"mTLS require", "cert_file: /c.pem\n      key_file: /k.pem\n      client_ca_file: /ca.pem\n      client_auth: require\n      min_version: \"1.3\"", ""},
		{"missing key", "cert_file: /c.pem", "listeners[0].tls.key_file"},
		{"request without CA", "cert_file: /c.pem\n      key_file: /k.pem\n      client_auth: request", "listeners[0].tls.client_ca_file"},
		{"CA without client_auth", "cert_file: /c.pem\n      key_file: /k.pem\n      client_ca_file: /ca.pem", "listeners[0].tls.client_ca_file"},
		{"bad client_auth", "cert_file: /c.pem\n      key_file: /k.pem\n      client_auth: optional", "listeners[0].tls.client_auth"},
		{"bad min version", "cert_file: /c.pem\n      key_file: /k.pem\n      min_version: \"1.0\"", "listeners[0].tls.min_version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(validBase, "    address: 127.0.0.1:18080\n", "    address: 127.0.0.1:18080\n    tls:\n      "+tc.tls+"\n", 1)
			l, err := Parse([]byte(doc), "yaml", "test")
			if tc.wantKey == "" {
				if err != nil {
					t.Fatal(err)
				}
				if l.Config.Listeners[0].TLS.ClientAuth == "" || l.Config.Listeners[0].TLS.MinVersion == "" {
					t.Error("defaults not applied")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("error %v does not name %s", err, tc.wantKey)
			}
		})
	}
}

// TestExampleAuthIsDefault: deploy/examples/gatewayd.yaml documents every
// auth and listener TLS default.
func TestExampleAuthIsDefault(t *testing.T) {
	ex, err := Load("../../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse([]byte(validBase), "yaml", "defaults")
	if err != nil {
		t.Fatal(err)
	}
	// %v prints nil and empty lists alike.
	if got, want := fmt.Sprintf("%+v", ex.Config.Auth), fmt.Sprintf("%+v", def.Config.Auth); got != want {
		t.Errorf("example auth section differs from the defaults:\n got %s\nwant %s", got, want)
	}
	if got, want := fmt.Sprintf("%+v", ex.Config.Routes[0].Auth), fmt.Sprintf("%+v", def.Config.Routes[0].Auth); got != want {
		t.Errorf("example route auth differs from the defaults:\n got %s\nwant %s", got, want)
	}
}
