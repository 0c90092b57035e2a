package ratelimit

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/gcra"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/keytable"
)

// Cluster limits. A limit with a ClusterConfig keeps its GCRA state in a
// shared store (Redis, package cluster) that every gateway charges, but a
// request never waits for that store: each gateway leases small batches of
// tokens per identity ahead of need and spends them here with atomic
// operations only. The Leaser refills leases in the background.
//
// Per identity a gateway holds a LeaseSlot:
//   - tokens: leased and not yet spent. They were charged to the shared
//     GCRA when leased; leftovers are void after LeaseTTL (never returned).
//     A refill is queued when half the lease is spent.
//   - denied: when the shared GCRA refused the last lease, the time until a
//     token is free again; until then requests are refused (429, or a ban
//     through the local reject meter) without asking anyone.
//   - debt: with neither tokens nor a refusal at hand (a new client, a
//     refill still on its way), the local fallback limiter decides and what
//     it grants is credit, charged to the shared GCRA with the next lease,
//     unconditionally: credit delays refusals, it never escapes the limit.
//
// The lease size follows the client's rate (its rate times LeaseHorizon),
// between LeaseMin and the limit's lease cap: LeaseMax, and never more than
// 1/(2*Gateways) of the smallest window's limit.
//
// Worst-case overshoot of the limit over any interval, fleet-wide, against
// one exact GCRA: every gateway may spend a full lease charged before the
// interval (Gateways * cap), plus the credit it granted while its lease
// request was on its way (charged after the interval). A client whose lease
// outlasts a Redis round trip (lease = rate * horizon: the normal case)
// gets at most one lease of credit per gateway, so the bound is
// 2 * Gateways * cap. A client bursting faster than Redis answers gets its
// credit from each gateway's fallback share, at most limit/Gateways per
// gateway: then the bound is Gateways * cap + the limit, once, after which
// the charged credit keeps the client refused until it is paid off.
//
// When the Leaser is down (the shared store failed or timed out) the limit
// runs on the local limiter with every window's rate divided by Gateways:
// the fleet as a whole then stays near the limit.

// Leaser refills the leases of cluster limits off the request path.
type Leaser interface {
	// Up reports whether the shared store answers; while false, cluster
	// limits run on their local fallback rates.
	Up() bool
	// Refill queues s for a lease request without blocking; false when the
	// queue is full.
	Refill(s *LeaseSlot) bool
}

// ClusterConfig makes a limit cluster-wide (LimitConfig.Cluster).
type ClusterConfig struct {
	// Key names the limit's state in the shared store (the limit's table id:
	// gateways must agree on it).
	Key    string
	Leaser Leaser
	// Slots holds this gateway's leases, one per identity (Store.LeaseTable).
	Slots *LeaseTable
	// Gateways is the number of gateways sharing the limit: the local
	// fallback allows 1/Gateways of each window, and it bounds the lease.
	Gateways int64
	// LeaseMin and LeaseMax bound the lease size in requests.
	LeaseMin, LeaseMax int64
	// LeaseHorizon is how much of the client's traffic one lease covers.
	LeaseHorizon time.Duration
	// LeaseTTL is how long leased tokens stay valid.
	LeaseTTL time.Duration
}

func (c *ClusterConfig) validate(name string) error {
	switch {
	case c.Leaser == nil || c.Slots == nil || c.Key == "":
		return fmt.Errorf("compile limit %s: cluster: no leaser, slot table or key", name)
	case c.Gateways < 1:
		return fmt.Errorf("compile limit %s: cluster: gateways must be >= 1, got %d", name, c.Gateways)
	case c.LeaseMin < 1 || c.LeaseMax < c.LeaseMin:
		return fmt.Errorf("compile limit %s: cluster: lease sizes must satisfy 1 <= min <= max, got %d/%d", name, c.LeaseMin, c.LeaseMax)
	case c.LeaseHorizon <= 0 || c.LeaseTTL <= 0:
		return fmt.Errorf("compile limit %s: cluster: lease horizon and ttl must be > 0", name)
	}
	return nil
}

// LeaseTable holds one gateway's lease slots of one cluster limit.
type LeaseTable = keytable.Table[LeaseSlot, *LeaseSlot]

// LeaseTable returns the store's lease table with the given id (created on
// first use): like bucket tables, leases outlive reloads.
func (s *Store) LeaseTable(id string, maxKeys int) (*LeaseTable, error) {
	return TableOf[LeaseSlot](s, "cluster:"+id, maxKeys)
}

// clusterLimit is a limit's compiled cluster settings.
type clusterLimit struct {
	ClusterConfig
	delayPPM int64 // backlog (ppm of the tolerance) above which requests are delayed
}

// ppm is the scale of LeaseGrant.Backlog: parts per million of the tolerance.
const ppm = 1_000_000

// LeaseSlot is one identity's lease of one cluster limit on this gateway.
type LeaseSlot struct {
	tokens  atomic.Int64 // leased, unspent
	debt    atomic.Int64 // granted on credit, not yet charged
	level   atomic.Int64 // tokens right after the last grant: level - tokens is what was spent since
	expires atomic.Int64 // store clock: tokens are void after it
	denied  atomic.Int64 // store clock: the shared GCRA refuses until then
	size    atomic.Int64 // current lease size
	backlog atomic.Int64 // shared backlog at the last lease, ppm of the tolerance
	win     atomic.Int64 // index of that backlog's window in rates.list
	asked   atomic.Int64 // store clock of the last lease request
	pending atomic.Bool  // a refill is queued or in flight
	named   atomic.Bool  // id is set
	id      [2]atomic.Uint64
	rates   atomic.Pointer[rates]
	owner   atomic.Pointer[clusterLimit]
}

// IdleAt implements keytable.State: a slot whose tokens expired and whose
// refusal ended holds nothing worth keeping (unpaid credit is forgotten
// only a lease TTL after the last request for it).
func (s *LeaseSlot) IdleAt() int64 {
	var ttl int64
	if c := s.owner.Load(); c != nil {
		ttl = int64(c.LeaseTTL)
	}
	return max(s.expires.Load(), s.denied.Load(), s.asked.Load()+ttl) + idleGrace
}

// name sets the slot's cluster-wide identity: a hash of the principal's
// RateKey or of the client's address prefix. Unlike Store.Key it must not
// depend on a per-process seed; SHA-256 keeps collisions out of reach
// without one. It runs once per slot, off the steady state.
func (s *LeaseSlot) name(r *pipeline.Request, key uint64, v6bits int) {
	var sum [32]byte
	switch {
	case r == nil:
		var b [10]byte
		b[0], b[1] = 'h', ':'
		binary.BigEndian.PutUint64(b[2:], key)
		sum = sha256.Sum256(b[:])
	case r.Principal != nil && r.Principal.RateKey != "":
		sum = sha256.Sum256(append([]byte("k:"), r.Principal.RateKey...))
	default:
		a := r.ClientIP.Unmap()
		var b [19]byte
		b[0], b[1] = 'a', ':'
		v := a.As16()
		hi, lo := binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:])
		if !a.Is4() {
			hi, lo = maskHigh(hi, lo, v6bits)
		}
		binary.BigEndian.PutUint64(b[2:], hi)
		binary.BigEndian.PutUint64(b[10:], lo)
		b[18] = byte(a.BitLen() / 8)
		sum = sha256.Sum256(b[:])
	}
	s.id[0].Store(binary.BigEndian.Uint64(sum[:8]))
	s.id[1].Store(binary.BigEndian.Uint64(sum[8:16]))
	s.named.Store(true)
}

// takeToken spends one leased token unless none is left or they expired;
// it returns how many remain.
func (s *LeaseSlot) takeToken(now int64) (int64, bool) {
	for {
		n := s.tokens.Load()
		if n <= 0 {
			return 0, false
		}
		if now > s.expires.Load() {
			s.tokens.CompareAndSwap(n, 0)
			return 0, false
		}
		if s.tokens.CompareAndSwap(n, n-1) {
			return n - 1, true
		}
	}
}

// refill queues s for a lease unless one is already on its way.
func (c *clusterLimit) refill(s *LeaseSlot) {
	if s.pending.CompareAndSwap(false, true) && !c.Leaser.Refill(s) {
		s.pending.Store(false)
		leaseQueueFull.Inc()
	}
}

// takeCluster charges one request to cluster limit l (rs: the variant) and
// records in t what to refund. It never waits and never calls the store.
func (l *Limit) takeCluster(r *pipeline.Request, key uint64, v6bits int, rs *rates, now int64, t *taken) Result {
	c := l.cl
	if !c.Leaser.Up() {
		return l.takeLocal(key, rs.fb, now, t)
	}
	s := c.Slots.GetOrInsert(key, now)
	if !s.named.Load() {
		s.name(r, key, v6bits)
	}
	if s.owner.Load() != c {
		s.owner.Store(c)
	}
	if s.rates.Load() != rs {
		s.rates.Store(rs)
	}
	if left, ok := s.takeToken(now); ok {
		*t = taken{s: s}
		if left <= s.size.Load()/2 {
			c.refill(s)
		}
		if bl := s.backlog.Load(); bl > c.delayPPM {
			return Result{Action: Delay, Wait: gcra.Scale(l.maxDelay, bl, c.delayPPM, ppm), win: rs.window(s.win.Load())}
		}
		return Result{}
	}
	if d := s.denied.Load(); now < d {
		// The shared GCRA refused: 429 until a token is free, and a ban when
		// this gateway's refusals reach the ban threshold of the whole
		// limit, as a local limit's would. A client pinned to one gateway
		// (a source-hash balancer) is then banned where a local limit
		// bans it; one spread over the gateways later, never earlier (a
		// meter at the fallback share banned a pinned client at 150% of
		// the limit with two gateways).
		i := s.win.Load()
		w := rs.window(i)
		res := Result{Action: Reject, Wait: d - now, win: w}
		b := l.table.kt.GetOrInsert(key, now)
		if _, _, ok := w.reject.Take(&b.m[w.w].reject, now); !ok && l.burstBan {
			res.Action = Ban
		}
		return res
	}
	// No lease at hand (a new client, or a refill still on its way): the
	// local fallback decides, and what it grants is owed to the shared
	// GCRA, charged with the next lease. The request never waits.
	c.refill(s)
	res := l.takeLocal(key, rs.fb, now, t)
	if res.Action <= Delay {
		s.debt.Add(1)
		t.s, t.debt = s, true
		leaseCredit.Inc()
	}
	return res
}

// takeLocal charges the local limiter (a local limit, or a cluster limit's
// fallback rates).
func (l *Limit) takeLocal(key uint64, rs *rates, now int64, t *taken) Result {
	b := l.table.kt.GetOrInsert(key, now)
	*t = taken{b: b, r: rs}
	return l.take(b, rs, now)
}

// window returns the i-th window of rs, clamped (a slot may carry an index
// from a variant with more windows).
func (rs *rates) window(i int64) *windowRate {
	return &rs.list[min(max(i, 0), int64(len(rs.list)-1))]
}

// LeaseWindow is one window of a lease request: the GCRA's emission
// interval and tolerance, in ns.
type LeaseWindow struct {
	Name   string // "second", "minute", ...
	T, Tol int64
}

// LeaseAsk is one lease request, built by LeaseSlot.Ask for the Leaser.
type LeaseAsk struct {
	// Key names the limit (ClusterConfig.Key); ID the identity.
	Key string
	ID  [2]uint64
	// Want is how many tokens to lease, granted as far as the limit allows;
	// Debt is charged first, unconditionally.
	Want, Debt int64
	Windows    []LeaseWindow
}

// LeaseGrant is the shared store's answer to a LeaseAsk.
type LeaseGrant struct {
	// Granted tokens (0..Want).
	Granted int64
	// Wait is how long until a token is free, in ns, when Granted is 0.
	Wait int64
	// Backlog is the fullest window's backlog after the grant, in ppm of
	// its tolerance, and Window its index in LeaseAsk.Windows.
	Backlog int64
	Window  int64
}

// Ask builds the slot's next lease request at now (store clock, see
// Store.Now): the lease size follows the rate at which the client spent
// tokens since the previous request. ok is false when nothing is needed;
// the slot is then no longer pending. A request that is asked must end in
// Grant or Fail.
func (s *LeaseSlot) Ask(now int64) (a LeaseAsk, ok bool) {
	c, rs := s.owner.Load(), s.rates.Load()
	if c == nil || rs == nil || !s.named.Load() {
		s.pending.Store(false)
		return a, false
	}
	// Requests granted since the last request, from the lease or on
	// credit, give the client's rate (no counter on the request path).
	a = LeaseAsk{Key: c.Key, ID: [2]uint64{s.id[0].Load(), s.id[1].Load()}, Debt: s.debt.Swap(0)}
	tokens := s.tokens.Load()
	size := c.LeaseMin
	if prev := s.asked.Swap(now); prev > 0 && now > prev {
		spent := max(s.level.Load()-tokens, 0) + a.Debt
		size = spent * int64(c.LeaseHorizon) / (now - prev)
	}
	size = min(max(size, c.LeaseMin), rs.leaseCap)
	s.size.Store(size)
	if now <= s.expires.Load() {
		a.Want = max(size-tokens, 0)
	} else {
		a.Want = size
	}
	if a.Want == 0 && a.Debt == 0 {
		s.pending.Store(false)
		return a, false
	}
	a.Windows = make([]LeaseWindow, len(rs.list))
	for i := range rs.list {
		wr := &rs.list[i]
		a.Windows[i] = LeaseWindow{Name: wr.w.String(), T: wr.grant.T, Tol: wr.grant.Tol}
	}
	return a, true
}

// Grant applies the store's answer to a at now (store clock).
func (s *LeaseSlot) Grant(a LeaseAsk, g LeaseGrant, now int64) {
	c := s.owner.Load()
	if g.Granted > 0 {
		if now > s.expires.Load() {
			s.tokens.Store(0) // leftovers of an expired lease are void
		}
		if c != nil {
			s.expires.Store(now + int64(c.LeaseTTL))
		}
		s.level.Store(s.tokens.Add(g.Granted))
		s.denied.Store(0)
	} else if a.Want > 0 {
		s.denied.Store(now + max(g.Wait, 1))
	}
	s.backlog.Store(g.Backlog)
	s.win.Store(g.Window)
	s.pending.Store(false)
}

// Fail records that a's request got no answer: its debt is owed again.
func (s *LeaseSlot) Fail(a LeaseAsk) {
	s.debt.Add(a.Debt)
	s.pending.Store(false)
}

// Cancel drops a queued refill that will never be asked (its Leaser
// closed), so that the next request queues a new one.
func (s *LeaseSlot) Cancel() { s.pending.Store(false) }

var errNoWindows = errors.New("no windows")

// compileCluster sets up l as a cluster limit: every variant gets its
// fallback rates (each window divided by Gateways) and its lease cap.
func (l *Limit) compileCluster(c *ClusterConfig, th Thresholds) error {
	if err := c.validate(l.name); err != nil {
		return err
	}
	l.cl = &clusterLimit{ClusterConfig: *c, delayPPM: ppm * th.Delay / th.Reject}
	seen := map[*rates]bool{}
	all := []*rates{l.def, l.anon}
	for _, t := range l.tiers {
		all = append(all, t.r)
	}
	all = append(all, l.kinds[:]...)
	for _, rs := range all {
		if rs == nil || seen[rs] {
			continue
		}
		seen[rs] = true
		if len(rs.list) == 0 {
			return fmt.Errorf("compile limit %s: cluster: %w", l.name, errNoWindows)
		}
		var ws Windows
		rs.leaseCap = c.LeaseMax
		for i := range rs.list {
			wr := &rs.list[i]
			ws[wr.w] = max(wr.grant.N/c.Gateways, 1)
			rs.leaseCap = min(rs.leaseCap, max(wr.grant.Tol/wr.grant.T/(2*c.Gateways), 1))
		}
		fb, err := compileRates(l.name, ws, th)
		if err != nil {
			return err
		}
		// One ban meter for both paths, at the whole limit's margin: the
		// shared limit's refusals (takeCluster) and the fallback's (no
		// lease at hand, or Redis down) charge the same word, and at two
		// rates a client alternating between them was banned early.
		for i := range fb.list {
			for j := range rs.list {
				if rs.list[j].w == fb.list[i].w {
					fb.list[i].reject = rs.list[j].reject
				}
			}
		}
		rs.fb = fb
	}
	return nil
}
