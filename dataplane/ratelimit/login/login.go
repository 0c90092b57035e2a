// Package login protects authentication endpoints against password
// guessing and credential stuffing. It counts failed logins per client IP
// and per account (a field of the request body), delays each further
// attempt progressively, locks the client or account out with 429 and
// Retry-After after too many failures, and forgets the failures when a
// login succeeds. A failure is an upstream 401 or 403, or the gateway's
// own authentication failure on the route.
//
// Counters live in the rate limiter's Store, so they survive reloads. The
// package must never log or keep account names or credentials (only keyed
// hashes of account names), nor allocate per request in steady state.
package login

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/keytable"
)

// Table ids in the store: one per key kind, shared by every login route.
const (
	IPTable      = "login/ip"
	AccountTable = "login/account"
)

// Config is the login protection of one route.
type Config struct {
	Route string
	// AccountFields name the body field holding the account: a dotted
	// JSON path ("user.name") or, for form bodies, a field name.
	AccountFields []string
	// MaxFailures failed attempts lock the client or account out.
	MaxFailures int
	// FailureWindow: failures older than this (since the last one) are forgotten.
	FailureWindow time.Duration
	// Lockout is how long a lockout lasts from the failure that caused it.
	Lockout time.Duration
	// DelayStep is added to the delay of a new attempt per recorded
	// failure, up to MaxDelay.
	DelayStep, MaxDelay time.Duration
	// MaxKeys bounds each table (clients, accounts).
	MaxKeys int
	// IPv6Prefix aggregates IPv6 clients (as the rate limiter does).
	IPv6Prefix int
	// Sleep waits out a delay; nil means time.Sleep (parks the goroutine).
	Sleep func(time.Duration)
}

// Stage is the login protection of one route. It runs before the rate
// limits of the route: a locked-out client consumes no quota.
type Stage struct {
	store     *ratelimit.Store
	ips       *keytable.Table[state, *state]
	accounts  *keytable.Table[state, *state]
	fields    fields
	max       uint64
	window    int64
	lockout   int64
	step, cap int64
	horizon   int64
	v6bits    int
	sleep     func(time.Duration)
	m         counters
}

var (
	_ pipeline.Stage            = (*Stage)(nil)
	_ pipeline.ResponseObserver = (*Stage)(nil)
)

// NewStage compiles c over the store's login tables.
func NewStage(store *ratelimit.Store, c Config) (*Stage, error) {
	if c.MaxFailures < 1 || c.MaxFailures > maxFailures || c.FailureWindow <= 0 || c.Lockout <= 0 || c.DelayStep < 0 || c.MaxDelay < 0 {
		return nil, fmt.Errorf("compile login protection %s: bad settings %+v", c.Route, c)
	}
	if len(c.AccountFields) == 0 {
		return nil, errors.New("compile login protection " + c.Route + ": no account fields")
	}
	ips, err := ratelimit.TableOf[state](store, IPTable, c.MaxKeys)
	if err != nil {
		return nil, err
	}
	accounts, err := ratelimit.TableOf[state](store, AccountTable, c.MaxKeys)
	if err != nil {
		return nil, err
	}
	st := &Stage{
		store: store, ips: ips, accounts: accounts, fields: compileFields(c.AccountFields),
		max: uint64(c.MaxFailures), window: int64(c.FailureWindow), lockout: int64(c.Lockout),
		step: int64(c.DelayStep), cap: int64(c.MaxDelay), v6bits: c.IPv6Prefix, sleep: c.Sleep,
		m: newCounters(c.Route),
	}
	st.horizon = max(st.window, st.lockout)
	if st.sleep == nil {
		st.sleep = time.Sleep
	}
	return st, nil
}

// Name implements pipeline.Stage.
func (st *Stage) Name() string { return "login_protection" }

// state is one client's or account's failed logins: a single word packing
// the failure count (top 16 bits) and the time of the last failure in ms
// of the store clock (low 48 bits: 8900 years), plus when it may be dropped.
type state struct {
	w      atomic.Uint64
	idleAt atomic.Int64
}

const (
	countShift  = 48
	timeMask    = 1<<countShift - 1
	maxFailures = 1<<16 - 1
	nsPerMs     = int64(time.Millisecond)
)

// IdleAt implements keytable.State.
func (s *state) IdleAt() int64 {
	if s.w.Load() == 0 {
		return 0
	}
	return s.idleAt.Load()
}

func unpack(w uint64) (failures uint64, last int64) {
	return w >> countShift, int64(w&timeMask) * nsPerMs
}

// failures returns the failures that still count at now, and whether they
// lock the key out (with the time the lockout ends).
func (st *Stage) failures(s *state, now int64) (n uint64, lockedUntil int64) {
	if s == nil {
		return 0, 0
	}
	return st.count(s.w.Load(), now)
}

func (st *Stage) count(w uint64, now int64) (n uint64, lockedUntil int64) {
	if w == 0 {
		return 0, 0
	}
	n, last := unpack(w)
	if n >= st.max && now < last+st.lockout {
		return n, last + st.lockout
	}
	if now >= last+st.window {
		return 0, 0
	}
	return n, 0
}

// fail records one failure at now.
func (st *Stage) fail(s *state, now int64) {
	for {
		old := s.w.Load()
		n, _ := st.count(old, now)
		n = min(n+1, maxFailures)
		if s.w.CompareAndSwap(old, n<<countShift|uint64(now/nsPerMs)&timeMask) {
			s.idleAt.Store(now + st.horizon + int64(time.Second))
			return
		}
	}
}

var hdrRetryAfter = []byte("Retry-After")

// Handle refuses attempts from a locked-out client or for a locked-out
// account, and delays the others by their failures so far.
func (st *Stage) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	now := st.store.Now(r.Start)
	ipN, ipUntil := st.failures(st.ips.Get(st.store.IPKey(r.ClientIP, st.v6bits)), now)
	var acN uint64
	var acUntil int64
	if key, ok := st.accountKey(ctx); ok {
		acN, acUntil = st.failures(st.accounts.Get(key), now)
	}
	if until := max(ipUntil, acUntil); until > 0 {
		v := pipeline.Deny(ctx, r, fasthttp.StatusTooManyRequests, pipeline.ReasonLoginLocked)
		if acUntil >= ipUntil {
			r.Detail = "login_locked_account"
			st.m.lockedAccount.Inc()
		} else {
			r.Detail = "login_locked_client"
			st.m.lockedClient.Inc()
		}
		secs := max((until-now+int64(time.Second)-1)/int64(time.Second), 1)
		var buf [20]byte
		ctx.Response.Header.SetCanonical(hdrRetryAfter, strconv.AppendInt(buf[:0], secs, 10))
		return v
	}
	if n := max(ipN, acN); n > 0 && st.step > 0 {
		d := min(int64(n)*st.step, st.cap)
		if d > 0 {
			st.m.delayed.Inc()
			st.store.Wait(time.Duration(d), st.sleep)
		}
	}
	return pipeline.Continue
}

// ObserveResponse counts the outcome of an attempt that reached a verdict
// on credentials: 401/403 from the upstream or the gateway's own
// authentication failure count as failures, 2xx/3xx as success (which
// clears the client's and the account's failures). The gateway's other
// refusals (rate limits, lockouts) and upstream errors count as neither.
func (st *Stage) ObserveResponse(ctx *fasthttp.RequestCtx, r *pipeline.Request) {
	status := ctx.Response.StatusCode()
	var failed bool
	switch {
	case r.Reason == pipeline.ReasonUnauthenticated:
		failed = true
	case r.Reason != pipeline.ReasonNone:
		return
	case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
		failed = true
	case status >= 200 && status < 400:
	default:
		return
	}
	now := st.store.Now(r.Start)
	ipKey := st.store.IPKey(r.ClientIP, st.v6bits)
	acKey, hasAccount := st.accountKey(ctx)
	if failed {
		st.m.failures.Inc()
		st.fail(st.ips.GetOrInsert(ipKey, now), now)
		if hasAccount {
			st.fail(st.accounts.GetOrInsert(acKey, now), now)
		}
		return
	}
	st.m.successes.Inc()
	if s := st.ips.Get(ipKey); s != nil {
		s.w.Store(0)
	}
	if hasAccount {
		if s := st.accounts.Get(acKey); s != nil {
			s.w.Store(0)
		}
	}
}

// accountKey hashes the account named in the request body, if any.
func (st *Stage) accountKey(ctx *fasthttp.RequestCtx) (uint64, bool) {
	var buf [maxAccount]byte
	name, ok := st.fields.account(buf[:0], ctx.Request.Header.ContentType(), ctx.Request.Body())
	if !ok || len(name) == 0 {
		return 0, false
	}
	return st.store.FoldedKey(name), true
}

type counters struct {
	failures, successes, delayed, lockedClient, lockedAccount *metrics.Counter
}

func newCounters(route string) counters {
	p := `edgeguard_login_attempts_total{route=` + strconv.Quote(route) + `,result="`
	return counters{
		failures:      metrics.GetOrCreateCounter(p + `failed"}`),
		successes:     metrics.GetOrCreateCounter(p + `succeeded"}`),
		delayed:       metrics.GetOrCreateCounter(p + `delayed"}`),
		lockedClient:  metrics.GetOrCreateCounter(p + `locked_client"}`),
		lockedAccount: metrics.GetOrCreateCounter(p + `locked_account"}`),
	}
}
