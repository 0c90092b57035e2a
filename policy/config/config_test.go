package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const validBase = `
listeners:
  - name: public
    address: 127.0.0.1:18080
management:
  address: 127.0.0.1:19901
upstreams:
  - name: api
    targets: [127.0.0.1:9000, 127.0.0.1:9001]
    balance: least_conn
    health_check:
      path: /health
      interval: 1s
      timeout: 500ms
routes:
  - name: api
    path: /api/
    methods: [GET, POST]
    upstream: api
`

func TestParseValidAppliesDefaults(t *testing.T) {
	l, err := Parse([]byte(validBase), "yaml", "test")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := l.Config
	if got := c.Upstreams[0].ConnectTimeout; got != DefaultConnectTimeout {
		t.Errorf("connect_timeout default = %s, want %s", got, DefaultConnectTimeout)
	}
	if got := c.Upstreams[0].HealthCheck.Timeout; got != 500*time.Millisecond {
		t.Errorf("health_check.timeout = %s, want 500ms", got)
	}
	if c.Upstreams[0].HealthCheck.HealthyThreshold != DefaultHealthyThreshold {
		t.Errorf("healthy_threshold default not applied")
	}
	if c.Routes[0].Match != MatchPrefix {
		t.Errorf("route match default = %q", c.Routes[0].Match)
	}
	if !*c.Headers.SecurityHeaders {
		t.Errorf("security headers should default on")
	}
	if len(l.Digest) != 64 {
		t.Errorf("digest = %q", l.Digest)
	}
}

func TestEmbeddedDefaultIsValid(t *testing.T) {
	l, err := LoadDefault()
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	for _, ln := range l.Config.Listeners {
		if !strings.HasPrefix(ln.Address, "127.0.0.1:") {
			t.Errorf("default listener %q is not loopback", ln.Address)
		}
	}
	if l.Config.Upstreams[0].Targets[0] != DemoTarget {
		t.Errorf("default upstream should be the demo upstream")
	}
}

func TestEnvOverride(t *testing.T) {
	t.Setenv("EDGEGUARD_MANAGEMENT_ADDRESS", "127.0.0.1:29901")
	t.Setenv("EDGEGUARD_SERVER_READ_TIMEOUT", "7s")
	t.Setenv("EDGEGUARD_XDP_INTERFACES", "eth0,eth1")
	l, err := Parse([]byte(validBase), "yaml", "test")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := l.Config
	if c.Management.Address != "127.0.0.1:29901" {
		t.Errorf("management.address = %q, want env override", c.Management.Address)
	}
	if c.Server.ReadTimeout != 7*time.Second {
		t.Errorf("server.read_timeout = %s, want 7s from env", c.Server.ReadTimeout)
	}
	if len(c.XDP.Interfaces) != 2 || c.XDP.Interfaces[1] != "eth1" {
		t.Errorf("xdp.interfaces = %q, want [eth0 eth1]", c.XDP.Interfaces)
	}
}

// TestEnvOverrideErrors: a bad value from an EDGEGUARD_* variable is
// reported with the variable and what it holds, not the file's value.
func TestEnvOverrideErrors(t *testing.T) {
	for _, tc := range []struct{ env, val, key, want string }{
		{"EDGEGUARD_SERVER_READ_TIMEOUT", "abc", "server.read_timeout", `(got "abc" from EDGEGUARD_SERVER_READ_TIMEOUT)`},
		{"EDGEGUARD_SERVER_READ_TIMEOUT", "10", "server.read_timeout", `(got "10" from EDGEGUARD_SERVER_READ_TIMEOUT)`},
		{"EDGEGUARD_SERVER_MAX_CONNS_PER_IP", "lots", "server.max_conns_per_ip", `(got "lots" from EDGEGUARD_SERVER_MAX_CONNS_PER_IP)`},
		{"EDGEGUARD_SERVER_MAX_CONNS_PER_IP", "99999999999999999999", "server.max_conns_per_ip", `(got "99999999999999999999" from EDGEGUARD_SERVER_MAX_CONNS_PER_IP)`},
	} {
		t.Run(tc.env+"="+tc.val, func(t *testing.T) {
			t.Setenv(tc.env, tc.val)
			_, err := Parse([]byte(validBase+"server: {read_timeout: 30s, max_conns_per_ip: 10}\n"), "yaml", "test")
			if err == nil || !strings.Contains(err.Error(), tc.key+": ") || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), `"30s"`) {
				t.Fatalf("err = %v; want %s: ...%s", err, tc.key, tc.want)
			}
		})
	}
}

// TestInvalid checks that every kind of mistake is rejected with an error
// that names the key at fault.
func TestInvalid(t *testing.T) {
	cases := []struct {
		name    string
		replace [2]string // applied to validBase
		append  string
		wantKey string
	}{
		{"unknown top-level key", [2]string{}, "bogus: 1\n", "bogus"},
		{"misspelt nested key", [2]string{"balance: least_conn", "balanse: least_conn"}, "", "balanse"},
		{"bad listener address", [2]string{"127.0.0.1:18080", "127.0.0.1"}, "", "listeners[0].address"},
		{"listener port out of range", [2]string{"127.0.0.1:18080", "127.0.0.1:70000"}, "", "listeners[0].address"},
		{"listener on management address", [2]string{"127.0.0.1:18080", "127.0.0.1:19901"}, "", "listeners[0].address"},
		{"bad management address", [2]string{"127.0.0.1:19901", "nope"}, "", "management.address"},
		{"negative timeout", [2]string{}, "server:\n  read_timeout: -1s\n", "server.read_timeout"},
		{"bad duration type", [2]string{}, "server:\n  read_timeout: soon\n", "read_timeout"},
		{"tiny header limit", [2]string{}, "server:\n  max_header_bytes: 10\n", "server.max_header_bytes"},
		{"connection cap 0, the old 'no cap'", [2]string{}, "server:\n  max_conns_per_ip: 0\n", "server.max_conns_per_ip"},
		{"connection cap below -1", [2]string{}, "server:\n  max_conns_per_ip: -2\n", "server.max_conns_per_ip"},
		{"head timeout negative", [2]string{}, "server:\n  request_head_timeout: -1s\n", "server.request_head_timeout"},
		{"spoofable name invalid", [2]string{}, "headers:\n  spoofable: [\"X Bad\"]\n", "headers.spoofable[0]"},
		{"bad trusted proxy", [2]string{}, "headers:\n  trusted_proxies: [10.0.0.1/33]\n", "headers.trusted_proxies[0]"},
		{"trusted proxy host bits", [2]string{}, "headers:\n  trusted_proxies: [10.0.0.1/8]\n", "headers.trusted_proxies[0]"},
		{"bad request id header", [2]string{}, "headers:\n  request_id_header: \"X Bad\"\n", "headers.request_id_header"},
		{"bad balance", [2]string{"least_conn", "random"}, "", "upstreams[0].balance"},
		{"pipeline conns negative", [2]string{"balance: least_conn", "balance: least_conn\n    pipeline: {conns: -1}"}, "", "upstreams[0].pipeline.conns"},
		{"pipeline conns too many", [2]string{"balance: least_conn", "balance: least_conn\n    pipeline: {conns: 65}"}, "", "upstreams[0].pipeline.conns"},
		{"pipeline max_pending negative", [2]string{"balance: least_conn", "balance: least_conn\n    pipeline: {conns: 2, max_pending: -1}"}, "", "upstreams[0].pipeline.max_pending"},
		{"bad target", [2]string{"127.0.0.1:9001", "localhost"}, "", "upstreams[0].targets[1]"},
		{"duplicate target", [2]string{"127.0.0.1:9001", "127.0.0.1:9000"}, "", "upstreams[0].targets[1]"},
		{"target without host", [2]string{"127.0.0.1:9001", "\":9001\""}, "", "upstreams[0].targets[1]"},
		{"target port 0", [2]string{"127.0.0.1:9001", "127.0.0.1:0"}, "", "upstreams[0].targets[1]"},
		{"health path with a space", [2]string{"path: /health", "path: /he alth"}, "", "upstreams[0].health_check.path"},
		{"no targets", [2]string{"targets: [127.0.0.1:9000, 127.0.0.1:9001]", "targets: []"}, "", "upstreams[0].targets"},
		{"health path", [2]string{"path: /health", "path: health"}, "", "upstreams[0].health_check.path"},
		{"health timeout over interval", [2]string{"timeout: 500ms", "timeout: 5s"}, "", "upstreams[0].health_check.timeout"},
		{"route unknown upstream", [2]string{"upstream: api", "upstream: nope"}, "", "routes[0].upstream"},
		{"route path relative", [2]string{"path: /api/", "path: api/"}, "", "routes[0].path"},
		{"route bad method", [2]string{"[GET, POST]", "[GET, \"PO ST\"]"}, "", "routes[0].methods[1]"},
		{"route bad match", [2]string{"path: /api/", "path: /api/\n    match: regex"}, "", "routes[0].match"},
		{"strip prefix not prefix", [2]string{"path: /api/", "path: /api/\n    strip_prefix: /v2"}, "", "routes[0].strip_prefix"},
		{"duplicate route name", [2]string{}, "  - name: api\n    path: /b\n    upstream: api\n", "routes[1].name"},
		{"route name with a quote", [2]string{}, "  - name: 'a\"b'\n    path: /b\n    upstream: api\n", "routes[1].name"},
		{"upstream name with a space", [2]string{"  - name: api\n    targets", "  - name: \"my api\"\n    targets"}, "", "upstreams[0].name"},
		{"listener name with a brace", [2]string{"name: public", "name: \"pub}\""}, "", "listeners[0].name"},
		{"xdp mode", [2]string{}, "xdp:\n  mode: turbo\n", "xdp.mode"},
		{"xdp interface", [2]string{}, "xdp:\n  interfaces: [\"a/b\"]\n", "xdp.interfaces[0]"},
		{"xdp pin path", [2]string{}, "xdp:\n  pin_path: relative\n", "xdp.pin_path"},
		// The JSON reader enforces at most MaxJSONDepthLimit; a larger
		// setting would be lowered silently.
		{"json depth over what is enforced", [2]string{"upstream: api", "upstream: api\n    validate: {json: true, max_json_depth: 300}"}, "", "routes[0].validate.max_json_depth"},
		{"json depth out of range without json", [2]string{"upstream: api", "upstream: api\n    validate: {max_json_depth: 5000}"}, "", "routes[0].validate.max_json_depth"},
		{"schema pointer without a schema file", [2]string{"upstream: api", "upstream: api\n    validate: {json: true, json_schema_pointer: /components/schemas/X}"}, "",
			"routes[0].validate.json_schema_pointer: points into json_schema_file, which is not set"},
		{"waf budget", [2]string{}, "waf:\n  max_values: -1\n", "waf.max_values"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := baseWith(t, tc.replace, tc.append)
			_, err := Parse([]byte(doc), "yaml", "test")
			if err == nil {
				t.Fatalf("Parse accepted invalid config:\n%s", doc)
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("error does not name %q:\n%v", tc.wantKey, err)
			}
		})
	}
}

func TestValidateReportsAllErrors(t *testing.T) {
	doc := strings.Replace(validBase, "least_conn", "random", 1) + "xdp:\n  mode: turbo\n"
	_, err := Parse([]byte(doc), "yaml", "test")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"upstreams[0].balance", "xdp.mode"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("missing %s in:\n%v", key, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gw.yml")
	if err := os.WriteFile(path, []byte(validBase), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if l.Source != path {
		t.Errorf("source = %q", l.Source)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("missing file: err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validBase))
	f.Add(defaultYAML)
	f.Add([]byte("routes: 5"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data, "yaml", "fuzz")
		if err == nil && l.Config.Validate() != nil {
			t.Fatalf("Parse accepted a config that fails Validate")
		}
	})
}

func TestExampleConfigIsValid(t *testing.T) {
	l, err := Load("../../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatalf("deploy/examples/gatewayd.yaml: %v", err)
	}
	// The example documents every default: decoding it must equal the defaults.
	c := l.Config
	if c.Server.ReadTimeout != DefaultReadTimeout || c.Server.MaxHeaderBytes != DefaultMaxHeaderBytes ||
		c.AccessLog.Buffer != DefaultAccessLogBuffer || c.XDP.BanDefault != DefaultBanDuration {
		t.Errorf("example config disagrees with the defaults: %+v", c.Server)
	}
}

// TestDigestCoversReferencedFiles: rotating a key file changes the digest,
// so a reload with an unchanged config file still picks the new key up.
func TestDigestCoversReferencedFiles(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hmac.secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("a", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := validBase + "auth:\n  hmac:\n    keys: [{id: k1, client: c, secret_file: " + secret + "}]\n"
	l1, err := Parse([]byte(doc), "yaml", "t")
	if err != nil {
		t.Fatal(err)
	}
	if files := l1.Config.ReferencedFiles(); len(files) != 1 || files[0] != secret {
		t.Fatalf("ReferencedFiles = %v", files)
	}
	l2, _ := Parse([]byte(doc), "yaml", "t")
	if l1.Digest != l2.Digest {
		t.Fatal("digest differs for identical inputs")
	}
	if err := os.WriteFile(secret, []byte(strings.Repeat("b", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	if l3, _ := Parse([]byte(doc), "yaml", "t"); l3.Digest == l1.Digest {
		t.Fatal("digest unchanged after the secret file was rotated")
	}
}

// TestCheckReportsEverythingAtOnce: unknown keys (whatever their value),
// values of the wrong type and semantic errors come out of one run.
func TestCheckReportsEverythingAtOnce(t *testing.T) {
	doc := strings.Replace(validBase, "least_conn", "random", 1) + `
bogus:
nothing: {}
empty: []
xdp:
  mode: turbo
  interfacs:
server:
  read_timeout: soon
rate_limit:
  limits:
    api: {second: 1, secnd: 2}
`
	_, err := Parse([]byte(doc), "yaml", "test")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"bogus: unknown key", "nothing: unknown key", "empty: unknown key", "xdp.interfacs: unknown key",
		"rate_limit.limits.api.secnd: unknown key", "server.read_timeout:", "upstreams[0].balance:", "xdp.mode:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "server.read_timeout"); n != 1 {
		t.Errorf("server.read_timeout reported %d times:\n%v", n, err)
	}
}

func TestLoadExtensions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, want string }{
		{"gw.conf", `unsupported file extension ".conf"`},
		{"gw.ini", "use .yaml (or .yml), .json or .toml"},
		{"gw.YAML", ""},
		{"gw", ""},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(validBase), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// JSON goes through the same unknown-key check.
	path := filepath.Join(dir, "gw.json")
	doc := `{"upstreams": [{"name": "a", "targets": ["127.0.0.1:1"]}], "routes": [{"name": "r", "path": "/", "upstream": "a"}], "extra": null}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "extra: unknown key") {
		t.Errorf("json with an unknown null key: %v", err)
	}
}

// TestRelativePathsFollowTheFile: *_file paths and access_log.path are
// relative to the configuration file, whatever the working directory.
func TestRelativePathsFollowTheFile(t *testing.T) {
	dir := t.TempDir()
	doc := `
listeners:
  - name: tls
    address: 127.0.0.1:8443
    tls: {cert_file: tls/server.crt, key_file: /abs/server.key}
access_log: {path: log/access.log}
auth:
  hmac:
    keys: [{id: k1, client: c, secret_file: secrets/k1}]
upstreams: [{name: a, targets: ["127.0.0.1:1"]}]
routes: [{name: r, path: /, upstream: a, validate: {json_schema_file: ../schemas/order.json}}]
`
	path := filepath.Join(dir, "etc", "gw.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "schemas"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schemas", "order.json"), []byte(`{"type": "object"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	l, err := Load(filepath.Join("..", filepath.Base(dir), "etc", "gw.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	for _, tc := range []struct{ got, want string }{
		{c.Listeners[0].TLS.CertFile, filepath.Join(dir, "etc", "tls", "server.crt")},
		{c.Listeners[0].TLS.KeyFile, "/abs/server.key"},
		{c.AccessLog.Path, filepath.Join(dir, "etc", "log", "access.log")},
		{c.Auth.HMAC.Keys[0].SecretFile, filepath.Join(dir, "etc", "secrets", "k1")},
		{c.Routes[0].Validate.JSONSchemaFile, filepath.Join(dir, "schemas", "order.json")},
	} {
		if tc.got != tc.want {
			t.Errorf("path %q, want %q", tc.got, tc.want)
		}
	}
}

// baseWith is validBase with replace[0] replaced by replace[1] (when set)
// and extra appended.
func baseWith(t *testing.T, replace [2]string, extra string) string {
	t.Helper()
	doc := validBase
	if replace[0] != "" {
		if !strings.Contains(doc, replace[0]) {
			t.Fatalf("test bug: %q not in base", replace[0])
		}
		doc = strings.Replace(doc, replace[0], replace[1], 1)
	}
	return doc + extra
}

func TestUnknownEnv(t *testing.T) {
	got := unknownEnv([]string{
		"EDGEGUARD_MANAGEMENT_ADDRESS=10.0.0.5:9901", "EDGEGUARD_SERVER_READ_TIMEOUT=5s", "EDGEGUARD_XDP_INTERFACES=eth0",
		"EDGEGUARD_MANAGMENT_ADDRESS=1.2.3.4:5", "EDGEGUARD_SERVER_READTIMEOUT=5s", "EDGEGUARD_TOKEN=x", "EDGEGUARD_HANDOVER_FD=3",
		"EDGEGUARD_REQUIRE_PRIVILEGED=1", "PATH=/bin", "EDGEGUARDX=1",
	})
	if len(got) != 2 || !strings.Contains(got[0], "EDGEGUARD_MANAGMENT_ADDRESS") || !strings.Contains(got[1], "EDGEGUARD_SERVER_READTIMEOUT") {
		t.Fatalf("unknownEnv = %q, want the two misspelt overrides", got)
	}
}
