// Package policy compiles a validated configuration into one immutable
// snapshot that the data plane reads through an atomic pointer, and swaps
// snapshots on reload. A snapshot is never modified after it is published:
// a reload builds a new one beside it, or keeps the running one and says why.
package policy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/anomaly"
	"github.com/edgeguard/edgeguard/dataplane/connguard"
	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/pathnorm"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/proxy"
	"github.com/edgeguard/edgeguard/dataplane/reqmetrics"
	"github.com/edgeguard/edgeguard/dataplane/router"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/policy/config"
)

// Policy is one compiled configuration. Everything in it is read-only once
// published.
type Policy struct {
	Version  uint64 // set by the Holder when published; increases by one per swap
	Source   string
	Digest   string
	LoadedAt time.Time

	Config   *config.Config // the validated input, for status and restart checks
	Limits   Limits
	Routes   *router.Table[*Route]
	Headers  *headers.Stage
	Unrouted *reqmetrics.Route // counters for requests that matched no route
	// UnroutedAnomaly observes the requests no route took (404 probing);
	// nil: anomaly detection off.
	UnroutedAnomaly *anomaly.Route

	// Conns are the connection guard's limits (per source, in all,
	// framing), read at every accept.
	Conns *connguard.Options
	// RouteBodyLimits is set when some route has its own body limit: the
	// server then routes a request with a body at header time.
	RouteBodyLimits bool
	// PathMode is what path normalization relaxes: nothing by default,
	// pathnorm.Legacy with server.allow_ambiguous_paths.
	PathMode pathnorm.Mode
	// Allowlist is xdp.allowlist, parsed: the Holder hands it to the
	// enforcer when the policy is published.
	Allowlist []netip.Prefix
	// Warnings are what compiling found that works but is likely not what
	// the operator meant (beside Config.Warnings): logged at start and
	// reload, printed by check-config.
	Warnings []string
	// listenerTLS is the TLS configuration of each data listener (nil:
	// plain HTTP), served per handshake by Holder.ListenerTLS.
	listenerTLS []*tls.Config
	// managementTLS is the management listener's TLS configuration (nil:
	// none), served per handshake by the management server.
	managementTLS *tls.Config

	pools map[string]*compiledPool
	auth  *authState // auth.go
	rate  *rateState // ratelimit.go
	waf   *wafState  // waf.go

	anomaly *anomalyState // anomaly.go
}

// Limits are the connection-level settings of the data listeners. They take
// effect at start; a reload that changes them reports that a restart is needed.
type Limits struct {
	ReadTimeout, WriteTimeout, IdleTimeout, ShutdownGrace, HeadTimeout time.Duration
	MaxRequestBodyBytes, MaxHeaderBytes, Concurrency                   int
}

// Route is one compiled route: its stages in the order they run.
type Route struct {
	Name    string
	Stages  []pipeline.Stage
	Metrics *reqmetrics.Route
	// MatrixParams lets paths carry ';' parameters on this route; the
	// route was matched on the path with them cut (pathnorm.CutParams).
	MatrixParams bool
	// AllowGetBody lets GET requests carry a body to this route.
	AllowGetBody bool
	// MaxBodyBytes is the route's own body limit (0: the server's),
	// applied before the body is read.
	MaxBodyBytes int
	// Anomaly observes the route's finished requests; nil: detection off.
	Anomaly *anomaly.Route
}

type compiledPool struct {
	pool *proxy.Pool
	cfg  proxy.PoolConfig // compared on reload to reuse unchanged pools
}

// Options carries run-time facts the configuration refers to.
type Options struct {
	// Enforcer drops traffic from banned and blocklisted sources (XDP, or
	// the user-space fallback); rate limiting bans burst offenders through it.
	// Nil when the caller runs without one (tests).
	Enforcer enforce.Enforcer
	// BanDefault is how long a ban lasts when nothing more specific is set.
	BanDefault time.Duration
	// DemoAddr is where the built-in demo upstream listens; it replaces the
	// target config.DemoTarget.
	DemoAddr string
	// Events receives config reload events, and through Holder.Events the
	// management API's; nil: none.
	Events *secevent.Log
	// Tracing is true when the gateway exports spans: only then are the
	// traces it starts sampled (tracing.sample_ratio, which applies on
	// reload; the endpoint itself needs a restart).
	Tracing bool
	// CheckOnly compiles for check-config: nothing in management.state_dir
	// is read, set aside or written (a running gatewayd owns it).
	CheckOnly bool
}

// UsesDemo reports whether cfg refers to the built-in demo upstream.
func UsesDemo(cfg *config.Config) bool {
	for _, u := range cfg.Upstreams {
		for _, t := range u.Targets {
			if t == config.DemoTarget {
				return true
			}
		}
	}
	return false
}

// Compile builds a policy from l. Upstream pools whose settings did not change
// since prev are carried over with their connections and health state; new
// pools are started. On error nothing is left running.
func Compile(l *config.Loaded, prev *Policy, opt Options) (*Policy, error) {
	c := l.Config
	p := &Policy{
		Source:   l.Source,
		Digest:   l.Digest,
		LoadedAt: time.Now(),
		Config:   c,
		Limits:   limitsOf(c.Server),
		Unrouted: reqmetrics.ForRoute(""),
		PathMode: pathModeOf(c.Server),
		pools:    map[string]*compiledPool{},
	}
	// Every problem in one report, as check-config promises: the steps
	// that do not depend on each other all run, and their errors join.
	var errs []error
	conns, err := connsOf(c)
	if err != nil {
		errs = append(errs, fmt.Errorf("compile server: %w", err))
	}
	p.Conns = conns
	// The header stage reads client addresses through trusted proxies and
	// the rate limits never ban them or allowlisted sources: parsed once.
	trusted, err := parsePrefixes(c.Headers.TrustedProxies)
	if err != nil {
		errs = append(errs, fmt.Errorf("compile headers.trusted_proxies: %w", err))
	}
	if p.Allowlist, err = parsePrefixes(c.XDP.Allowlist); err != nil {
		errs = append(errs, fmt.Errorf("compile xdp.allowlist: %w", err))
	}
	hs, err := compileHeaders(c, opt, trusted)
	if err != nil {
		errs = append(errs, fmt.Errorf("compile headers: %w", err))
	}
	p.Headers = hs
	for i := range c.Listeners {
		tc, err := ListenerTLSConfig(c, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("compile: %w", err))
		}
		p.listenerTLS = append(p.listenerTLS, tc)
	}
	if c.Management.TLSCertFile != "" {
		if p.managementTLS, err = ManagementTLSConfig(c.Management); err != nil {
			errs = append(errs, fmt.Errorf("compile: %w", err))
		}
	}

	var prevAuth *authState
	var prevRate *rateState
	var prevWAF *wafState
	var prevAnomaly *anomalyState
	if prev != nil {
		prevAuth, prevRate, prevWAF, prevAnomaly = prev.auth, prev.rate, prev.waf, prev.anomaly
	}
	var created []*proxy.Pool
	fail := func(err error) (*Policy, error) {
		for _, pool := range created {
			pool.Close()
		}
		if p.auth != nil {
			p.auth.release(prevAuth)
		}
		if p.rate != nil {
			p.rate.release(prevRate)
		}
		p.waf.release()
		p.anomaly.failed()
		return nil, err
	}
	// The routes' stages need these: a failure here ends the compile, with
	// what was found before it.
	if p.auth, err = compileAuth(c, prevAuth, opt); err != nil {
		return fail(errors.Join(append(errs, fmt.Errorf("compile auth: %w", err))...))
	}
	if p.rate, err = compileRateLimit(c, prevRate, opt, trusted, p.Allowlist); err != nil {
		return fail(errors.Join(append(errs, fmt.Errorf("compile rate_limit: %w", err))...))
	}
	if p.waf, err = compileWAF(c, prevWAF); err != nil {
		return fail(errors.Join(append(errs, err)...))
	}
	if p.anomaly, err = compileAnomaly(c, prevAnomaly, opt); err != nil {
		return fail(errors.Join(append(errs, err)...))
	}
	p.UnroutedAnomaly = p.anomaly.route("")
	for i, u := range c.Upstreams {
		pc, err := poolConfig(u, opt)
		if err != nil {
			errs = append(errs, fmt.Errorf("compile upstreams[%d]: %w", i, err))
			continue
		}
		if prev != nil {
			if old, ok := prev.pools[u.Name]; ok && reflect.DeepEqual(old.cfg, pc) {
				p.pools[u.Name] = old
				continue
			}
		}
		pool, err := proxy.NewPool(pc)
		if err != nil {
			errs = append(errs, fmt.Errorf("compile upstreams[%d]: %w", i, err))
			continue
		}
		created = append(created, pool)
		p.pools[u.Name] = &compiledPool{pool: pool, cfg: pc}
	}

	specs := make([]router.Spec[*Route], 0, len(c.Routes))
	for i := range c.Routes {
		r := &c.Routes[i]
		if p.pools[r.Upstream] == nil {
			continue // its upstream did not compile: reported above
		}
		stages, err := routeStages(p, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("compile routes[%d]: %w", i, err))
			continue
		}
		specs = append(specs, router.Spec[*Route]{
			Name:            r.Name,
			Host:            r.Host,
			Methods:         r.Methods,
			Path:            r.Path,
			Kind:            matchKind(r.Match),
			CaseInsensitive: r.CaseInsensitive,
			Value: &Route{
				Name:         r.Name,
				Stages:       stages,
				Metrics:      reqmetrics.ForRoute(r.Name),
				MatrixParams: r.MatrixParams,
				AllowGetBody: r.AllowGetBody,
				MaxBodyBytes: r.Validate.MaxBodyBytes,
			},
		})
	}
	table, err := router.New(specs)
	if err != nil {
		errs = append(errs, fmt.Errorf("compile routes: %w", err))
	}
	if len(errs) > 0 {
		return fail(errors.Join(errs...))
	}
	for _, s := range specs {
		// Only a policy that compiled whole registers its routes with the
		// shared detectors, whose state outlives it.
		s.Value.Anomaly = p.anomaly.route(s.Name)
	}
	p.Routes = table
	for _, s := range specs {
		// The proxy answers an OPTIONS that Max-Forwards stops with the
		// methods of its route's path, known once every route is.
		if ps, ok := s.Value.Stages[len(s.Value.Stages)-1].(*proxy.Stage); ok {
			ps.Allow = table.Allow(s.Name)
		}
	}
	for i := range c.Routes {
		p.RouteBodyLimits = p.RouteBodyLimits || c.Routes[i].Validate.MaxBodyBytes > 0
	}
	for _, pool := range created {
		pool.Start()
	}
	return p, nil
}

// routeStages declares, in one place, the order of a route's stages: login
// protection first (a locked-out client is refused before it may try a
// credential, and it sees the auth stage's failures), then authentication,
// then rate limits (they key on the authenticated identity), then request
// validation, then the WAF (the expensive checks run only for requests
// every cheap check let through), then the proxy.
func routeStages(p *Policy, r *config.Route) ([]pipeline.Stage, error) {
	login, limits, err := p.rate.routeStages(r)
	if err != nil {
		return nil, err
	}
	guard, err := p.rate.guardStages(r)
	if err != nil {
		return nil, err
	}
	auth, err := p.auth.routeStages(r)
	if err != nil {
		return nil, err
	}
	valid, err := validateStage(r, &p.Warnings)
	if err != nil {
		return nil, err
	}
	filter, err := p.waf.routeStage(p.Config, r)
	if err != nil {
		return nil, err
	}
	stages := make([]pipeline.Stage, 0, len(login)+len(guard)+len(auth)+len(limits)+3)
	stages = append(stages, login...)
	stages = append(stages, guard...)
	stages = append(stages, auth...)
	stages = append(stages, limits...)
	if valid != nil {
		stages = append(stages, valid)
	}
	if filter != nil {
		stages = append(stages, filter)
	}
	return append(stages, &proxy.Stage{Pool: p.pools[r.Upstream].pool, StripPrefix: r.StripPrefix, FoldCase: r.CaseInsensitive}), nil
}

// Pool returns the named upstream pool, for status reporting.
func (p *Policy) Pool(name string) *proxy.Pool {
	if cp, ok := p.pools[name]; ok {
		return cp.pool
	}
	return nil
}

// PoolNames lists the upstream pools in configuration order.
func (p *Policy) PoolNames() []string {
	names := make([]string, 0, len(p.Config.Upstreams))
	for _, u := range p.Config.Upstreams {
		names = append(names, u.Name)
	}
	return names
}

// release closes the pools of p that next does not carry over. In-flight
// requests on them still finish: closing stops health checks and idle
// connections only.
func (p *Policy) release(next *Policy) {
	var nextAuth *authState
	var nextRate *rateState
	var nextAnomaly *anomalyState
	if next != nil {
		nextAuth, nextRate, nextAnomaly = next.auth, next.rate, next.anomaly
	}
	p.auth.release(nextAuth)
	p.rate.release(nextRate)
	p.anomaly.release(nextAnomaly)
	p.waf.release()
	for name, cp := range p.pools {
		if next != nil {
			if n, ok := next.pools[name]; ok && n == cp {
				continue
			}
		}
		cp.pool.Close()
	}
}

// Close stops everything p started.
func (p *Policy) Close() { p.release(nil) }

func pathModeOf(s config.Server) pathnorm.Mode {
	if s.AllowAmbiguousPaths {
		return pathnorm.Legacy
	}
	return 0
}

func limitsOf(s config.Server) Limits {
	return Limits{
		ReadTimeout: s.ReadTimeout, WriteTimeout: s.WriteTimeout, IdleTimeout: s.IdleTimeout,
		ShutdownGrace: s.ShutdownGrace, HeadTimeout: s.RequestHeadTimeout, MaxRequestBodyBytes: s.MaxRequestBodyBytes,
		MaxHeaderBytes: s.MaxHeaderBytes, Concurrency: s.Concurrency,
	}
}

func connsOf(c *config.Config) (*connguard.Options, error) {
	s := c.Server
	o := &connguard.Options{
		MaxPerSource:   max(*s.MaxConnsPerIP, 0),
		MaxPerTrusted:  s.MaxConnsPerTrustedProxy,
		IPv6Prefix:     c.RateLimit.IPv6Prefix,
		LenientFraming: s.LenientFraming,
	}
	for i, t := range c.Headers.TrustedProxies {
		pfx, err := config.ParsePrefix(t)
		if err != nil {
			return nil, fmt.Errorf("headers.trusted_proxies[%d]: %w", i, err)
		}
		o.Trusted = append(o.Trusted, pfx)
	}
	return o, nil
}

func matchKind(m string) router.MatchKind {
	if m == config.MatchExact {
		return router.Exact
	}
	return router.Prefix
}

// parsePrefixes parses configured addresses or CIDRs (validated at load:
// an error here is a bug).
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		pfx, err := config.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, pfx)
	}
	return out, nil
}

func compileHeaders(c *config.Config, opt Options, trusted []netip.Prefix) (*headers.Stage, error) {
	h := c.Headers
	opts := headers.Options{
		RequestIDHeader:       h.RequestIDHeader,
		RemoveResponseHeaders: h.RemoveResponse,
		CredentialHeaders:     []string{c.Auth.JWT.Header, c.Auth.APIKeys.Header},
		Spoofable:             h.Spoofable,
		TrustedSpoofable:      h.TrustedSpoofable,
	}
	if opt.Tracing { // no export: the gateway samples nothing
		opts.SampleRatio = *c.Tracing.SampleRatio
	}
	if c.Auth.JWT.Cookie != "" {
		opts.CredentialCookies = []string{c.Auth.JWT.Cookie}
	}
	opts.TrustedProxies = trusted
	if *h.SecurityHeaders {
		opts.SetResponseHeaders = headers.DefaultSecurityHeaders()
	}
	for name, val := range h.SetResponse {
		opts.SetResponseHeaders = append(opts.SetResponseHeaders, [2]string{name, val})
	}
	return headers.New(opts)
}

func poolConfig(u config.Upstream, opt Options) (proxy.PoolConfig, error) {
	pc := proxy.PoolConfig{
		Name:              u.Name,
		Balance:           proxy.RoundRobin,
		ConnectTimeout:    u.ConnectTimeout,
		ReadTimeout:       u.ReadTimeout,
		WriteTimeout:      u.WriteTimeout,
		IdleConnTimeout:   u.IdleTimeout,
		MaxConnsPerTarget: u.MaxConnsPerTarget,
		Passive:           proxy.Passive{ConsecutiveFailures: u.Passive.Failures(), EjectFor: u.Passive.EjectFor},
		PipelineConns:     u.Pipeline.Conns,
		PipelinePending:   u.Pipeline.MaxPending,
	}
	if u.Balance == config.BalanceLeastConn {
		pc.Balance = proxy.LeastConn
	}
	for _, t := range u.Targets {
		if t == config.DemoTarget {
			if opt.DemoAddr == "" {
				return pc, errors.New("target " + config.DemoTarget + ": the demo upstream is not running")
			}
			t = opt.DemoAddr
		}
		pc.Targets = append(pc.Targets, t)
	}
	if hc := u.HealthCheck; hc != nil {
		pc.HealthCheck = &proxy.HealthCheck{
			Path: hc.Path, Host: hc.Host, Interval: hc.Interval, Timeout: hc.Timeout,
			HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold,
			ExpectStatus: hc.ExpectStatus,
		}
	}
	return pc, nil
}
