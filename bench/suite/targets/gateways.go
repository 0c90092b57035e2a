package targets

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Setup is what every gateway's configuration is made from.
type Setup struct {
	Dir      string // work directory: configs and logs go here
	Upstream string // host:port of the suite's upstream
	CPU      int    // the gateway is pinned here (one worker, one thread)

	HSSecret     string // HS256 secret as text (HAProxy takes it inline)
	HSSecretFile string
	RSAPubFile   string
	IssuerHS     string
	IssuerRS     string
	Audience     string
	SchemaFile   string // the JSON schema of the json_schema scenario

	// JWTCacheSize is edgeguard's verified-token cache (0 = its default);
	// the rotating scenario must cycle through more tokens than it holds.
	JWTCacheSize int
}

// Gateway is one kind of gateway the suite can start.
type Gateway struct {
	Name string
	// Supports says whether the gateway can run a scenario, and if not why.
	Supports func(scenario string) (bool, string)
	// Start writes the config and starts the gateway on addr.
	Start func(ctx context.Context, s Setup, addr string) (*Process, error)
	// Version is the gateway's version line, "" when it is not installed.
	Version func() string
}

func all(string) (bool, string) { return true, "" }

// VersionOf runs a program's version command and returns the first line
// it prints ("" when it cannot run). The exit status is ignored: wrk -v
// prints its version and exits 1.
func VersionOf(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// EdgeguardOptions are what the suite's edgeguard targets differ in.
type EdgeguardOptions struct {
	AccessLog      string // "off" or a file path
	SecurityEvents string // "" (off) or a file path
	NoDetection    bool   // every anomaly detector off (they are on by default)
	Pipeline       int    // upstreams[].pipeline.conns (0: off)
}

// Edgeguard runs gatewayd from bin with the options o.
func Edgeguard(bin, name string, o EdgeguardOptions) Gateway {
	return Gateway{
		Name:     name,
		Supports: all,
		Version:  func() string { return VersionOf(bin, "-version") },
		Start: func(ctx context.Context, s Setup, addr string) (*Process, error) {
			host, port, _ := strings.Cut(addr, ":")
			p, err := strconv.Atoi(port)
			if err != nil {
				return nil, fmt.Errorf("start %s: address %q: %w", name, addr, err)
			}
			mgmt := fmt.Sprintf("%s:%d", host, p+1000)
			cfg := filepath.Join(s.Dir, name+".yaml")
			if err := os.WriteFile(cfg, []byte(edgeguardConfig(s, addr, mgmt, o)), 0o644); err != nil {
				return nil, fmt.Errorf("start %s: %w", name, err)
			}
			return start(ctx, name, s.CPU, []string{"GOMAXPROCS=1"}, filepath.Join(s.Dir, name+".log"), addr,
				bin, "-config", cfg)
		},
	}
}

func edgeguardConfig(s Setup, addr, mgmt string, o EdgeguardOptions) string {
	observe := ""
	if o.SecurityEvents != "" {
		observe += fmt.Sprintf("\nsecurity_events:\n  path: %q", o.SecurityEvents)
	}
	if o.NoDetection {
		observe += "\nanomaly:"
		for _, d := range []string{"credential_stuffing", "enumeration", "probing", "admin_first_seen", "unusual_methods"} {
			observe += fmt.Sprintf("\n  %s: {enabled: false}", d)
		}
	}
	cache := ""
	if s.JWTCacheSize > 0 {
		cache = fmt.Sprintf("\n    cache_size: %d", s.JWTCacheSize)
	}
	pipe := ""
	if o.Pipeline > 0 {
		pipe = fmt.Sprintf("\n    pipeline: {conns: %d}", o.Pipeline)
	}
	return fmt.Sprintf(`# edgeguard in the benchmark suite: every route off by default but its scenario's stage.
listeners:
  - name: public
    address: %[1]s
management:
  address: %[2]s
access_log:
  path: %[3]q%[13]s
server:
  max_conns_per_ip: -1
xdp:
  mode: "off"
upstreams:
  - name: up
    targets: [%[4]s]
    max_conns_per_target: 1024%[12]s
auth:
  jwt:%[5]s
    issuers:
      - name: hs
        issuer: %[6]s
        audiences: [%[11]s]
        algorithms: [HS256]
        keys: [{secret_file: %[7]q}]
      - name: rs
        issuer: %[8]s
        audiences: [%[11]s]
        algorithms: [RS256]
        keys: [{pem_file: %[9]q}]
rate_limit:
  limits:
    never: {second: 100000000}
    probe: {second: 5}
routes:
  - {name: plain, path: /plain/, upstream: up, waf: {libinjection: "off"}}
  - {name: ip_limit, path: /ip_limit/, upstream: up, waf: {libinjection: "off"}, rate_limit: {limits: [never]}}
  - {name: hs256, path: /hs256/, upstream: up, waf: {libinjection: "off"}, auth: {methods: [jwt], issuers: [hs]}}
  - {name: rs256, path: /rs256/, upstream: up, waf: {libinjection: "off"}, auth: {methods: [jwt], issuers: [rs]}}
  - {name: rs256_rotating, path: /rs256_rotating/, upstream: up, waf: {libinjection: "off"}, auth: {methods: [jwt], issuers: [rs]}}
  - name: json_schema
    path: /json_schema/
    upstream: up
    waf: {libinjection: "off"}
    validate: {json_schema_file: %[10]q}
  - {name: waf_tier1, path: /waf_tier1/, upstream: up, waf: {libinjection: block}}
  - {name: waf_crs, path: /waf_crs/, upstream: up, waf: {libinjection: "off", crs: {mode: block, paranoia: 1}}}
  - {name: limit_probe, path: /limit_probe/, upstream: up, waf: {libinjection: "off"}, rate_limit: {limits: [probe]}}
`, addr, mgmt, o.AccessLog, s.Upstream, cache, s.IssuerHS, s.HSSecretFile, s.IssuerRS, s.RSAPubFile, s.SchemaFile, s.Audience, pipe, observe)
}

// HAProxy runs Debian's haproxy with one thread.
func HAProxy() Gateway {
	return Gateway{
		Name: "haproxy",
		Supports: func(sc string) (bool, string) {
			switch sc {
			case JSONSchema:
				return false, "HAProxy 2.6 has no JSON schema validation"
			case WAFTier1, WAFCRS:
				return false, "HAProxy 2.6 (community) has no WAF"
			}
			return true, ""
		},
		Version: func() string { return VersionOf("haproxy", "-v") },
		Start: func(ctx context.Context, s Setup, addr string) (*Process, error) {
			if _, err := exec.LookPath("haproxy"); err != nil {
				return nil, fmt.Errorf("start haproxy: %w", ErrMissing)
			}
			cfg := filepath.Join(s.Dir, "haproxy.cfg")
			if err := os.WriteFile(cfg, []byte(haproxyConfig(s, addr)), 0o644); err != nil {
				return nil, fmt.Errorf("start haproxy: %w", err)
			}
			if out, err := exec.Command("haproxy", "-c", "-f", cfg).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("start haproxy: config %s refused: %s", cfg, strings.TrimSpace(string(out)))
			}
			return start(ctx, "haproxy", s.CPU, nil, filepath.Join(s.Dir, "haproxy.log"), addr,
				"haproxy", "-db", "-f", cfg)
		},
	}
}

// haproxyJWT checks a bearer token the way edgeguard does: present, the
// route's algorithm and issuer, a good signature, not expired.
func haproxyJWT(alg, iss, aud, key string) string {
	return fmt.Sprintf(`    http-request set-var(txn.bearer) http_auth_bearer
    http-request deny deny_status 401 unless { var(txn.bearer) -m found }
    http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
    http-request deny deny_status 401 unless { var(txn.alg) -m str %[1]s }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('$.iss') -m str %[2]s }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('$.aud') -m str %[4]s }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"%[3]s") -m int 1 }
    http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
    http-request set-var(txn.now) date()
    http-request deny deny_status 401 unless { var(txn.exp),sub(txn.now) -m int gt 0 }
`, alg, iss, key, aud)
}

func haproxyConfig(s Setup, addr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    nbthread 1
    maxconn 8192
    tune.bufsize 16384

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 60s
    option http-keep-alive
    http-reuse always

frontend bench
    bind %[1]s
    acl p_ip_limit path_beg /ip_limit/
    acl p_hs256 path_beg /hs256/
    acl p_rs256 path_beg /rs256/ /rs256_rotating/
    acl p_probe path_beg /limit_probe/
    use_backend ip_limit if p_ip_limit
    use_backend hs256 if p_hs256
    use_backend rs256 if p_rs256
    use_backend limit_probe if p_probe
    default_backend plain

backend plain
    server up %[2]s maxconn 1024

backend ip_limit
    stick-table type ip size 1m expire 10s store http_req_rate(1s)
    http-request track-sc0 src
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100000000 }
    server up %[2]s maxconn 1024

backend limit_probe
    stick-table type ip size 1m expire 10s store http_req_rate(1s)
    http-request track-sc0 src
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }
    server up %[2]s maxconn 1024

backend hs256
`, addr, s.Upstream)
	b.WriteString(haproxyJWT("HS256", s.IssuerHS, s.Audience, s.HSSecret))
	fmt.Fprintf(&b, "    server up %s maxconn 1024\n\nbackend rs256\n", s.Upstream)
	b.WriteString(haproxyJWT("RS256", s.IssuerRS, s.Audience, s.RSAPubFile))
	fmt.Fprintf(&b, "    server up %s maxconn 1024\n", s.Upstream)
	return b.String()
}

// Nginx runs Debian's nginx with one worker.
func Nginx() Gateway {
	return Gateway{
		Name: "nginx",
		Supports: func(sc string) (bool, string) {
			switch {
			case IsJWT(sc):
				return false, "nginx 1.22 (open source) has no JWT verification (auth_jwt is NGINX Plus)"
			case sc == JSONSchema:
				return false, "nginx has no JSON schema validation"
			case sc == WAFTier1 || sc == WAFCRS:
				return false, "nginx 1.22 has no WAF without third-party modules"
			}
			return true, ""
		},
		Version: func() string { return VersionOf("nginx", "-v") },
		Start: func(ctx context.Context, s Setup, addr string) (*Process, error) {
			if _, err := exec.LookPath("nginx"); err != nil {
				return nil, fmt.Errorf("start nginx: %w", ErrMissing)
			}
			prefix := filepath.Join(s.Dir, "nginx")
			if err := os.MkdirAll(filepath.Join(prefix, "logs"), 0o755); err != nil {
				return nil, fmt.Errorf("start nginx: %w", err)
			}
			cfg := filepath.Join(prefix, "nginx.conf")
			if err := os.WriteFile(cfg, []byte(nginxConfig(s, addr, prefix)), 0o644); err != nil {
				return nil, fmt.Errorf("start nginx: %w", err)
			}
			if out, err := exec.Command("nginx", "-t", "-p", prefix, "-c", cfg).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("start nginx: config %s refused: %s", cfg, strings.TrimSpace(string(out)))
			}
			return start(ctx, "nginx", s.CPU, nil, filepath.Join(s.Dir, "nginx.log"), addr,
				"nginx", "-p", prefix, "-c", cfg, "-g", "daemon off;")
		},
	}
}

func nginxConfig(s Setup, addr, prefix string) string {
	return fmt.Sprintf(`worker_processes 1;
pid %[3]s/nginx.pid;
error_log %[3]s/logs/error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path %[3]s/body;
    proxy_temp_path %[3]s/proxy;
    fastcgi_temp_path %[3]s/fastcgi;
    uwsgi_temp_path %[3]s/uwsgi;
    scgi_temp_path %[3]s/scgi;
    keepalive_requests 1000000;
    limit_req_zone $binary_remote_addr zone=never:10m rate=100000000r/s;
    limit_req_zone $binary_remote_addr zone=probe:10m rate=5r/s;
    limit_req_status 429;
    upstream up {
        server %[2]s;
        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen %[1]s;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering on;
        location /ip_limit/ { limit_req zone=never burst=1000000 nodelay; proxy_pass http://up; }
        location /limit_probe/ { limit_req zone=probe; proxy_pass http://up; }
        location / { proxy_pass http://up; }
    }
}
`, addr, s.Upstream, prefix)
}
