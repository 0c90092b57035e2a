// Package connguard guards the data listeners at the connection level, below
// HTTP parsing: it caps the connections one source may hold open, checks
// every byte a client sends against strict HTTP/1.1 framing (framing.Validator)
// before fasthttp's parser sees it, and when the listeners are full it closes
// idle keep-alive connections first to make room for new ones.
//
// The per-source cap and the total are what keep a slow-head flood (thousands
// of connections from one address, each sending a line now and then) from
// holding the gateway's buffers: with the request-head timeout they bound both
// the number and the lifetime of such connections.
//
// The package must never block Accept on a slow client, never allocate per
// Read, and never let a connection it refused or closed be counted twice.
package connguard

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/edgeguard/edgeguard/dataplane/yieldread"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/framing"
	"github.com/edgeguard/edgeguard/internal/loggate"
)

// Options are the limits in force; Guard.SetOptions swaps them on reload.
type Options struct {
	// MaxPerSource caps the open connections of one source (an IPv4
	// address, or the IPv6 network of IPv6Prefix bits); 0: no cap.
	MaxPerSource int
	// MaxPerTrusted is the cap for sources in Trusted (proxies that carry
	// many clients); 0: no cap.
	MaxPerTrusted int
	Trusted       []netip.Prefix
	// IPv6Prefix is how many bits of an IPv6 address name its source
	// (default 64: one host can rotate through its /64).
	IPv6Prefix int
	// LenientFraming turns the framing check off for new connections
	// (fasthttp's own, more lenient parsing applies).
	LenientFraming bool
}

// Guard tracks the connections of the data listeners. Build with New.
type Guard struct {
	opts     func() *Options
	maxConns int64
	log      *slog.Logger
	now      func() time.Time

	open    atomic.Int64
	idle    atomic.Int64  // connections idle between keep-alive requests
	idleSeq atomic.Uint64 // orders idle transitions: lower went idle earlier
	shards  [shardCount]shard
	logGate *loggate.Gate
	seq     atomic.Uint64 // shard choice for connections without an IP
}

const shardCount = 64

type shard struct {
	mu      sync.Mutex
	sources map[netip.Prefix]int
	conns   map[*Conn]struct{}
}

// New builds a Guard that reads the limits in force from opts at every
// accept (the running policy's, so a reload applies to new connections;
// open ones keep their framing mode and are not cut if they exceed a
// lowered cap). maxConns is how many connections the listeners hold in
// all (0: no limit): at the limit, idle keep-alive connections are closed,
// those idle the longest first, to admit new ones; with none idle, new
// ones are refused. log receives refusal and shedding lines, at most a few
// a second.
func New(opts func() *Options, maxConns int, log *slog.Logger) *Guard {
	g := &Guard{opts: opts, maxConns: int64(maxConns), log: log, now: time.Now}
	g.logGate = &loggate.Gate{Burst: 10, Suppressed: logSuppressed.Inc}
	for i := range g.shards {
		g.shards[i].sources = map[netip.Prefix]int{}
		g.shards[i].conns = map[*Conn]struct{}{}
	}
	return g
}

// Open reports how many connections are open.
func (g *Guard) Open() int64 { return g.open.Load() }

// Listener wraps ln: every accepted connection is admitted or refused by the
// guard and, when admitted, returned as a *Conn (or a *TLSConn over TLS).
func (g *Guard) Listener(ln net.Listener) net.Listener { return &listener{Listener: ln, g: g} }

type listener struct {
	net.Listener
	g *Guard
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// Refusal reasons, for metrics and logs.
const (
	refusedPerSource = "per_source"
	refusedTotal     = "total"
)

var (
	openGauge     *metrics.Gauge
	refused       = map[string]*metrics.Counter{}
	shedIdle      = metrics.NewCounter(`edgeguard_conns_shed_total{kind="idle"}`)
	logSuppressed = metrics.NewCounter(`edgeguard_conns_log_suppressed_total`)
	violations    = map[framing.Violation]*metrics.Counter{}
	activeGuard   atomic.Pointer[Guard]
)

func init() {
	for _, r := range []string{refusedPerSource, refusedTotal} {
		refused[r] = metrics.NewCounter(fmt.Sprintf(`edgeguard_conns_refused_total{reason=%q}`, r))
	}
	for _, v := range framing.Violations() {
		violations[v] = metrics.NewCounter(fmt.Sprintf(`edgeguard_framing_violations_total{kind=%q}`, v))
	}
	openGauge = metrics.NewGauge(`edgeguard_conns_open`, func() float64 {
		if g := activeGuard.Load(); g != nil {
			return float64(g.Open())
		}
		return 0
	})
}

// Publish makes g the guard whose open connections the edgeguard_conns_open
// gauge reports.
func (g *Guard) Publish() { activeGuard.Store(g) }

// admit decides on a new connection: it returns the wrapped connection, or
// nil after closing c.
func (g *Guard) admit(c net.Conn) net.Conn {
	o := g.opts()
	v6 := o.IPv6Prefix
	if v6 <= 0 || v6 > 128 {
		v6 = 64
	}
	src, ok := sourceOf(c, v6)
	limit := o.MaxPerSource
	if ok && isTrusted(o.Trusted, src.Addr()) {
		limit = o.MaxPerTrusted
	}
	sh := g.shardFor(src, ok)
	inner := c
	if _, isTLS := c.(*tls.Conn); !isTLS {
		inner = yieldread.Wrap(c) // TLS keeps its *tls.Conn: TLSConn reads its state through it
	}
	gc := &Conn{Conn: inner, g: g, src: src, hasSrc: ok, shard: sh, strict: !o.LenientFraming}

	for attempt := 0; ; attempt++ {
		sh.mu.Lock()
		if !ok || limit <= 0 || sh.sources[src] < limit {
			break // still locked
		}
		// At its cap, the source's own idle keep-alive connection goes
		// first (a client pool that keeps more than it uses); a source
		// whose connections are all busy, such as one trickling request
		// heads, is refused.
		var victim *Conn
		if attempt == 0 {
			victim = sh.oldestIdle(src)
		}
		sh.mu.Unlock()
		if victim == nil || !g.shed(victim) {
			g.refuse(c, refusedPerSource, src, limit)
			return nil
		}
		g.logShed(1)
	}
	if ok {
		sh.sources[src]++
	}
	sh.conns[gc] = struct{}{}
	sh.mu.Unlock()

	if n := g.open.Add(1); g.maxConns > 0 && n > g.maxConns {
		if g.shedIdle(n-g.maxConns) == 0 {
			gc.release()
			g.refuse(c, refusedTotal, src, int(g.maxConns))
			return nil
		}
	}
	if _, isTLS := c.(*tls.Conn); isTLS {
		return &TLSConn{gc}
	}
	return gc
}

func (g *Guard) shardFor(src netip.Prefix, ok bool) *shard {
	if !ok {
		return &g.shards[g.seq.Add(1)%shardCount]
	}
	a := src.Addr().As16()
	h := uint64(14695981039346656037)
	for _, b := range a {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return &g.shards[h%shardCount]
}

// refuse closes c with a reset (no TIME_WAIT piles up under a flood), counts
// it and logs it within the log budget.
func (g *Guard) refuse(c net.Conn, reason string, src netip.Prefix, limit int) {
	resetRaw(c)
	refused[reason].Inc()
	if pass, suppressed := g.logGate.Pass(g.now().Unix()); pass {
		g.log.Warn("connection refused", "reason", reason, "source", src.String(), "limit", limit,
			"lines_suppressed", suppressed)
	}
}

// resetRaw closes the TCP connection under c with a reset, without a TLS
// close_notify (which can block on a peer that does not read).
func resetRaw(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(interface{ SetLinger(int) error }); ok { // *net.TCPConn, or a filter's wrapper
		_ = tcp.SetLinger(0)
	}
	_ = c.Close()
}

// shedIdle closes up to want idle keep-alive connections, those idle the
// longest among a bounded sample first, and returns how many it closed.
// It runs at accept time under pressure, so its cost is bounded: nothing
// when no connection is idle, at most maxExamined connections looked at.
func (g *Guard) shedIdle(want int64) int {
	if g.idle.Load() == 0 {
		return 0
	}
	type idle struct {
		c   *Conn
		seq uint64
	}
	const sample, maxExamined = 64, 4096
	var cands []idle
	examined := 0
	start := int(g.seq.Add(1) % shardCount) // spread the walk over the shards
	for k := 0; k < shardCount && len(cands) < sample && examined < maxExamined; k++ {
		sh := &g.shards[(start+k)%shardCount]
		sh.mu.Lock()
		for c := range sh.conns {
			if examined++; examined > maxExamined || len(cands) == sample {
				break
			}
			if s := c.idleSince.Load(); s != 0 {
				cands = append(cands, idle{c, s})
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(cands, func(a, b idle) int { return cmp.Compare(a.seq, b.seq) })
	closed := 0
	for _, cand := range cands {
		if int64(closed) >= want {
			break
		}
		if g.shed(cand.c) {
			closed++
		}
	}
	g.logShed(closed)
	return closed
}

// oldestIdle returns the connection of src idle the longest, or nil. The
// shard must be locked.
func (sh *shard) oldestIdle(src netip.Prefix) *Conn {
	var best *Conn
	var bestSince uint64
	for c := range sh.conns {
		if c.src != src {
			continue
		}
		if s := c.idleSince.Load(); s != 0 && (best == nil || s < bestSince) {
			best, bestSince = c, s
		}
	}
	return best
}

// shed closes c if it is still idle: a connection that went active since
// it was picked keeps its request. Its place is released at once and the
// socket reset, so a TLS peer that stopped reading cannot hold Accept in a
// close_notify write; the goroutine serving it sees the read fail and
// finishes.
func (g *Guard) shed(c *Conn) bool {
	s := c.idleSince.Load()
	if s == 0 || !c.idleSince.CompareAndSwap(s, 0) {
		return false
	}
	g.idle.Add(-1)
	c.release()
	resetRaw(c.Conn)
	shedIdle.Inc()
	return true
}

func (g *Guard) logShed(closed int) {
	if closed == 0 {
		return
	}
	if pass, suppressed := g.logGate.Pass(g.now().Unix()); pass {
		g.log.Warn("idle keep-alive connections closed to admit new ones", "closed", closed,
			"open", g.open.Load(), "lines_suppressed", suppressed)
	}
}

// ConnState is the fasthttp.Server.ConnState hook: it records which
// connections sit idle between keep-alive requests.
func (g *Guard) ConnState(c net.Conn, st fasthttp.ConnState) {
	gc := Unwrap(c)
	if gc == nil {
		return
	}
	switch st {
	case fasthttp.StateIdle:
		if gc.idleSince.Swap(g.idleSeq.Add(1)) == 0 {
			g.idle.Add(1)
		}
	case fasthttp.StateActive, fasthttp.StateHijacked:
		if gc.idleSince.Swap(0) != 0 {
			g.idle.Add(-1)
		}
	}
}

// Unwrap returns the guard's connection under c, or nil.
func Unwrap(c net.Conn) *Conn {
	switch v := c.(type) {
	case *Conn:
		return v
	case *TLSConn:
		return v.Conn
	}
	return nil
}

// sourceOf returns the source prefix of c's peer.
func sourceOf(c net.Conn, v6bits int) (netip.Prefix, bool) {
	a, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	addr := a.AddrPort().Addr().Unmap()
	bits := 32
	if addr.Is6() {
		bits = v6bits
	}
	p, err := addr.Prefix(bits)
	return p, err == nil
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ErrFraming is returned by Conn.Read once the client broke strict framing;
// Violation says how.
var ErrFraming = errors.New("read request: framing violation")

// Conn is an admitted connection. Its Read passes through only bytes that
// keep strict HTTP/1.1 framing.
type Conn struct {
	net.Conn
	g      *Guard
	src    netip.Prefix
	hasSrc bool
	shard  *shard
	strict bool

	rd, wd deadline // applied lazily (deadline.go)

	v         framing.Validator
	viol      framing.Violation
	idleSince atomic.Uint64 // Guard.idleSeq when it went idle; 0 while not idle
	released  atomic.Bool
}

// Read reads from the connection. With strict framing on, bytes up to a
// violation are returned and every later Read fails with ErrFraming, so
// the message that broke framing is never complete to the parser.
func (c *Conn) Read(p []byte) (int, error) {
	if c.viol != framing.None {
		return 0, ErrFraming
	}
	if t, ok := c.rd.due(); ok {
		if err := c.Conn.SetReadDeadline(t); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if !c.strict || n == 0 {
		return n, err
	}
	ok, viol := c.v.Feed(p[:n])
	if viol == framing.None {
		return n, err
	}
	c.viol = viol
	violations[viol].Inc()
	if ok == 0 {
		return 0, ErrFraming
	}
	return ok, nil
}

// Violation reports the framing rule the client broke, if any.
func (c *Conn) Violation() framing.Violation { return c.viol }

// InRequestLine reports whether what the client sent so far ends inside a
// request line (framing.Validator.InRequestLine).
func (c *Conn) InRequestLine() bool { return c.v.InRequestLine() }

// Close closes the connection and releases its place in the guard.
func (c *Conn) Close() error {
	c.release()
	return c.Conn.Close()
}

func (c *Conn) release() {
	if !c.released.CompareAndSwap(false, true) {
		return
	}
	if c.idleSince.Swap(0) != 0 {
		c.g.idle.Add(-1)
	}
	sh := c.shard
	sh.mu.Lock()
	if c.hasSrc {
		if n := sh.sources[c.src] - 1; n > 0 {
			sh.sources[c.src] = n
		} else {
			delete(sh.sources, c.src)
		}
	}
	delete(sh.conns, c)
	sh.mu.Unlock()
	c.g.open.Add(-1)
}

// TLSConn is a Conn over TLS: fasthttp finds the TLS state through it.
type TLSConn struct{ *Conn }

// Handshake runs the TLS handshake.
func (c *TLSConn) Handshake() error { return c.Conn.Conn.(*tls.Conn).Handshake() }

// ConnectionState returns the TLS state (client certificates for mTLS).
func (c *TLSConn) ConnectionState() tls.ConnectionState {
	return c.Conn.Conn.(*tls.Conn).ConnectionState()
}
