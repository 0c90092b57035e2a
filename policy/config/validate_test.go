package config

import (
	"strings"
	"testing"
)

// TestQAFindings: values that passed check-config and then did not work.
func TestQAFindings(t *testing.T) {
	cases := []struct {
		name    string
		replace [2]string // applied to validBase
		append  string
		want    string
	}{
		{"unknown method", [2]string{"[GET, POST]", "[GET, GIT]"}, "", `routes[0].methods[1]: unknown HTTP method "GIT"`},
		{"lower-case method", [2]string{"[GET, POST]", "[get, POST]"}, "", `routes[0].methods[0]: methods are case-sensitive: write "GET", got "get"`},
		{"method not a token", [2]string{"[GET, POST]", "[GET, \"PO ST\"]"}, "", `routes[0].methods[1]: not a valid HTTP method: "PO ST"`},
		{"no account fields", [2]string{}, "rate_limit:\n  login:\n    account_fields: []\n", "rate_limit.login.account_fields: must list at least one field"},
		{"access log is a directory", [2]string{}, "access_log:\n  path: /tmp\n", "access_log.path: /tmp is a directory"},
		{"security events under a file", [2]string{}, "security_events:\n  path: /etc/hostname/events.log\n", "security_events.path: /etc/hostname/events.log: /etc/hostname is not a directory"},
		{"one header for JWT and API keys", [2]string{}, "auth:\n  jwt: {header: X-Token}\n  api_keys: {header: x-token}\n", "auth.api_keys.header: x-token is auth.jwt.header too"},
		{"RS256 with only an HMAC key", [2]string{}, jwtIssuer("[RS256]", "secret_file: /etc/hostname"), "auth.jwt.issuers[0].algorithms[0]: RS256 needs a public key (pem_file, jwks_file or jwks_url) and auth.jwt.issuers[0].keys has only secret_file (HMAC)"},
		{"HS256 with only a public key", [2]string{}, jwtIssuer("[RS256, HS256]", "jwks_url: https://idp.example/jwks"), "auth.jwt.issuers[0].algorithms[1]: HS256 needs an HMAC key (secret_file)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(baseWith(t, tc.replace, tc.append)), "yaml", "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
	if _, err := Parse([]byte(strings.Replace(validBase, "[GET, POST]", "[GET, PROPFIND, QUERY]", 1)), "yaml", "test"); err != nil {
		t.Errorf("registered methods refused: %v", err)
	}
}

// TestLogDirectoryWarning: a log file's missing directory stops gatewayd
// from starting; check-config warns (systemd may create it before start).
func TestLogDirectoryWarning(t *testing.T) {
	l, err := Parse([]byte(validBase+"access_log:\n  path: /nonexistent-dir/access.log\n"), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	w := l.Config.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "access_log.path: directory /nonexistent-dir does not exist") {
		t.Fatalf("warnings: %q", w)
	}
	l, err = Parse([]byte(validBase+"access_log:\n  path: "+t.TempDir()+"/access.log\n"), "yaml", "test")
	if err != nil || len(l.Config.Warnings()) != 0 {
		t.Fatalf("existing directory: %v %q", err, l.Config.Warnings())
	}
}

func jwtIssuer(algs, key string) string {
	return "auth:\n  jwt:\n    issuers:\n      - {name: corp, issuer: \"https://idp/\", audiences: [api], algorithms: " + algs + ", keys: [{" + key + "}]}\n"
}
