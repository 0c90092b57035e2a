package ratelimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// MaxLimitsPerRoute bounds the limits one route may charge.
const MaxLimitsPerRoute = 8

// StageConfig is one route's rate limiting.
type StageConfig struct {
	Route  string
	Limits []*Limit // charged in order; at most MaxLimitsPerRoute
	// Headers adds X-RateLimit-* and RateLimit/RateLimit-Policy headers to
	// responses. Off, clients learn nothing about the limits (429s still
	// carry Retry-After).
	Headers bool
	// IPv6Prefix is how many leading bits of an IPv6 client address form
	// its key (64: a whole /64 is one client).
	IPv6Prefix int
	// BanDuration is how long a burst offender is banned.
	BanDuration time.Duration
	// Enforcer applies bans (XDP or the accept-time filter); nil: burst
	// offenders only lose their connection.
	Enforcer enforce.Enforcer
	// Sleep waits out a delay; nil means time.Sleep, which parks the
	// goroutine on a runtime timer and holds no OS thread. Tests inject it.
	Sleep func(time.Duration)
	// Logger receives one event per ban; nil means slog.Default().
	Logger *slog.Logger
	// TrustedProxies are peers whose connections carry other clients'
	// requests; Allowlist the sources no ban ever drops (xdp.allowlist). A
	// burst from either gets a 429, never a closed connection or a ban.
	TrustedProxies, Allowlist []netip.Prefix
}

// Stage is the rate-limit stage of one route.
type Stage struct {
	store   *Store
	route   string
	limits  []stageLimit
	headers bool
	v6bits  int
	// banBits is how much of an IPv6 source a ban covers: the network the
	// limits count it by (v6bits), but never wider than what the enforcer
	// takes. IPv4 sources are banned per address.
	banBits  int
	banFor   int64
	enforcer enforce.Enforcer
	sleep    func(time.Duration)
	log      *slog.Logger
	// closeBanned closes requests from banned sources on connections they
	// opened before the ban: needed when bans are enforced at accept time
	// (user space), where open connections outlive the ban. XDP drops
	// every packet of a banned source, so the check is skipped there.
	closeBanned bool
	trusted     []netip.Prefix
	allow       []netip.Prefix
}

type stageLimit struct {
	l *Limit
	c limitCounters
}

var (
	_ pipeline.Stage            = (*Stage)(nil)
	_ pipeline.ResponseObserver = (*Stage)(nil)
)

// NewStage compiles one route's rate limiting over s.
func NewStage(s *Store, c StageConfig) (*Stage, error) {
	if len(c.Limits) == 0 || len(c.Limits) > MaxLimitsPerRoute {
		return nil, fmt.Errorf("compile rate limit stage %s: %d limits, want 1 to %d", c.Route, len(c.Limits), MaxLimitsPerRoute)
	}
	if c.IPv6Prefix < 0 || c.IPv6Prefix > 128 {
		return nil, fmt.Errorf("compile rate limit stage %s: IPv6 prefix /%d", c.Route, c.IPv6Prefix)
	}
	if c.BanDuration <= 0 {
		return nil, errors.New("compile rate limit stage " + c.Route + ": ban duration must be > 0")
	}
	st := &Stage{
		store: s, route: c.Route, headers: c.Headers, v6bits: c.IPv6Prefix,
		banBits: max(c.IPv6Prefix, enforce.MinNetBanBits),
		banFor:  int64(c.BanDuration), enforcer: c.Enforcer, sleep: c.Sleep, log: c.Logger,
		trusted: c.TrustedProxies, allow: c.Allowlist,
	}
	if st.sleep == nil {
		st.sleep = time.Sleep
	}
	if st.log == nil {
		st.log = slog.Default()
	}
	st.closeBanned = c.Enforcer == nil || c.Enforcer.Mode() == enforce.ModeUserspace
	for _, l := range c.Limits {
		st.limits = append(st.limits, stageLimit{l: l, c: newLimitCounters(c.Route, l.name)})
	}
	return st, nil
}

// Name implements pipeline.Stage.
func (st *Stage) Name() string { return "rate_limit" }

// taken remembers what a request consumed, to refund it if a later limit
// refuses the request.
type taken struct {
	b *bucket
	r *rates
	// Cluster limits: the lease slot charged, and whether on credit.
	s    *LeaseSlot
	debt bool
}

// Handle charges the request to every limit of the route, in order, and
// acts on the most severe outcome: pass, delay then pass, 429, or close
// and ban. A refusal refunds what earlier limits granted, so a refused
// request consumes no quota anywhere.
func (st *Stage) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	now := st.store.Now(r.Start)
	if st.closeBanned && r.ClientIP == r.PeerIP && st.store.bans.active(st.store.IPKey(r.ClientIP, st.banBits), seconds(now)) &&
		!inPrefixes(st.allow, r.ClientIP) { // allowlisted since its ban: no ban drops it
		r.Reason = pipeline.ReasonBurstBanned
		r.Detail = "source_banned"
		return pipeline.Close
	}
	key := st.store.Key(r, st.v6bits)
	var got [MaxLimitsPerRoute]taken
	var acts [MaxLimitsPerRoute]Action // Action+1 of limits that granted; 0: nothing to record
	var final Result
	for i := range st.limits {
		sl := &st.limits[i]
		rs := sl.l.ratesFor(r.Principal)
		if rs == nil {
			continue
		}
		var t taken
		res := sl.l.charge(r, key, st.v6bits, rs, now, &t)
		if res.Action <= Delay {
			got[i] = t
		}
		if sl.l.shadow {
			sl.c.record(res.Action, true)
			if res.Action != Allow && r.Detail == "" {
				r.Detail = res.shadowDetail()
			}
			continue
		}
		// A limit's allowed/delayed count waits for the verdict: when a
		// later limit refuses, the request was not allowed anywhere (and
		// its tokens are refunded).
		acts[i] = res.Action + 1
		if res.Action >= Reject {
			sl.c.record(res.Action, false)
			acts[i] = 0
			for j := 0; j < i; j++ {
				acts[j] = 0
				st.limits[j].l.undo(got[j])
			}
			// The limits not consulted may hold the client back longer.
			for _, later := range st.limits[i+1:] {
				if lrs := later.l.ratesFor(r.Principal); lrs != nil && !later.l.shadow {
					res.Wait = max(res.Wait, later.l.waitFor(key, lrs, now))
				}
			}
			final = res
			break
		}
		if res.Action == Delay && res.Wait > final.Wait {
			final = res
		}
	}
	for i, a := range acts[:len(st.limits)] {
		if a != 0 {
			st.limits[i].c.record(a-1, false)
		}
	}
	switch final.Action {
	case Ban:
		return st.burst(ctx, r, final, key, now)
	case Reject:
		return st.reject(ctx, r, final, key, now)
	case Delay:
		r.Notice = pipeline.NoticeLimitDelayed
		if r.Detail == "" {
			r.Detail = final.Detail()
		}
		st.delay(final)
	}
	return pipeline.Continue
}

var (
	hdrRetryAfter = []byte("Retry-After")
)

func (st *Stage) reject(ctx *fasthttp.RequestCtx, r *pipeline.Request, res Result, key uint64, now int64) pipeline.Verdict {
	v := pipeline.Deny(ctx, r, fasthttp.StatusTooManyRequests, pipeline.ReasonRateLimited)
	r.Detail = res.Detail()
	var buf [20]byte
	ctx.Response.Header.SetCanonical(hdrRetryAfter, strconv.AppendInt(buf[:0], ceilSeconds(res.Wait), 10))
	if st.headers {
		st.writeHeaders(ctx, r, key, now, &res)
	}
	return v
}

// ceilSeconds rounds a wait up to whole seconds, at least 1: Retry-After
// must never invite a retry that is still too early.
func ceilSeconds(ns int64) int64 {
	return max((ns+int64(time.Second)-1)/int64(time.Second), 1)
}

// burst handles a request far over its limit: no response, the connection
// closed, the source banned. Behind a trusted proxy the client's address
// is not the peer's: closing would cut a connection the proxy shares with
// other clients and banning would ban nobody useful, so it gets a 429.
//
// The same holds for a trusted proxy's own address (its requests without
// a readable client address are keyed on it: banning it cut off every
// client behind it), and for an allowlisted source, which no ban drops.
func (st *Stage) burst(ctx *fasthttp.RequestCtx, r *pipeline.Request, res Result, key uint64, now int64) pipeline.Verdict {
	if r.ClientIP != r.PeerIP || inPrefixes(st.trusted, r.PeerIP) {
		bansProxied.Inc()
		return st.reject(ctx, r, res, key, now)
	}
	if inPrefixes(st.allow, r.ClientIP) {
		bansAllowlisted.Inc()
		return st.reject(ctx, r, res, key, now)
	}
	r.Reason = pipeline.ReasonBurstBanned
	r.Detail = res.Detail()
	if src, until, ok := st.ban(r.ClientIP, r.Detail, r.RequestID, now); ok {
		r.BanSource, r.BanUntil = enforce.FormatSource(src), st.store.epoch.Add(time.Duration(until))
	}
	return pipeline.Close
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// seconds converts store time to the ban memo's seconds (never 0).
func seconds(ns int64) uint32 { return uint32(ns/int64(time.Second)) + 1 }

// ban bans the source of addr (the address, or for IPv6 the network of
// banBits bits, so that a host cannot rotate through its /64 past the ban),
// at most once per ban period per source (banMemo). Without an enforcer
// the memo still records the ban, so the source's requests on open
// connections are closed for the ban period. It returns the source and
// the ban's end (store time) when this call issued the ban.
func (st *Stage) ban(addr netip.Addr, detail string, reqID []byte, now int64) (netip.Prefix, int64, bool) {
	if !addr.IsValid() {
		return netip.Prefix{}, 0, false
	}
	until := now + st.banFor
	if !st.store.bans.claim(st.store.IPKey(addr, st.banBits), seconds(now), seconds(until)) || st.enforcer == nil {
		return netip.Prefix{}, 0, false
	}
	src := enforce.Host(addr)
	if src.Addr().Is6() {
		src, _ = src.Addr().Prefix(st.banBits)
	}
	err := st.enforcer.Ban(src, st.store.epoch.Add(time.Duration(until)))
	if err != nil {
		bansFailed.Inc()
	} else {
		bansIssued.Inc()
	}
	ok, suppressed := st.store.banLog.Pass(now / int64(time.Second))
	switch {
	case !ok:
	case err != nil:
		st.log.Error("rate limit: ban failed", "client", addr, "source", enforce.FormatSource(src), "route", st.route, "limit", detail,
			"request_id", string(reqID), "error", err, "ban_lines_suppressed", suppressed)
	default:
		st.log.Warn("rate limit: burst offender banned", "client", addr, "source", enforce.FormatSource(src), "route", st.route, "limit", detail,
			"request_id", string(reqID), "duration", time.Duration(st.banFor).String(), "enforcer", st.enforcer.Mode(), "ban_lines_suppressed", suppressed)
	}
	return src, until, err == nil
}

// delay waits out res.Wait unless too many requests already wait.
func (st *Stage) delay(res Result) {
	st.store.Wait(time.Duration(res.Wait), st.sleep)
}

// ObserveResponse adds the rate-limit headers to responses that the gateway
// did not refuse (refusals got theirs in Handle). It runs after the proxy,
// which replaces the response headers set before it.
func (st *Stage) ObserveResponse(ctx *fasthttp.RequestCtx, r *pipeline.Request) {
	if !st.headers || r.Reason != pipeline.ReasonNone {
		return
	}
	st.writeHeaders(ctx, r, st.store.Key(r, st.v6bits), st.store.Now(r.Start), nil)
}

var (
	hdrXLimit     = []byte("X-Ratelimit-Limit")
	hdrXRemaining = []byte("X-Ratelimit-Remaining")
	hdrXReset     = []byte("X-Ratelimit-Reset")
	hdrPolicy     = []byte("Ratelimit-Policy")
	hdrRateLimit  = []byte("Ratelimit")
)

// writeHeaders describes the most used window among the route's enforced
// limits: X-RateLimit-Limit/-Remaining/-Reset (reset in seconds until the
// window is full again), the IETF RateLimit item for that window, and
// RateLimit-Policy listing every window. On a refusal (refused set) they
// describe the window that refused instead, with nothing remaining and the
// reset of Retry-After: another window's figures on a 429 would read as
// requests left.
func (st *Stage) writeHeaders(ctx *fasthttp.RequestCtx, r *pipeline.Request, key uint64, now int64, refused *Result) {
	var u usage
	var pbuf [512]byte
	pol := pbuf[:0]
	for i := range st.limits {
		l := st.limits[i].l
		if l.shadow {
			continue
		}
		rs := l.ratesFor(r.Principal)
		if rs == nil {
			continue
		}
		l.peekFor(key, rs, now, &u)
		if len(pol) > 0 {
			pol = append(pol, ", "...)
		}
		pol = append(pol, rs.policy...)
	}
	if refused != nil && refused.win != nil {
		w := refused.win
		u = usage{limit: w.grant.N, remaining: 0, reset: ceilSeconds(refused.Wait), name: w.quoted}
	}
	if u.name == "" {
		return
	}
	h := &ctx.Response.Header
	var nbuf [128]byte
	h.SetCanonical(hdrXLimit, strconv.AppendInt(nbuf[:0], u.limit, 10))
	h.SetCanonical(hdrXRemaining, strconv.AppendInt(nbuf[:0], u.remaining, 10))
	h.SetCanonical(hdrXReset, strconv.AppendInt(nbuf[:0], u.reset, 10))
	h.SetCanonical(hdrPolicy, pol)
	b := append(nbuf[:0], u.name...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, u.remaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, u.reset, 10)
	h.SetCanonical(hdrRateLimit, b)
}
