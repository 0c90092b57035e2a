package login

import (
	"fmt"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth"
	"github.com/edgeguard/edgeguard/dataplane/auth/certauth"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/keytable"
)

// GuardTable is the store table of the auth-failure guard, shared by every
// route it runs on.
const GuardTable = "authguard/ip"

// GuardConfig is the auth-failure guard of one route.
type GuardConfig struct {
	Route         string
	MaxFailures   int
	FailureWindow time.Duration
	Lockout       time.Duration
	MaxKeys       int
	IPv6Prefix    int
}

// Guard runs before authentication on routes that are not login
// endpoints. Every credential the gateway refuses (401) counts against the
// client; after MaxFailures within FailureWindow the client gets 429 with
// Retry-After for Lockout, before any token or signature is checked, so a
// flood of forged credentials costs a table lookup each instead of a
// signature verification. The success path costs one lookup and no write.
type Guard struct {
	store   *ratelimit.Store
	ips     *keytable.Table[state, *state]
	c       Stage // the failure accounting (count, fail); only its settings are used
	v6bits  int
	failed  *metrics.Counter
	blocked *metrics.Counter
}

var (
	_ pipeline.Stage            = (*Guard)(nil)
	_ pipeline.ResponseObserver = (*Guard)(nil)
)

// NewGuard compiles c over the store's guard table.
func NewGuard(store *ratelimit.Store, c GuardConfig) (*Guard, error) {
	if c.MaxFailures < 1 || c.MaxFailures > maxFailures || c.FailureWindow <= 0 || c.Lockout <= 0 {
		return nil, fmt.Errorf("compile auth failure guard %s: bad settings %+v", c.Route, c)
	}
	ips, err := ratelimit.TableOf[state](store, GuardTable, c.MaxKeys)
	if err != nil {
		return nil, err
	}
	g := &Guard{store: store, ips: ips, v6bits: c.IPv6Prefix}
	g.c.max, g.c.window, g.c.lockout = uint64(c.MaxFailures), int64(c.FailureWindow), int64(c.Lockout)
	g.c.horizon = max(g.c.window, g.c.lockout)
	p := `edgeguard_auth_guard_total{route=` + strconv.Quote(c.Route) + `,result="`
	g.failed = metrics.GetOrCreateCounter(p + `failure"}`)
	g.blocked = metrics.GetOrCreateCounter(p + `locked"}`)
	return g, nil
}

// Name implements pipeline.Stage.
func (g *Guard) Name() string { return "auth_failure_guard" }

// Handle refuses a client locked out for failed authentications.
func (g *Guard) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	s := g.ips.Get(g.store.IPKey(r.ClientIP, g.v6bits))
	if s == nil {
		return pipeline.Continue
	}
	now := g.store.Now(r.Start)
	if _, until := g.c.failures(s, now); until > 0 {
		v := pipeline.Deny(ctx, r, fasthttp.StatusTooManyRequests, pipeline.ReasonAuthLocked)
		r.Detail = "auth_failures"
		g.blocked.Inc()
		setRetryAfter(ctx, until-now)
		return v
	}
	return pipeline.Continue
}

// ObserveResponse counts the gateway's own authentication failures:
// credentials it checked and refused. A request that sent none (no token
// or key, no client certificate) cost no check and is often a client
// waiting for the challenge; counting those would lock out everyone behind
// one NAT.
func (g *Guard) ObserveResponse(_ *fasthttp.RequestCtx, r *pipeline.Request) {
	if r.Reason != pipeline.ReasonUnauthenticated || r.Detail == auth.ErrMissing.Error() || r.Detail == certauth.ErrNoCert.Error() {
		return
	}
	now := g.store.Now(r.Start)
	g.failed.Inc()
	g.c.fail(g.ips.GetOrInsert(g.store.IPKey(r.ClientIP, g.v6bits), now), now)
}
