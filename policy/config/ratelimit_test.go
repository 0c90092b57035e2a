package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const rateBase = `
listeners:
  - name: public
    address: 127.0.0.1:18080
management:
  address: 127.0.0.1:19901
upstreams:
  - name: api
    targets: [127.0.0.1:9000]
rate_limit:
  limits:
    API:
      second: 10
      minute: 100
      hour: 1000
      tiers:
        Gold: {second: 100, minute: 1000}
      identity_kinds:
        ip: {second: 2}
    search:
      minute: 60
      scope: group
      shadow: true
      thresholds: {delay: 50}
routes:
  - name: users
    path: /users/
    upstream: api
    rate_limit:
      limits: [api, search]
      headers: true
  - name: login
    path: /login
    upstream: api
    rate_limit:
      limits: [api]
      login: true
`

func TestRateLimitDefaultsAndDecoding(t *testing.T) {
	l, err := Parse([]byte(rateBase), "yaml", "test")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	rl := l.Config.RateLimit
	if rl.IPv6Prefix != 64 || rl.MaxKeys != DefaultRateMaxKeys || rl.MaxDelay != DefaultRateMaxDelay || rl.MaxDelayed != DefaultRateMaxDelayed {
		t.Errorf("global defaults not applied: %+v", rl)
	}
	if rl.Thresholds != (Thresholds{80, 100, 200}) || !*rl.BurstBan || rl.BanDuration != 0 || rl.Headers {
		t.Errorf("thresholds/ban defaults: %+v burst_ban=%v", rl.Thresholds, *rl.BurstBan)
	}
	api, ok := rl.Limits["api"]
	if !ok {
		t.Fatalf("limit names are lower-cased by the loader; got %v", sortedKeys(rl.Limits))
	}
	if api.Windows != (Windows{Second: 10, Minute: 100, Hour: 1000}) || api.Scope != ScopeRoute || api.MaxKeys != DefaultRateMaxKeys {
		t.Errorf("limit api: %+v", api)
	}
	if api.Tiers["gold"] != (Windows{Second: 100, Minute: 1000}) || api.IdentityKinds["ip"] != (Windows{Second: 2}) {
		t.Errorf("variants: tiers %v kinds %v", api.Tiers, api.IdentityKinds)
	}
	search := rl.Limits["search"]
	if search.Scope != ScopeGroup || !search.Shadow || search.Thresholds != (Thresholds{50, 100, 200}) {
		t.Errorf("limit search: %+v (unset thresholds inherit)", search)
	}
	lg := rl.Login
	if len(lg.AccountFields) != 1 || lg.AccountFields[0] != "username" || lg.MaxFailures != 5 || lg.Lockout != 15*time.Minute ||
		lg.FailureWindow != 15*time.Minute || lg.DelayStep != 250*time.Millisecond || lg.MaxDelay != 2*time.Second || lg.MaxKeys != DefaultLoginMaxKeys {
		t.Errorf("login defaults: %+v", lg)
	}
	r0, r1 := l.Config.Routes[0].RateLimit, l.Config.Routes[1].RateLimit
	if len(r0.Limits) != 2 || r0.Headers == nil || !*r0.Headers || r0.Login || !r0.Enabled() {
		t.Errorf("route users: %+v", r0)
	}
	if !r1.Login || r1.Headers != nil {
		t.Errorf("route login: %+v", r1)
	}
}

func TestRateLimitEnvOverride(t *testing.T) {
	t.Setenv("EDGEGUARD_RATE_LIMIT_IPV6_PREFIX", "56")
	t.Setenv("EDGEGUARD_RATE_LIMIT_THRESHOLDS_BAN", "300")
	l, err := Parse([]byte(rateBase), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.RateLimit.IPv6Prefix != 56 || l.Config.RateLimit.Thresholds.Ban != 300 {
		t.Fatalf("env overrides not applied: %+v", l.Config.RateLimit)
	}
	if l.Config.RateLimit.Limits["api"].Thresholds.Ban != 300 {
		t.Fatal("limits do not inherit the overridden global threshold")
	}
}

func TestRateLimitInvalid(t *testing.T) {
	cases := []struct {
		name    string
		replace [2]string // applied to rateBase
		wantKey string
	}{
		{"misspelt window", [2]string{"minute: 100", "minut: 100"}, "minut"},
		{"negative window", [2]string{"second: 10", "second: -1"}, "rate_limit.limits.api.second"},
		{"more than one per ns", [2]string{"second: 10", "second: 2000000000"}, "rate_limit.limits.api.second"},
		{"limit without windows", [2]string{"      minute: 60\n", "      minute: 0\n"}, "rate_limit.limits.search"},
		{"bad limit name", [2]string{"    search:", "    \"se arch\":"}, "rate_limit.limits.se arch"},
		{"bad scope", [2]string{"scope: group", "scope: global"}, "rate_limit.limits.search.scope"},
		{"unknown identity kind", [2]string{"ip: {second: 2}", "oauth: {second: 2}"}, "rate_limit.limits.api.identity_kinds.oauth"},
		{"empty tier", [2]string{"Gold: {second: 100, minute: 1000}", "Gold: {second: 0}"}, "rate_limit.limits.api.tiers.gold"},
		{"delay above reject", [2]string{"thresholds: {delay: 50}", "thresholds: {delay: 150}"}, "rate_limit.limits.search.thresholds.delay"},
		{"ban not above reject", [2]string{"thresholds: {delay: 50}", "thresholds: {ban: 100}"}, "rate_limit.limits.search.thresholds.ban"},
		{"unknown limit on route", [2]string{"limits: [api, search]", "limits: [api, nope]"}, "routes[0].rate_limit.limits[1]"},
		{"limit listed twice", [2]string{"limits: [api, search]", "limits: [api, API]"}, "routes[0].rate_limit.limits[1]"},
		{"too many limits", [2]string{"limits: [api, search]", "limits: [api, search, a, b, c, d, e, f, g]"}, "routes[0].rate_limit.limits"},
		{"ipv6 prefix", [2]string{"rate_limit:\n", "rate_limit:\n  ipv6_prefix: 129\n"}, "rate_limit.ipv6_prefix"},
		{"max keys", [2]string{"rate_limit:\n", "rate_limit:\n  max_keys: -5\n"}, "rate_limit.max_keys"},
		{"max delay unbounded", [2]string{"rate_limit:\n", "rate_limit:\n  max_delay: 1h\n"}, "rate_limit.max_delay"},
		{"negative ban duration", [2]string{"rate_limit:\n", "rate_limit:\n  ban_duration: -1s\n"}, "rate_limit.ban_duration"},
		{"global reject threshold", [2]string{"rate_limit:\n", "rate_limit:\n  thresholds: {reject: 5000, ban: 6000}\n"}, "rate_limit.thresholds.reject"},
		{"login field", [2]string{"rate_limit:\n", "rate_limit:\n  login: {account_fields: [\"user..name\"]}\n"}, "rate_limit.login.account_fields[0]"},
		{"login failures", [2]string{"rate_limit:\n", "rate_limit:\n  login: {max_failures: -1}\n"}, "rate_limit.login.max_failures"},
		{"login failures past the counter", [2]string{"rate_limit:\n", "rate_limit:\n  login: {max_failures: 70000}\n"}, "rate_limit.login.max_failures"},
		{"auth failures past the counter", [2]string{"rate_limit:\n", "rate_limit:\n  auth_failures: {max_failures: 70000}\n"}, "rate_limit.auth_failures.max_failures"},
		{"login lockout", [2]string{"rate_limit:\n", "rate_limit:\n  login: {lockout: -1m}\n"}, "rate_limit.login.lockout"},
		{"login unknown key", [2]string{"rate_limit:\n", "rate_limit:\n  login: {lock_out: 1m}\n"}, "lock_out"},
		{"route unknown key", [2]string{"login: true", "login: true\n      lgoin: true"}, "lgoin"},
		{"bad span", [2]string{"scope: group", "scope: group\n      span: global"}, "rate_limit.limits.search.span"},
		{"cluster limit without redis", [2]string{"scope: group", "scope: group\n      span: cluster"}, "rate_limit.cluster.addresses"},
		{"cluster limit without gateways", [2]string{"scope: group", "scope: group\n      span: cluster"}, "rate_limit.cluster.gateways"},
		{"cluster mode", [2]string{"  limits:\n    API:\n", "  cluster: {mode: raft, addresses: [\"r:6379\"], gateways: 2}\n  limits:\n    c:\n      second: 1\n      span: cluster\n    API:\n"}, "rate_limit.cluster.mode"},
		{"cluster address", [2]string{"  limits:\n    API:\n", "  cluster: {mode: standalone, addresses: [\"r\"], gateways: 2}\n  limits:\n    c:\n      second: 1\n      span: cluster\n    API:\n"}, "rate_limit.cluster.addresses[0]"},
		{"sentinel without master", [2]string{"  limits:\n    API:\n", "  cluster: {mode: sentinel, addresses: [\"r:26379\"], gateways: 2}\n  limits:\n    c:\n      second: 1\n      span: cluster\n    API:\n"}, "rate_limit.cluster.master_name"},
		{"cluster lease sizes", [2]string{"  limits:\n    API:\n", "  cluster: {addresses: [\"r:6379\"], gateways: 2, lease: {min: 10, max: 5}}\n  limits:\n    c:\n      second: 1\n      span: cluster\n    API:\n"}, "rate_limit.cluster.lease.max"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(rateBase, tc.replace[0]) {
				t.Fatalf("test bug: %q not in base", tc.replace[0])
			}
			doc := strings.Replace(rateBase, tc.replace[0], tc.replace[1], 1)
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

func TestRateLimitClusterDecoding(t *testing.T) {
	doc := strings.Replace(rateBase, "scope: group", "scope: group\n      span: cluster", 1)
	doc = strings.Replace(doc, "rate_limit:\n", "rate_limit:\n  cluster:\n    addresses: [\"10.0.0.5:6379\"]\n    gateways: 3\n    lease: {max: 40}\n", 1)
	l, err := Parse([]byte(doc), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	rl := l.Config.RateLimit
	if !rl.UsesCluster() || rl.Limits["search"].Span != SpanCluster || rl.Limits["api"].Span != SpanLocal {
		t.Fatalf("spans: search %q, api %q", rl.Limits["search"].Span, rl.Limits["api"].Span)
	}
	want := RateCluster{Mode: "standalone", Addresses: []string{"10.0.0.5:6379"}, KeyPrefix: DefaultClusterKeyPrefix,
		Timeout: DefaultClusterTimeout, ProbeInterval: DefaultClusterProbe, Gateways: 3,
		Lease: RateLeases{Min: 1, Max: 40, Horizon: DefaultClusterLeaseAhead, TTL: DefaultClusterLeaseTTL}}
	if g, w := fmt.Sprintf("%+v", rl.Cluster), fmt.Sprintf("%+v", want); g != w {
		t.Fatalf("cluster section\n got %s\nwant %s", g, w)
	}
}

// TestRateLimitScopeNamesSpan: "scope: cluster" and "scope: local" are
// read as the span, with per-route buckets; a span that contradicts it is
// refused naming the key.
func TestRateLimitScopeNamesSpan(t *testing.T) {
	cluster := "rate_limit:\n  cluster:\n    addresses: [\"10.0.0.5:6379\"]\n    gateways: 3\n"
	cases := []struct {
		scope, span string
		wantSpan    string
		wantErr     string
	}{
		{"cluster", "", SpanCluster, ""},
		{"local", "", SpanLocal, ""},
		{"cluster", "cluster", SpanCluster, ""},
		{"cluster", "local", "", "rate_limit.limits.search.scope"},
	}
	for _, c := range cases {
		lim := "scope: " + c.scope
		if c.span != "" {
			lim += "\n      span: " + c.span
		}
		doc := strings.Replace(rateBase, "scope: group", lim, 1)
		doc = strings.Replace(doc, "rate_limit:\n", cluster, 1)
		l, err := Parse([]byte(doc), "yaml", "test")
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("scope %s span %s: %v, want an error naming %s", c.scope, c.span, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("scope %s span %s: %v", c.scope, c.span, err)
		}
		if got := l.Config.RateLimit.Limits["search"]; got.Span != c.wantSpan || got.Scope != ScopeRoute {
			t.Errorf("scope %s span %s: span %q scope %q", c.scope, c.span, got.Span, got.Scope)
		}
	}
}

func TestRateLimitOptional(t *testing.T) {
	l, err := Parse([]byte(validBase), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.Routes[0].RateLimit.Enabled() {
		t.Fatal("rate limiting enabled without configuration")
	}
	// Only the login limit exists by default, used by login routes alone.
	if lim, ok := l.Config.RateLimit.Limits[LoginLimit]; len(l.Config.RateLimit.Limits) != 1 || !ok || lim.Windows != DefaultLoginLimit {
		t.Fatalf("default limits %+v, want only %s = %+v", l.Config.RateLimit.Limits, LoginLimit, DefaultLoginLimit)
	}
}

// TestExampleRateLimitIsDefault: the example documents every global
// rate_limit key with its default value, and its limit "api" shows every
// limit key with the values that mean "inherit".
func TestExampleRateLimitIsDefault(t *testing.T) {
	ex, err := Load("../../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse([]byte(validBase), "yaml", "defaults")
	if err != nil {
		t.Fatal(err)
	}
	got, want := ex.Config.RateLimit, def.Config.RateLimit
	api := got.Limits["api"]
	got.Limits, want.Limits = nil, nil
	if *got.BurstBan != *want.BurstBan {
		t.Errorf("example burst_ban %v, default %v", *got.BurstBan, *want.BurstBan)
	}
	got.BurstBan, want.BurstBan = nil, nil
	if got.AuthFailures.On() != want.AuthFailures.On() {
		t.Errorf("example auth_failures.enabled %v, default %v", got.AuthFailures.On(), want.AuthFailures.On())
	}
	got.AuthFailures.Enabled, want.AuthFailures.Enabled = nil, nil
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("example rate_limit differs from the defaults:\n got %s\nwant %s", g, w)
	}
	if api.Scope != ScopeRoute || api.MaxKeys != want.MaxKeys || api.Thresholds != want.Thresholds || api.Shadow {
		t.Errorf("example limit api does not show the inherited defaults: %+v", api)
	}
}
