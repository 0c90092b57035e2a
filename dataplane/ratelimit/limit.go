package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/gcra"
)

// Thresholds are percentages of a limit: above Delay a granted request is
// delayed, above Reject it is refused (429), and when refused requests keep
// arriving at Ban percent of the limit in total (that is, refusals at
// Ban-Reject percent of the limit's rate, with that many in a burst) the
// source is banned.
type Thresholds struct {
	Delay, Reject, Ban int64
}

// DefaultThresholds are 80%, 100% and 200%.
var DefaultThresholds = Thresholds{Delay: 80, Reject: 100, Ban: 200}

// LimitConfig is one named limit, compiled by NewLimit.
type LimitConfig struct {
	// Name appears in metrics, rate-limit headers and access-log details.
	Name string
	// Default applies to requests no tier or identity-kind variant matches.
	// Empty: such requests are not limited by this limit.
	Default Windows
	// Tiers override Default for principals of a tier (compared without
	// regard to case).
	Tiers map[string]Windows
	// Kinds override Default for an identity kind; IdentityNone stands for
	// anonymous clients, limited per client IP. A tier match wins.
	Kinds map[pipeline.IdentityKind]Windows
	// Thresholds are the graduated response's thresholds.
	Thresholds Thresholds
	// BurstBan enables the ban at Thresholds.Ban; off, such requests get 429.
	BurstBan bool
	// Shadow makes the limit record what it would do without doing it.
	Shadow bool
	// MaxDelay is the delay at 100% of the limit (it grows linearly from 0
	// at the delay threshold).
	MaxDelay time.Duration
	// Cluster makes the limit cluster-wide (lease.go); nil: local.
	Cluster *ClusterConfig
}

// windowRate is one window of one variant, compiled.
type windowRate struct {
	w       Window
	grant   gcra.Rate       // tolerance at the reject threshold
	reject  gcra.Rate       // refusals allowed before a ban
	delayAt int64           // backlog above which a granted request is delayed
	name    string          // "<limit>/<window>": access-log detail and header item name
	quoted  string          // name as a structured-field string, for headers
	would   [Ban + 1]string // access-log details of a shadow limit's actions
}

// rates is one variant of a limit: its windows, compiled.
type rates struct {
	list   []windowRate
	policy []byte // RateLimit-Policy items, e.g. `"api/minute";q=100;w=60`
	// Cluster limits only: the same windows at 1/gateways of the rate, and
	// the largest lease.
	fb       *rates
	leaseCap int64
}

// Limit is a compiled named limit over one table of buckets. It is
// immutable; its table is shared with the policies before and after it.
type Limit struct {
	name     string
	table    *Table
	def      *rates
	anon     *rates // for requests without a principal: kinds[IdentityNone], else def
	tiers    []tierRates
	kinds    [numKinds]*rates
	shadow   bool
	burstBan bool
	maxDelay int64
	cl       *clusterLimit // nil: a local limit
}

type tierRates struct {
	tier string
	r    *rates
}

const numKinds = int(pipeline.IdentityHMAC) + 1

// NewLimit compiles c over table t.
func NewLimit(t *Table, c LimitConfig) (*Limit, error) {
	if t == nil {
		return nil, errors.New("compile limit: no table")
	}
	th := c.Thresholds
	if th.Delay <= 0 || th.Reject <= 0 || th.Delay > th.Reject || th.Ban <= th.Reject {
		return nil, fmt.Errorf("compile limit %s: thresholds must satisfy 0 < delay <= reject < ban, got %d/%d/%d", c.Name, th.Delay, th.Reject, th.Ban)
	}
	if c.MaxDelay < 0 {
		return nil, fmt.Errorf("compile limit %s: negative max delay %s", c.Name, c.MaxDelay)
	}
	l := &Limit{name: c.Name, table: t, shadow: c.Shadow, burstBan: c.BurstBan, maxDelay: int64(c.MaxDelay)}
	var err error
	if l.def, err = compileRates(c.Name, c.Default, th); err != nil {
		return nil, err
	}
	for tier, ws := range c.Tiers {
		r, err := compileRates(c.Name, ws, th)
		if err != nil {
			return nil, fmt.Errorf("%w (tier %s)", err, tier)
		}
		l.tiers = append(l.tiers, tierRates{tier: tier, r: r})
	}
	for k, ws := range c.Kinds {
		if int(k) >= numKinds {
			return nil, fmt.Errorf("compile limit %s: unknown identity kind %d", c.Name, k)
		}
		if l.kinds[k], err = compileRates(c.Name, ws, th); err != nil {
			return nil, fmt.Errorf("%w (identity kind %s)", err, k)
		}
	}
	l.anon = l.def
	if r := l.kinds[pipeline.IdentityNone]; r != nil {
		l.anon = r
	}
	if c.Cluster != nil {
		if err := l.compileCluster(c.Cluster, th); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func compileRates(name string, ws Windows, th Thresholds) (*rates, error) {
	if ws.Empty() {
		return nil, nil
	}
	r := &rates{}
	for w := Second; w < NumWindows; w++ {
		n := ws[w]
		if n == 0 {
			continue
		}
		if n < 0 {
			return nil, fmt.Errorf("compile limit %s: %s: negative limit %d", name, w, n)
		}
		wr := windowRate{
			w:      w,
			grant:  gcra.New(n, w.Duration(), th.Reject),
			reject: gcra.New(max((n*(th.Ban-th.Reject)+99)/100, 1), w.Duration(), 100),
			name:   name + "/" + w.String(),
		}
		wr.quoted = strconv.Quote(wr.name)
		for a := Delay; a <= Ban; a++ {
			wr.would[a] = "shadow: would be " + a.String() + " by " + wr.name
		}
		wr.delayAt = wr.grant.Capacity() * th.Delay / 100
		r.list = append(r.list, wr)
		if len(r.policy) > 0 {
			r.policy = append(r.policy, ", "...)
		}
		r.policy = append(r.policy, wr.quoted...)
		r.policy = append(r.policy, ";q="...)
		r.policy = strconv.AppendInt(r.policy, n, 10)
		r.policy = append(r.policy, ";w="...)
		r.policy = strconv.AppendInt(r.policy, int64(w.Duration()/time.Second), 10)
	}
	return r, nil
}

// Name returns the limit's name.
func (l *Limit) Name() string { return l.name }

// Shadow reports whether the limit only records what it would do.
func (l *Limit) Shadow() bool { return l.shadow }

// ratesFor picks the variant for a principal (nil: anonymous). Nil means
// the limit does not apply.
func (l *Limit) ratesFor(p *pipeline.Principal) *rates {
	if p == nil {
		return l.anon
	}
	return l.principalRates(p)
}

func (l *Limit) principalRates(p *pipeline.Principal) *rates {
	if p.Tier != "" {
		for i := range l.tiers {
			if strings.EqualFold(l.tiers[i].tier, p.Tier) {
				return l.tiers[i].r
			}
		}
	}
	if int(p.Kind) < numKinds && p.Kind != pipeline.IdentityNone {
		if r := l.kinds[p.Kind]; r != nil {
			return r
		}
	}
	return l.def
}

// Action is what a check decides, in increasing severity.
type Action uint8

const (
	// Allow passes the request.
	Allow Action = iota
	// Delay passes the request after Result.Wait.
	Delay
	// Reject refuses it with 429; Result.Wait says when to retry.
	Reject
	// Ban closes the connection and bans the source.
	Ban
)

var actionNames = [...]string{"allowed", "delayed", "rejected", "banned"}

// String names the action as the metrics do: "allowed", "delayed", ...
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Result is the outcome of charging one request to one limit. It has
// three fields so that it stays in registers (larger structs are returned
// through memory, which costs more than the check itself).
type Result struct {
	Action Action
	// Wait is in ns: for Delay, how long to delay the request; for Reject
	// and Ban, how long until a token is available.
	Wait int64
	win  *windowRate
}

// Detail names the deciding window, "<limit>/<window>" ("" for Allow).
func (res Result) Detail() string {
	if res.win == nil {
		return ""
	}
	return res.win.name
}

// shadowDetail is the access-log detail of a shadow limit's result.
func (res *Result) shadowDetail() string {
	if res.win == nil {
		return ""
	}
	return res.win.would[res.Action]
}

// take charges one request for key to every window of r at now. On a
// refusal no window keeps a token (earlier ones are refunded) and the
// refusing window's reject meter decides between Reject and Ban.
func (l *Limit) take(b *bucket, r *rates, now int64) Result {
	var res Result
	for i := range r.list {
		wr := &r.list[i]
		m := &b.m[wr.w]
		backlog, wait, ok := wr.grant.Take(&m.grant, now)
		if !ok {
			l.refund(b, r, i)
			// Retry-After must cover every window: a later one may be
			// exhausted for longer than the one that refused first.
			for j := i + 1; j < len(r.list); j++ {
				wait = max(wait, r.list[j].grant.Wait(&b.m[r.list[j].w].grant, now))
			}
			res = Result{Action: Reject, Wait: wait, win: wr}
			if _, _, ok := wr.reject.Take(&m.reject, now); !ok && l.burstBan {
				res.Action = Ban
			}
			return res
		}
		if backlog > wr.delayAt {
			if d := gcra.Scale(l.maxDelay, backlog, wr.delayAt, wr.grant.Tol); d > res.Wait {
				res = Result{Action: Delay, Wait: d, win: wr}
			}
		}
	}
	return res
}

// charge charges one request of key (request r, nil when called through
// Check) to variant rs of l at now: a cluster limit through its lease, a
// local one through its bucket. t records what to refund.
func (l *Limit) charge(r *pipeline.Request, key uint64, v6bits int, rs *rates, now int64, t *taken) Result {
	if l.cl != nil {
		return l.takeCluster(r, key, v6bits, rs, now, t)
	}
	return l.takeLocal(key, rs, now, t)
}

// undo gives back what a granted charge took.
func (l *Limit) undo(t taken) {
	if t.b != nil {
		l.refund(t.b, t.r, len(t.r.list))
	}
	if t.s != nil {
		if t.debt {
			t.s.debt.Add(-1)
		} else {
			t.s.tokens.Add(1)
		}
	}
}

// waitFor returns how long until l would grant key a request (variant rs),
// taking nothing.
func (l *Limit) waitFor(key uint64, rs *rates, now int64) int64 {
	if c := l.cl; c != nil {
		if !c.Leaser.Up() {
			return l.wait(l.table.kt.Get(key), rs.fb, now)
		}
		s := c.Slots.Get(key)
		if s == nil || s.tokens.Load() > 0 {
			return 0
		}
		return max(s.denied.Load()-now, 0)
	}
	return l.wait(l.table.kt.Get(key), rs, now)
}

// peekFor is peek for key: a cluster limit reports the shared backlog seen
// at its last lease.
func (l *Limit) peekFor(key uint64, rs *rates, now int64, u *usage) {
	c := l.cl
	switch {
	case c == nil:
		l.peek(l.table.kt.Get(key), rs, now, u)
		return
	case !c.Leaser.Up():
		l.peek(l.table.kt.Get(key), rs.fb, now, u)
		return
	}
	var bl, i int64
	if s := c.Slots.Get(key); s != nil {
		bl, i = s.backlog.Load(), s.win.Load()
	}
	wr := rs.window(i)
	backlog := gcra.Scale(wr.grant.Tol, bl, 0, ppm)
	u.consider(wr, backlog)
}

// consider makes wr at backlog the reported window if it is the most used.
func (u *usage) consider(wr *windowRate, backlog int64) {
	frac := float64(backlog) / float64(wr.grant.Capacity())
	if u.name != "" && frac <= u.frac {
		return
	}
	*u = usage{
		limit:     wr.grant.N,
		remaining: wr.grant.Remaining(backlog),
		reset:     (backlog + int64(time.Second) - 1) / int64(time.Second),
		name:      wr.quoted,
		frac:      frac,
	}
}

// wait returns how long until every window of r would grant b a request
// (b may be nil: an unused key waits for nothing). It takes nothing.
func (l *Limit) wait(b *bucket, r *rates, now int64) int64 {
	var w int64
	if b == nil {
		return 0
	}
	for i := range r.list {
		w = max(w, r.list[i].grant.Wait(&b.m[r.list[i].w].grant, now))
	}
	return w
}

// refund gives back the tokens taken from the first n windows of r.
func (l *Limit) refund(b *bucket, r *rates, n int) {
	for j := 0; j < n; j++ {
		r.list[j].grant.Refund(&b.m[r.list[j].w].grant)
	}
}

// usage describes the most used window of a bucket for rate-limit headers.
type usage struct {
	limit, remaining, reset int64  // requests, requests, seconds until full
	name                    string // quoted window name
	frac                    float64
}

// peek returns the most used window of r for b at now (b may be nil: a key
// with no bucket is unused).
func (l *Limit) peek(b *bucket, r *rates, now int64, u *usage) {
	for i := range r.list {
		wr := &r.list[i]
		var backlog int64
		if b != nil {
			backlog = wr.grant.Backlog(&b.m[wr.w].grant, now)
		}
		u.consider(wr, backlog)
	}
}

// Check charges one request of key (identity p; nil: anonymous) to the
// limit at now (store clock) and returns the limit's own decision: it
// consumes a token from every window on Allow and Delay, and nothing on
// Reject and Ban. A limit that does not apply to p allows. The stage uses
// the same steps; Check exists for callers charging one limit directly.
// A cluster limit names the identity in Redis after key, so key must be
// the same on every gateway (the stage uses the request's identity).
func (l *Limit) Check(key uint64, p *pipeline.Principal, now int64) Result {
	r := l.ratesFor(p)
	if r == nil {
		return Result{}
	}
	var t taken
	return l.charge(nil, key, 0, r, now, &t)
}

// Remaining returns, for the most used window of the limit for key, the
// requests left within the limit and the seconds until it is full again.
func (l *Limit) Remaining(key uint64, p *pipeline.Principal, now int64) (remaining, resetSeconds int64) {
	r := l.ratesFor(p)
	if r == nil {
		return -1, 0
	}
	var u usage
	l.peekFor(key, r, now, &u)
	return u.remaining, u.reset
}
