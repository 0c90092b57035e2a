// Package login protects authentication endpoints against password
// guessing and credential stuffing. It counts failed logins per client IP
// and per account (a field of the request: query, JSON, form or multipart
// body, read as login frameworks read it), delays each further
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
	"bytes"
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
	for i, n := range c.AccountFields {
		if n == "" || len(n) > maxFieldName {
			return nil, fmt.Errorf("compile login protection %s: account_fields[%d]: must be 1 to %d bytes, got %d", c.Route, i, maxFieldName, len(n))
		}
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
//
// pending counts the attempts in flight the same way (count, time of the
// latest). Handle refuses an attempt when failures plus attempts in flight
// reach the limit, so N concurrent guesses cannot slip past a lockout at N
// failures; ObserveResponse ends the attempt. An attempt whose outcome is
// never seen stops counting after pendingTTL.
type state struct {
	w       atomic.Uint64
	pending atomic.Uint64
	idleAt  atomic.Int64
	// accounts (client entries only) is the account key every confirmed
	// failure of the current window was for, noAccount for failures that
	// named none, or mixedAccounts once they differ.
	accounts atomic.Uint64
}

const (
	countShift  = 48
	timeMask    = 1<<countShift - 1
	maxFailures = 1<<16 - 1
	nsPerMs     = int64(time.Millisecond)

	noAccount     = 1
	mixedAccounts = 2
	// pendingTTL outlasts any upstream timeout: an attempt in flight longer
	// than this no longer holds a place.
	pendingTTL = int64(2 * time.Minute)
)

// IdleAt implements keytable.State. An entry with attempts in flight is
// not idle until they time out, or a sweep would let more run at once.
func (s *state) IdleAt() int64 {
	var at int64
	if s.w.Load() != 0 {
		at = s.idleAt.Load()
	}
	if p := s.pending.Load(); p>>countShift != 0 {
		_, t := unpack(p)
		at = max(at, t+pendingTTL)
	}
	return at
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
		if n == 0 {
			s.accounts.Store(0) // a new window: forget whose failures they were
		}
		n = min(n+1, maxFailures)
		if s.w.CompareAndSwap(old, n<<countShift|uint64(now/nsPerMs)&timeMask) {
			s.idleAt.Store(now + st.horizon + int64(time.Second))
			return
		}
	}
}

// begin counts one attempt in flight on s unless failures plus attempts in
// flight already reach the limit; it reports whether it did.
func (st *Stage) begin(s *state, failures uint64, now int64) bool {
	for {
		old := s.pending.Load()
		n, t := unpack(old)
		if now-t >= pendingTTL {
			n = 0
		}
		// Up to the failures left before a lockout may be in flight; after
		// a lockout ended, one at a time (its failure locks again).
		if n >= max(st.max-min(failures, st.max), 1) {
			return false
		}
		if s.pending.CompareAndSwap(old, (n+1)<<countShift|uint64(now/nsPerMs)&timeMask) {
			return true
		}
	}
}

// end takes one attempt off s's attempts in flight.
func end(s *state) {
	if s == nil {
		return
	}
	for {
		old := s.pending.Load()
		n := old >> countShift
		if n == 0 {
			return
		}
		if s.pending.CompareAndSwap(old, (n-1)<<countShift|old&timeMask) {
			return
		}
	}
}

// noteAccount records which account a confirmed failure of a client was for.
func noteAccount(s *state, key uint64) {
	for {
		old := s.accounts.Load()
		next := key
		if old != 0 && old != key {
			next = mixedAccounts
		}
		if old == next || s.accounts.CompareAndSwap(old, next) {
			return
		}
	}
}

var hdrRetryAfter = []byte("Retry-After")

// Handle refuses attempts from a locked-out client or for a locked-out
// account, attempts that would bring failures plus attempts in flight past
// the limit, and bodies that name the account ambiguously; it delays the
// others by their failures so far.
func (st *Stage) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	now := st.store.Now(r.Start)
	acKey, l := st.accountKey(ctx)
	if l == ambiguous {
		v := pipeline.Deny(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonLoginAmbiguous)
		r.Detail = "login_account_ambiguous"
		st.m.ambiguous.Inc()
		return v
	}
	ip := st.ips.GetOrInsert(st.store.IPKey(r.ClientIP, st.v6bits), now)
	ipN, ipUntil := st.failures(ip, now)
	var ac *state
	var acN uint64
	var acUntil int64
	if l == found {
		ac = st.accounts.GetOrInsert(acKey, now)
		acN, acUntil = st.failures(ac, now)
	}
	if until := max(ipUntil, acUntil); until > 0 {
		return st.locked(ctx, r, acUntil >= ipUntil, until-now)
	}
	if !st.begin(ip, ipN, now) {
		return st.locked(ctx, r, false, int64(time.Second))
	}
	if ac != nil && !st.begin(ac, acN, now) {
		end(ip)
		return st.locked(ctx, r, true, int64(time.Second))
	}
	if n := max(ipN, acN); n > 0 && st.step > 0 {
		if d := min(int64(n)*st.step, st.cap); d > 0 {
			st.m.delayed.Inc()
			if !st.store.Wait(time.Duration(d), st.sleep) {
				// Too many requests wait already: refuse rather than let
				// this guess through undelayed.
				end(ip)
				end(ac)
				v := pipeline.Deny(ctx, r, fasthttp.StatusTooManyRequests, pipeline.ReasonLoginLocked)
				r.Detail = "login_delay_busy"
				st.m.busy.Inc()
				setRetryAfter(ctx, d)
				return v
			}
		}
	}
	return pipeline.Continue
}

// locked refuses an attempt with 429 and Retry-After.
func (st *Stage) locked(ctx *fasthttp.RequestCtx, r *pipeline.Request, account bool, wait int64) pipeline.Verdict {
	v := pipeline.Deny(ctx, r, fasthttp.StatusTooManyRequests, pipeline.ReasonLoginLocked)
	if account {
		r.Detail = "login_locked_account"
		st.m.lockedAccount.Inc()
	} else {
		r.Detail = "login_locked_client"
		st.m.lockedClient.Inc()
	}
	setRetryAfter(ctx, wait)
	return v
}

func setRetryAfter(ctx *fasthttp.RequestCtx, wait int64) {
	secs := max((wait+int64(time.Second)-1)/int64(time.Second), 1)
	var buf [20]byte
	ctx.Response.Header.SetCanonical(hdrRetryAfter, strconv.AppendInt(buf[:0], secs, 10))
}

// ObserveResponse ends the attempt Handle let through and counts its
// outcome: 401/403 from the upstream or the gateway's own authentication
// failure are failures; 2xx/3xx a success, which clears the account's
// failures, and the client's too when all of them were for that account (a
// user who mistyped their own password) but not otherwise, so that logging
// into one's own account does not wipe failures against others. Other
// outcomes (a refusal by a later stage, an upstream error) count as neither,
// and so does a 2xx/3xx to GET, HEAD or OPTIONS: the login page answers
// GET /login?username=victim with 200 whatever the account, which must not
// wipe victim's failures.
func (st *Stage) ObserveResponse(ctx *fasthttp.RequestCtx, r *pipeline.Request) {
	if r.Reason == pipeline.ReasonLoginLocked || r.Reason == pipeline.ReasonLoginAmbiguous {
		return // refused by Handle itself: no attempt began
	}
	now := st.store.Now(r.Start)
	ip := st.ips.Get(st.store.IPKey(r.ClientIP, st.v6bits))
	acKey, l := st.accountKey(ctx)
	var ac *state
	if l == found {
		ac = st.accounts.Get(acKey)
	}
	end(ip)
	end(ac)

	status := ctx.Response.StatusCode()
	switch {
	case r.Reason == pipeline.ReasonUnauthenticated,
		r.Reason == pipeline.ReasonNone && (status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden):
		st.m.failures.Inc()
		if r.Reason == pipeline.ReasonNone {
			r.Notice = pipeline.NoticeLoginFailed
		}
		if ip == nil { // evicted meanwhile
			ip = st.ips.GetOrInsert(st.store.IPKey(r.ClientIP, st.v6bits), now)
		}
		st.fail(ip, now)
		if l != found {
			acKey = noAccount
		}
		noteAccount(ip, acKey)
		if l == found {
			if ac == nil {
				ac = st.accounts.GetOrInsert(acKey, now)
			}
			st.fail(ac, now)
		}
	case r.Reason == pipeline.ReasonNone && status >= 200 && status < 400 && !readOnly(ctx):
		st.m.successes.Inc()
		if ac != nil {
			ac.w.Store(0)
		}
		if ip != nil && l == found && ip.accounts.Load() == acKey {
			ip.w.Store(0)
		}
	}
}

// accountKey hashes the account named in the request body, if any.
func (st *Stage) accountKey(ctx *fasthttp.RequestCtx) (uint64, lookup) {
	var buf [maxAccount]byte
	name, l := st.fields.account(buf[:0], request{
		contentType: ctx.Request.Header.ContentType(),
		body:        ctx.Request.Body(),
		query:       ctx.Request.URI().QueryString(),
		encoded:     encoded(ctx.Request.Header.ContentEncoding()),
	})
	if l != found || len(name) == 0 {
		return 0, l &^ found // an empty name is no account; ambiguity stays
	}
	return st.store.FoldedKey(name), found
}

var identity = []byte("identity")

// readOnly reports whether the request's method cannot be a login.
func readOnly(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsGet() || ctx.IsHead() || ctx.IsOptions()
}

// encoded reports whether a Content-Encoding header transforms the body.
func encoded(ce []byte) bool {
	ce = bytes.TrimSpace(ce)
	return len(ce) > 0 && !bytes.EqualFold(ce, identity)
}

type counters struct {
	failures, successes, delayed, lockedClient, lockedAccount, ambiguous, busy *metrics.Counter
}

func newCounters(route string) counters {
	p := `edgeguard_login_attempts_total{route=` + strconv.Quote(route) + `,result="`
	return counters{
		failures:      metrics.GetOrCreateCounter(p + `failed"}`),
		successes:     metrics.GetOrCreateCounter(p + `succeeded"}`),
		delayed:       metrics.GetOrCreateCounter(p + `delayed"}`),
		lockedClient:  metrics.GetOrCreateCounter(p + `locked_client"}`),
		lockedAccount: metrics.GetOrCreateCounter(p + `locked_account"}`),
		ambiguous:     metrics.GetOrCreateCounter(p + `ambiguous"}`),
		busy:          metrics.GetOrCreateCounter(p + `busy"}`),
	}
}
