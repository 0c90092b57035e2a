package config

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Rate limiting defaults (documented in deploy/examples/gatewayd.yaml).
// They live here rather than in defaults.go because the rate_limit section
// is compiled and owned separately.
const (
	DefaultRateIPv6Prefix     = 64
	DefaultRateMaxKeys        = 1_000_000
	DefaultRateDelayPct       = 80
	DefaultRateRejectPct      = 100
	DefaultRateBanPct         = 200
	DefaultRateMaxDelay       = 500 * time.Millisecond
	DefaultRateMaxDelayed     = 1024
	DefaultLoginMaxFailures   = 5
	DefaultLoginFailureWindow = 15 * time.Minute
	DefaultLoginLockout       = 15 * time.Minute
	DefaultLoginDelayStep     = 250 * time.Millisecond
	DefaultLoginMaxDelay      = 2 * time.Second
	DefaultLoginMaxKeys       = 100_000

	DefaultAuthFailuresMax     = 20
	DefaultAuthFailuresWindow  = time.Minute
	DefaultAuthFailuresLockout = time.Minute

	// ScopeRoute gives every route listing a limit its own buckets.
	ScopeRoute = "route"
	// ScopeGroup makes every route listing a limit share its buckets: the
	// routes form an endpoint group.
	ScopeGroup = "group"

	// SpanLocal keeps a limit's state on each gateway; SpanCluster shares
	// it among the gateways through rate_limit.cluster (Redis).
	SpanLocal   = "local"
	SpanCluster = "cluster"

	// rate_limit.cluster defaults.
	DefaultClusterMode       = "standalone"
	DefaultClusterKeyPrefix  = "edgeguard:rl:"
	DefaultClusterTimeout    = 50 * time.Millisecond
	DefaultClusterProbe      = 250 * time.Millisecond
	DefaultClusterLeaseMin   = 1
	DefaultClusterLeaseMax   = 100
	DefaultClusterLeaseAhead = 100 * time.Millisecond
	DefaultClusterLeaseTTL   = time.Second

	maxRateDelay      = 30 * time.Second
	maxLimitsPerRoute = 8 // ratelimit.MaxLimitsPerRoute
)

// maxLoginFailures is the most failures a login or auth-failure counter
// holds (16 bits of its state word).
const maxLoginFailures = 1<<16 - 1

// LoginLimit is the limit every route with rate_limit.login: true is charged
// (per client, before its own limits): authentication endpoints get a
// stricter rate than the rest. rate_limit.limits.login overrides the
// default windows (shadow: true turns it into a record only).
const LoginLimit = "login"

// DefaultLoginLimit are the windows of LoginLimit when the config sets none.
var DefaultLoginLimit = Windows{Second: 3, Minute: 30}

// DefaultLoginAccountFields are the body fields that name the account a
// login attempt is for.
var DefaultLoginAccountFields = []string{"username"}

// IdentityKinds are the keys accepted under a limit's identity_kinds: "ip"
// is an anonymous client (limited per address), the others name how a
// principal authenticated.
var IdentityKinds = []string{"ip", "api_key", "jwt", "cert", "hmac"}

// RateLimit holds the limiter's global settings and the named limits that
// routes refer to. Names (of limits and tiers) are case-insensitive: the
// configuration loader lower-cases map keys.
type RateLimit struct {
	IPv6Prefix int        `mapstructure:"ipv6_prefix"`
	MaxKeys    int        `mapstructure:"max_keys"`
	Thresholds Thresholds `mapstructure:"thresholds"`
	// BurstBan closes and bans at thresholds.ban; false answers 429 there.
	BurstBan    *bool            `mapstructure:"burst_ban"`
	MaxDelay    time.Duration    `mapstructure:"max_delay"`
	MaxDelayed  int              `mapstructure:"max_delayed"`
	BanDuration time.Duration    `mapstructure:"ban_duration"` // 0: xdp.ban_default
	Headers     bool             `mapstructure:"headers"`      // default of routes[i].rate_limit.headers
	Limits      map[string]Limit `mapstructure:"limits"`
	Login       Login            `mapstructure:"login"`
	// AuthFailures guards every route with authentication (login routes
	// have their own protection): a client whose credentials keep failing
	// gets 429 before any signature is checked.
	AuthFailures AuthFailures `mapstructure:"auth_failures"`
	// Cluster is where limits with span: cluster keep their state.
	Cluster RateCluster `mapstructure:"cluster"`
}

// RateCluster is the Redis deployment that cluster limits share, and how
// each gateway leases quota from it.
type RateCluster struct {
	Mode          string        `mapstructure:"mode"` // standalone, sentinel or cluster
	Addresses     []string      `mapstructure:"addresses"`
	MasterName    string        `mapstructure:"master_name"` // sentinel
	Username      string        `mapstructure:"username"`
	PasswordFile  string        `mapstructure:"password_file"`
	KeyPrefix     string        `mapstructure:"key_prefix"`
	Timeout       time.Duration `mapstructure:"timeout"`
	ProbeInterval time.Duration `mapstructure:"probe_interval"`
	// Gateways is how many gateways share the limits: while Redis is down
	// each enforces 1/Gateways of every cluster limit locally.
	Gateways int        `mapstructure:"gateways"`
	Lease    RateLeases `mapstructure:"lease"`
}

// RateLeases size the batches of quota a gateway takes from Redis.
type RateLeases struct {
	Min     int           `mapstructure:"min"`
	Max     int           `mapstructure:"max"`
	Horizon time.Duration `mapstructure:"horizon"` // a lease covers this much of the client's traffic
	TTL     time.Duration `mapstructure:"ttl"`     // unspent leased tokens expire after it
}

// AuthFailures configures the per-client guard against credential floods
// (forged tokens cost a signature check each).
type AuthFailures struct {
	Enabled       *bool         `mapstructure:"enabled"`
	MaxFailures   int           `mapstructure:"max_failures"`
	FailureWindow time.Duration `mapstructure:"failure_window"`
	Lockout       time.Duration `mapstructure:"lockout"`
	MaxKeys       int           `mapstructure:"max_keys"`
}

// On reports whether the guard runs.
func (a *AuthFailures) On() bool { return a.Enabled == nil || *a.Enabled }

// Thresholds are percentages of a limit: delay above Delay, 429 above
// Reject, close and ban when refused requests reach Ban in total.
type Thresholds struct {
	Delay  int `mapstructure:"delay"`
	Reject int `mapstructure:"reject"`
	Ban    int `mapstructure:"ban"`
}

// Windows are requests allowed per window; 0 means that window is not limited.
type Windows struct {
	Second int64 `mapstructure:"second"`
	Minute int64 `mapstructure:"minute"`
	Hour   int64 `mapstructure:"hour"`
	Day    int64 `mapstructure:"day"`
}

// Empty reports whether no window is set.
func (w Windows) Empty() bool { return w == Windows{} }

// Limit is one named limit. Its windows apply to every client; tiers and
// identity_kinds replace them for matching clients (a tier match wins).
type Limit struct {
	Windows       `mapstructure:",squash"`
	Scope         string             `mapstructure:"scope"`
	Span          string             `mapstructure:"span"` // local or cluster
	Shadow        bool               `mapstructure:"shadow"`
	MaxKeys       int                `mapstructure:"max_keys"`   // 0: rate_limit.max_keys
	Thresholds    Thresholds         `mapstructure:"thresholds"` // 0 fields: rate_limit.thresholds
	Tiers         map[string]Windows `mapstructure:"tiers"`
	IdentityKinds map[string]Windows `mapstructure:"identity_kinds"`
}

// Login configures failed-login tracking for routes marked login: true.
type Login struct {
	AccountFields []string      `mapstructure:"account_fields"`
	MaxFailures   int           `mapstructure:"max_failures"`
	FailureWindow time.Duration `mapstructure:"failure_window"`
	Lockout       time.Duration `mapstructure:"lockout"`
	DelayStep     time.Duration `mapstructure:"delay_step"`
	MaxDelay      time.Duration `mapstructure:"max_delay"`
	MaxKeys       int           `mapstructure:"max_keys"`
}

// RouteRateLimit is one route's rate limiting.
type RouteRateLimit struct {
	// Limits names the limits charged for every request, in order.
	Limits []string `mapstructure:"limits"`
	// Headers sends rate-limit headers; nil: rate_limit.headers.
	Headers *bool `mapstructure:"headers"`
	// Login marks an authentication endpoint: failed attempts are tracked
	// per client and per account, delayed, and locked out.
	Login bool `mapstructure:"login"`
}

// Enabled reports whether the route has any rate limiting.
func (rr *RouteRateLimit) Enabled() bool { return len(rr.Limits) > 0 || rr.Login }

func (rl *RateLimit) applyDefaults() {
	setInt(&rl.IPv6Prefix, DefaultRateIPv6Prefix)
	setInt(&rl.MaxKeys, DefaultRateMaxKeys)
	setInt(&rl.Thresholds.Delay, DefaultRateDelayPct)
	setInt(&rl.Thresholds.Reject, DefaultRateRejectPct)
	setInt(&rl.Thresholds.Ban, DefaultRateBanPct)
	if rl.BurstBan == nil {
		on := true
		rl.BurstBan = &on
	}
	setDuration(&rl.MaxDelay, DefaultRateMaxDelay)
	setInt(&rl.MaxDelayed, DefaultRateMaxDelayed)
	if _, ok := rl.Limits[LoginLimit]; !ok {
		if rl.Limits == nil {
			rl.Limits = map[string]Limit{}
		}
		rl.Limits[LoginLimit] = Limit{Windows: DefaultLoginLimit}
	}
	for name, l := range rl.Limits {
		// "scope: cluster" (or local) names where the state lives, as in
		// Kong's policy: it is the span, and the buckets stay per route.
		if (l.Scope == SpanLocal || l.Scope == SpanCluster) && (l.Span == "" || l.Span == l.Scope) {
			l.Span, l.Scope = l.Scope, ""
		}
		setString(&l.Scope, ScopeRoute)
		setString(&l.Span, SpanLocal)
		setInt(&l.MaxKeys, rl.MaxKeys)
		setInt(&l.Thresholds.Delay, rl.Thresholds.Delay)
		setInt(&l.Thresholds.Reject, rl.Thresholds.Reject)
		setInt(&l.Thresholds.Ban, rl.Thresholds.Ban)
		rl.Limits[name] = l
	}
	lg := &rl.Login
	if lg.AccountFields == nil { // account_fields: [] is refused, not defaulted
		lg.AccountFields = append([]string(nil), DefaultLoginAccountFields...)
	}
	setInt(&lg.MaxFailures, DefaultLoginMaxFailures)
	setDuration(&lg.FailureWindow, DefaultLoginFailureWindow)
	setDuration(&lg.Lockout, DefaultLoginLockout)
	setDuration(&lg.DelayStep, DefaultLoginDelayStep)
	setDuration(&lg.MaxDelay, DefaultLoginMaxDelay)
	setInt(&lg.MaxKeys, DefaultLoginMaxKeys)
	af := &rl.AuthFailures
	if af.Enabled == nil {
		on := true
		af.Enabled = &on
	}
	setInt(&af.MaxFailures, DefaultAuthFailuresMax)
	setDuration(&af.FailureWindow, DefaultAuthFailuresWindow)
	setDuration(&af.Lockout, DefaultAuthFailuresLockout)
	setInt(&af.MaxKeys, DefaultLoginMaxKeys)
	cl := &rl.Cluster
	setString(&cl.Mode, DefaultClusterMode)
	setString(&cl.KeyPrefix, DefaultClusterKeyPrefix)
	setDuration(&cl.Timeout, DefaultClusterTimeout)
	setDuration(&cl.ProbeInterval, DefaultClusterProbe)
	setInt(&cl.Lease.Min, DefaultClusterLeaseMin)
	setInt(&cl.Lease.Max, DefaultClusterLeaseMax)
	setDuration(&cl.Lease.Horizon, DefaultClusterLeaseAhead)
	setDuration(&cl.Lease.TTL, DefaultClusterLeaseTTL)
}

// UsesCluster reports whether some limit has span: cluster.
func (rl *RateLimit) UsesCluster() bool {
	for _, l := range rl.Limits {
		if l.Span == SpanCluster {
			return true
		}
	}
	return false
}

// validate checks the cluster section; only when a limit uses it.
func (cl *RateCluster) validate(v *validator) {
	const key = "rate_limit.cluster"
	switch cl.Mode {
	case "standalone", "sentinel", "cluster":
	default:
		v.add(key+".mode", "must be standalone, sentinel or cluster, got %q", cl.Mode)
	}
	if len(cl.Addresses) == 0 {
		v.add(key+".addresses", "required when a limit has span: cluster (Redis host:port)")
	}
	if cl.Mode == "standalone" && len(cl.Addresses) > 1 {
		v.add(key+".addresses", "standalone mode takes one address, got %d", len(cl.Addresses))
	}
	for i, a := range cl.Addresses {
		v.target(fmt.Sprintf("%s.addresses[%d]", key, i), a)
	}
	if cl.Mode == "sentinel" && cl.MasterName == "" {
		v.add(key+".master_name", "required in sentinel mode")
	}
	if cl.Timeout < time.Millisecond || cl.Timeout > 10*time.Second {
		v.add(key+".timeout", "must be 1ms-10s, got %s", cl.Timeout)
	}
	v.positive(key+".probe_interval", cl.ProbeInterval)
	if cl.Gateways < 1 || cl.Gateways > 1000 {
		v.add(key+".gateways", "must be 1-1000 (the number of gateways sharing the limits; required with span: cluster), got %d", cl.Gateways)
	}
	v.atLeast(key+".lease.min", cl.Lease.Min, 1)
	v.atLeast(key+".lease.max", cl.Lease.Max, cl.Lease.Min)
	v.positive(key+".lease.horizon", cl.Lease.Horizon)
	v.positive(key+".lease.ttl", cl.Lease.TTL)
}

func (rl *RateLimit) validate(v *validator) {
	if rl.IPv6Prefix < 1 || rl.IPv6Prefix > 128 {
		v.add("rate_limit.ipv6_prefix", "must be 1-128, got %d", rl.IPv6Prefix)
	}
	v.atLeast("rate_limit.max_keys", rl.MaxKeys, 1)
	validateThresholds(v, "rate_limit.thresholds", rl.Thresholds)
	if rl.MaxDelay < 0 || rl.MaxDelay > maxRateDelay {
		v.add("rate_limit.max_delay", "must be 0-%s, got %s", maxRateDelay, rl.MaxDelay)
	}
	v.atLeast("rate_limit.max_delayed", rl.MaxDelayed, 0)
	if rl.BanDuration < 0 {
		v.add("rate_limit.ban_duration", "must be >= 0 (0: xdp.ban_default), got %s", rl.BanDuration)
	}
	for _, name := range sortedKeys(rl.Limits) {
		rl.Limits[name].validate(v, "rate_limit.limits."+name, name)
	}
	if rl.UsesCluster() {
		rl.Cluster.validate(v)
	}
	af := rl.AuthFailures
	v.between("rate_limit.auth_failures.max_failures", af.MaxFailures, 1, maxLoginFailures)
	v.positive("rate_limit.auth_failures.failure_window", af.FailureWindow)
	v.positive("rate_limit.auth_failures.lockout", af.Lockout)
	v.atLeast("rate_limit.auth_failures.max_keys", af.MaxKeys, 1)
	lg := rl.Login
	if len(lg.AccountFields) == 0 {
		v.add("rate_limit.login.account_fields", "must list at least one field (default [%s]): with none, no attempt names an account and account lockout is off; to turn login protection off, remove rate_limit.login: true from the routes", strings.Join(DefaultLoginAccountFields, ", "))
	}
	for i, f := range lg.AccountFields {
		if f == "" || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, "..") {
			v.add(fmt.Sprintf("rate_limit.login.account_fields[%d]", i), "must be a field name or a dotted JSON path, got %q", f)
		}
	}
	v.between("rate_limit.login.max_failures", lg.MaxFailures, 1, maxLoginFailures)
	v.positive("rate_limit.login.failure_window", lg.FailureWindow)
	v.positive("rate_limit.login.lockout", lg.Lockout)
	if lg.DelayStep < 0 {
		v.add("rate_limit.login.delay_step", "must be >= 0, got %s", lg.DelayStep)
	}
	if lg.MaxDelay < 0 || lg.MaxDelay > maxRateDelay {
		v.add("rate_limit.login.max_delay", "must be 0-%s, got %s", maxRateDelay, lg.MaxDelay)
	}
	v.atLeast("rate_limit.login.max_keys", lg.MaxKeys, 1)
}

func (l Limit) validate(v *validator, key, name string) {
	if !isLimitName(name) {
		v.add(key, "limit names use a-z, 0-9, '_' and '-', got %q", name)
	}
	if l.Windows.Empty() && len(l.Tiers) == 0 && len(l.IdentityKinds) == 0 {
		v.add(key, "sets no window: give at least one of second, minute, hour, day (or tiers / identity_kinds)")
	}
	validateWindows(v, key, l.Windows)
	if l.Scope != ScopeRoute && l.Scope != ScopeGroup {
		v.add(key+".scope", "must be %q or %q, got %q", ScopeRoute, ScopeGroup, l.Scope)
	}
	if l.Span != SpanLocal && l.Span != SpanCluster {
		v.add(key+".span", "must be %q or %q, got %q", SpanLocal, SpanCluster, l.Span)
	}
	v.atLeast(key+".max_keys", l.MaxKeys, 1)
	validateThresholds(v, key+".thresholds", l.Thresholds)
	for _, tier := range sortedKeys(l.Tiers) {
		tk := key + ".tiers." + tier
		if strings.TrimSpace(tier) == "" {
			v.add(tk, "empty tier name")
		}
		if l.Tiers[tier].Empty() {
			v.add(tk, "sets no window")
		}
		validateWindows(v, tk, l.Tiers[tier])
	}
	for _, kind := range sortedKeys(l.IdentityKinds) {
		kk := key + ".identity_kinds." + kind
		known := false
		for _, k := range IdentityKinds {
			known = known || k == kind
		}
		if !known {
			v.add(kk, "unknown identity kind: want one of %s", strings.Join(IdentityKinds, ", "))
		}
		if l.IdentityKinds[kind].Empty() {
			v.add(kk, "sets no window")
		}
		validateWindows(v, kk, l.IdentityKinds[kind])
	}
}

func validateWindows(v *validator, key string, w Windows) {
	for _, f := range []struct {
		name string
		n    int64
		max  int64
	}{
		{"second", w.Second, 1e9}, {"minute", w.Minute, 60e9}, {"hour", w.Hour, 3600e9}, {"day", w.Day, 86400e9},
	} {
		// At most one request per nanosecond: the limiter's clock resolution.
		if f.n < 0 || f.n > f.max {
			v.add(key+"."+f.name, "must be 0-%d, got %d", f.max, f.n)
		}
	}
}

func validateThresholds(v *validator, key string, t Thresholds) {
	if t.Reject < 1 || t.Reject > 1000 {
		v.add(key+".reject", "must be 1-1000 (percent of the limit), got %d", t.Reject)
	}
	if t.Delay < 1 || t.Delay > t.Reject {
		v.add(key+".delay", "must be 1 to reject (%d), got %d", t.Reject, t.Delay)
	}
	if t.Ban <= t.Reject || t.Ban > 10000 {
		v.add(key+".ban", "must be above reject (%d) and at most 10000, got %d", t.Reject, t.Ban)
	}
}

func (rr *RouteRateLimit) applyDefaults() {}

// validate checks one route's rate_limit section; key is e.g. "routes[3].rate_limit".
func (rr *RouteRateLimit) validate(v *validator, key string, rl *RateLimit) {
	if len(rr.Limits) > maxLimitsPerRoute {
		v.add(key+".limits", "at most %d limits per route, got %d", maxLimitsPerRoute, len(rr.Limits))
	}
	seen := map[string]bool{}
	for i, name := range rr.Limits {
		k := fmt.Sprintf("%s.limits[%d]", key, i)
		n := strings.ToLower(name)
		if _, ok := rl.Limits[n]; !ok {
			v.add(k, "unknown limit %q (define it under rate_limit.limits)", name)
		}
		if seen[n] {
			v.add(k, "limit %q listed twice", name)
		}
		seen[n] = true
	}
}

func isLimitName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
