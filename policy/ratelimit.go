package policy

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/cluster"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/login"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/policy/config"
)

// rateState is the compiled rate limiting of one policy. Bucket state must
// survive reloads (a reload must never hand an attacker fresh quota), so the
// limiter tables are carried over from prev: every policy of a process
// shares one ratelimit.Store, and each policy records which of its tables
// it uses so that a swap drops only the tables nobody uses any more.
type rateState struct {
	cfg      *config.RateLimit
	store    *ratelimit.Store // nil until a route needs it, unless inherited
	tables   map[string]bool  // ids of the store tables this policy uses
	banFor   time.Duration
	enforcer enforce.Enforcer
	// trusted and allow are headers.trusted_proxies and xdp.allowlist:
	// sources whose bursts get 429s, never a ban (ratelimit.StageConfig).
	trusted, allow []netip.Prefix
	// cluster serves the limits with span: cluster; a reload with the same
	// rate_limit.cluster section (and password) keeps it.
	cluster    *cluster.Client
	clusterSig string
}

func compileRateLimit(c *config.Config, prev *rateState, opt Options, trusted, allow []netip.Prefix) (*rateState, error) {
	rs := &rateState{cfg: &c.RateLimit, tables: map[string]bool{}, enforcer: opt.Enforcer, trusted: trusted, allow: allow}
	if prev != nil {
		rs.store = prev.store
	}
	rs.banFor = c.RateLimit.BanDuration
	if rs.banFor == 0 {
		rs.banFor = opt.BanDefault
	}
	if rs.banFor == 0 {
		rs.banFor = c.XDP.BanDefault
	}
	if rs.store != nil {
		rs.store.SetMaxDelayed(c.RateLimit.MaxDelayed)
	}
	if c.RateLimit.UsesCluster() {
		if err := rs.compileCluster(&c.RateLimit.Cluster, prev, opt.Events); err != nil {
			rs.release(prev)
			return nil, err
		}
		if opt.Enforcer != nil {
			// Bans spread through the cluster: the limiter's bans are
			// published, the other gateways' applied here.
			if enf, ok := opt.Enforcer.(*Enforcement); ok {
				// Every ban of this gateway goes through enf: share them
				// all there, and apply the fleet's without republishing.
				rs.cluster.ShareBans(enf.ApplyFleetBan, enf.ApplyFleetUnban, rs.banFor)
				enf.ShareBans(rs.cluster)
			} else {
				rs.cluster.ShareBans(opt.Enforcer.Ban, opt.Enforcer.Unban, rs.banFor)
				rs.enforcer = sharedBans{Enforcer: opt.Enforcer, c: rs.cluster}
			}
		}
	}
	return rs, nil
}

// sharedBans is the enforcer of a policy with cluster limits: each ban it
// applies is also published to the other gateways.
type sharedBans struct {
	enforce.Enforcer
	c *cluster.Client
}

func (s sharedBans) Ban(src netip.Prefix, until time.Time) error {
	err := s.Enforcer.Ban(src, until)
	if err == nil {
		s.c.PublishBan(src, until)
	}
	return err
}

// compileCluster connects to the Redis of rate_limit.cluster, or keeps
// prev's connection when nothing about it changed.
func (rs *rateState) compileCluster(cl *config.RateCluster, prev *rateState, events *secevent.Log) error {
	var password string
	if cl.PasswordFile != "" {
		b, err := os.ReadFile(cl.PasswordFile)
		if err != nil {
			return fmt.Errorf("rate_limit.cluster.password_file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	rs.clusterSig = fmt.Sprintf("%+v/%x", *cl, sha256.Sum256([]byte(password)))
	if prev != nil && prev.cluster != nil && prev.clusterSig == rs.clusterSig {
		rs.cluster = prev.cluster
		return nil
	}
	store := rs.getStore()
	c, err := cluster.New(cluster.Config{
		Mode: cl.Mode, Addrs: cl.Addresses, MasterName: cl.MasterName, Username: cl.Username, Password: password,
		KeyPrefix: cl.KeyPrefix, Timeout: cl.Timeout, ProbeEvery: cl.ProbeInterval,
		Clock:        func() int64 { return store.Now(time.Now()) },
		OnTransition: clusterEvent(events),
	})
	if err != nil {
		return fmt.Errorf("rate_limit.cluster: %w", err)
	}
	rs.cluster = c
	return nil
}

func (rs *rateState) getStore() *ratelimit.Store {
	if rs.store == nil {
		rs.store = ratelimit.NewStore()
		rs.store.SetMaxDelayed(rs.cfg.MaxDelayed)
		if e, ok := rs.enforcer.(*Enforcement); ok {
			e.limiter.Store(rs.store) // its unbans reach the limiter's ban memo
		}
	}
	return rs.store
}

// routeStages returns the stages that rate-limit requests on route r, in
// order; none when the route has no limits. Login protection comes first:
// a locked-out client consumes no quota.
func (rs *rateState) routeStages(r *config.Route) (login, limits []pipeline.Stage, err error) {
	rr := &r.RateLimit
	if !rr.Enabled() {
		return nil, nil, nil
	}
	if login, err = rs.loginStages(r); err != nil {
		return nil, nil, err
	}
	if limits, err = rs.limitStages(r); err != nil {
		return nil, nil, err
	}
	return login, limits, nil
}

// loginStages returns the login-protection stage of an authentication
// endpoint, none for other routes.
func (rs *rateState) loginStages(r *config.Route) ([]pipeline.Stage, error) {
	rr := &r.RateLimit
	store := rs.getStore()
	var stages []pipeline.Stage
	if rr.Login {
		lg := rs.cfg.Login
		st, err := login.NewStage(store, login.Config{
			Route: r.Name, AccountFields: lg.AccountFields, MaxFailures: lg.MaxFailures,
			FailureWindow: lg.FailureWindow, Lockout: lg.Lockout, DelayStep: lg.DelayStep,
			MaxDelay: lg.MaxDelay, MaxKeys: lg.MaxKeys, IPv6Prefix: rs.cfg.IPv6Prefix,
		})
		if err != nil {
			return nil, fmt.Errorf("rate_limit.login: %w", err)
		}
		rs.tables[login.IPTable], rs.tables[login.AccountTable] = true, true
		stages = append(stages, st)
	}
	return stages, nil
}

// guardStages returns the auth-failure guard of a route that authenticates
// and is not a login endpoint (login protection counts auth failures
// there), none otherwise.
func (rs *rateState) guardStages(r *config.Route) ([]pipeline.Stage, error) {
	af := rs.cfg.AuthFailures
	if len(r.Auth.Methods) == 0 || r.RateLimit.Login || !af.On() {
		return nil, nil
	}
	g, err := login.NewGuard(rs.getStore(), login.GuardConfig{
		Route: r.Name, MaxFailures: af.MaxFailures, FailureWindow: af.FailureWindow,
		Lockout: af.Lockout, MaxKeys: af.MaxKeys, IPv6Prefix: rs.cfg.IPv6Prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("rate_limit.auth_failures: %w", err)
	}
	rs.tables[login.GuardTable] = true
	return []pipeline.Stage{g}, nil
}

// limitStages returns the stage that applies the route's limits, none when
// it has no limits.
func (rs *rateState) limitStages(r *config.Route) ([]pipeline.Stage, error) {
	rr := &r.RateLimit
	store := rs.getStore()
	var stages []pipeline.Stage
	names := rr.Limits
	if rr.Login && !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, config.LoginLimit) }) {
		// Authentication endpoints are charged the stricter login limit first.
		names = append([]string{config.LoginLimit}, names...)
	}
	if len(names) == 0 {
		return stages, nil
	}
	limits := make([]*ratelimit.Limit, 0, len(names))
	for i, name := range names {
		l, err := rs.limit(strings.ToLower(name), r.Name)
		if err != nil {
			return nil, fmt.Errorf("rate_limit.limits[%d]: %w", i, err)
		}
		limits = append(limits, l)
	}
	headers := rs.cfg.Headers
	if rr.Headers != nil {
		headers = *rr.Headers
	}
	st, err := ratelimit.NewStage(store, ratelimit.StageConfig{
		Route: r.Name, Limits: limits, Headers: headers, IPv6Prefix: rs.cfg.IPv6Prefix,
		BanDuration: rs.banFor, Enforcer: rs.enforcer, TrustedProxies: rs.trusted, Allowlist: rs.allow,
	})
	if err != nil {
		return nil, err
	}
	return append(stages, st), nil
}

// limit compiles the named limit for a route over its table: one table per
// route for scope "route", one shared by all routes for scope "group".
func (rs *rateState) limit(name, route string) (*ratelimit.Limit, error) {
	lc, ok := rs.cfg.Limits[name]
	if !ok {
		return nil, fmt.Errorf("unknown limit %q", name)
	}
	id := name
	if lc.Scope == config.ScopeRoute {
		id = name + "@" + route
	}
	table, err := rs.store.Table(id, lc.MaxKeys)
	if err != nil {
		return nil, err
	}
	rs.tables[id] = true
	c := ratelimit.LimitConfig{
		Name:    name,
		Default: windows(lc.Windows),
		Thresholds: ratelimit.Thresholds{
			Delay: int64(lc.Thresholds.Delay), Reject: int64(lc.Thresholds.Reject), Ban: int64(lc.Thresholds.Ban),
		},
		BurstBan: *rs.cfg.BurstBan,
		Shadow:   lc.Shadow,
		MaxDelay: rs.cfg.MaxDelay,
	}
	if lc.Span == config.SpanCluster {
		slots, err := rs.store.LeaseTable(id, lc.MaxKeys)
		if err != nil {
			return nil, err
		}
		rs.tables["cluster:"+id] = true
		cl := &rs.cfg.Cluster
		rs.cluster.Track(name)
		c.Cluster = &ratelimit.ClusterConfig{
			Key: id, Leaser: rs.cluster, Slots: slots, Gateways: int64(cl.Gateways),
			LeaseMin: int64(cl.Lease.Min), LeaseMax: int64(cl.Lease.Max), LeaseHorizon: cl.Lease.Horizon, LeaseTTL: cl.Lease.TTL,
		}
	}
	if len(lc.Tiers) > 0 {
		c.Tiers = map[string]ratelimit.Windows{}
		for tier, w := range lc.Tiers {
			c.Tiers[tier] = windows(w)
		}
	}
	if len(lc.IdentityKinds) > 0 {
		c.Kinds = map[pipeline.IdentityKind]ratelimit.Windows{}
		for kind, w := range lc.IdentityKinds {
			k, ok := identityKinds[kind]
			if !ok {
				return nil, fmt.Errorf("limit %s: unknown identity kind %q", name, kind)
			}
			c.Kinds[k] = windows(w)
		}
	}
	return ratelimit.NewLimit(table, c)
}

var identityKinds = map[string]pipeline.IdentityKind{
	"ip":      pipeline.IdentityNone,
	"api_key": pipeline.IdentityAPIKey,
	"jwt":     pipeline.IdentityJWT,
	"cert":    pipeline.IdentityCert,
	"hmac":    pipeline.IdentityHMAC,
}

func windows(w config.Windows) ratelimit.Windows {
	return ratelimit.Windows{ratelimit.Second: w.Second, ratelimit.Minute: w.Minute, ratelimit.Hour: w.Hour, ratelimit.Day: w.Day}
}

// release stops what rs does not hand over to next (nil: stop everything).
// When next shares the store, only the tables next does not use are
// dropped; otherwise the store is closed.
func (rs *rateState) release(next *rateState) {
	if rs == nil {
		return
	}
	if rs.cluster != nil && (next == nil || next.cluster != rs.cluster) {
		_ = rs.cluster.Close() // closing connections: nothing to report
	}
	if rs.store == nil {
		return
	}
	if next == nil || next.store != rs.store {
		rs.store.Close()
		return
	}
	var drop []string
	for id := range rs.tables {
		if !next.tables[id] {
			drop = append(drop, id)
		}
	}
	rs.store.Drop(drop...)
}

// clusterEvent records a cluster limit's fallback and return as security
// events in events (nil: none): an operator must hear that the fleet's
// limits went per gateway.
func clusterEvent(events *secevent.Log) func(bool, []string, string) {
	if events == nil {
		return nil
	}
	return func(up bool, limits []string, reason string) {
		e := secevent.Event{Type: secevent.RateLimitClusterFallback, Route: strings.Join(limits, ","), Reason: "fallback", Detail: reason}
		if up {
			e.Type, e.Reason = secevent.RateLimitClusterRestored, "restored"
		}
		events.Emit(&e)
	}
}
