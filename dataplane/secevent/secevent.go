// Package secevent writes the gateway's security event stream: one JSON
// object per line, separate from the access log, for authentication
// failures, limiter delays, refusals and bans, burst bans at the NIC, WAF
// detections, validation refusals, blocklist and ban changes, config
// reloads and management calls. Identical request events (same type,
// client, route and reason) within a short window become one line with a
// count, so a flood writes a line per window, not a line per request.
//
// The package must never block its caller and never allocate on the
// request path: Emit copies the event into a fixed slot of a lock-free ring
// (internal/mpsc) and returns; one writer goroutine aggregates, encodes and writes. When the
// ring is full the event is dropped and counted
// (edgeguard_security_events_dropped_total), never waited for.
package secevent

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/internal/mpsc"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultBuffer   = 8192
	DefaultWindow   = time.Second
	DefaultMaxSize  = 100 << 20
	DefaultMaxAge   = 24 * time.Hour
	DefaultMaxFiles = 10
	// MaxKeys bounds the aggregation table: past it, the window ends early
	// (everything pending is written) so memory stays bounded whatever the
	// number of distinct clients.
	MaxKeys = 4096
)

// flushInterval is how often the writer takes the queued events and
// writes them out: an event reaches the file at most this much later.
const flushInterval = 50 * time.Millisecond

var (
	droppedTotal     = metrics.NewCounter("edgeguard_security_events_dropped_total")
	writtenTotal     = metrics.NewCounter("edgeguard_security_events_lines_written_total")
	writeErrorsTotal = metrics.NewCounter("edgeguard_security_events_write_errors_total")
	rotationsTotal   = metrics.NewCounter("edgeguard_security_events_rotations_total")
)

// Type is the kind of a security event. Its string form is stable API.
type Type uint8

const (
	TypeNone Type = iota
	// Request events, aggregated by (type, client, route, reason).
	AuthFailure       // 401/403/lockouts: bad, missing, ambiguous or locked credentials
	LimitDelay        // a request held back by a rate limit (80-100%)
	LimitRefused      // 429 from a rate limit
	LimitBan          // connection closed and source banned by a rate limit, or a banned source's request closed
	WAFDetection      // the WAF matched (blocked, or passed in detect mode)
	WAFError          // the WAF failed and the request was refused (fail closed)
	ValidationRefused // request refused by path, header, framing, size, media type or schema checks
	RouteRefused      // no route or method not allowed: probing
	// Burst bans at the NIC (XDP burst meter), aggregated like request events.
	BurstBan
	// Control-plane events, one line each.
	BlocklistChange // blocklist replaced or changed through the management API
	BanChange       // a source banned or unbanned through the management API
	ConfigReload    // a reload: applied, unchanged or rejected
	MgmtCall        // every management API call: who, what, result
	// Anomalies (dataplane/anomaly), one line per detection: a detector
	// alerts once per attack, not per request.
	AnomalyCredentialStuffing // a route's 401/403 rate far above its baseline
	AnomalyEnumeration        // one identity or client walked many resource IDs of one pattern
	AnomalyProbing            // one source collected many 404s
	AnomalyAdminFirstSeen     // a source reached an admin route for the first time
	AnomalyUnusualMethod      // a method the route never saw in warm-up, or outside its declared set
	// Cluster rate limits (dataplane/ratelimit/cluster), one line per
	// transition: Route holds the limits, Detail the reason.
	RateLimitClusterFallback // Redis slow or down: cluster limits run on local rates
	RateLimitClusterRestored // Redis answers again: cluster limits back in cluster mode
	numTypes
)

var typeNames = [numTypes]string{
	TypeNone:          "",
	AuthFailure:       "auth_failure",
	LimitDelay:        "limit_delay",
	LimitRefused:      "limit_refused",
	LimitBan:          "limit_ban",
	WAFDetection:      "waf_detection",
	WAFError:          "waf_error",
	ValidationRefused: "validation_refused",
	RouteRefused:      "route_refused",
	BurstBan:          "burst_ban",
	BlocklistChange:   "blocklist_change",
	BanChange:         "ban_change",
	ConfigReload:      "config_reload",
	MgmtCall:          "mgmt_call",

	AnomalyCredentialStuffing: "anomaly_credential_stuffing",
	AnomalyEnumeration:        "anomaly_enumeration",
	AnomalyProbing:            "anomaly_probing",
	AnomalyAdminFirstSeen:     "anomaly_admin_first_seen",
	AnomalyUnusualMethod:      "anomaly_unusual_method",
	RateLimitClusterFallback:  "ratelimit_cluster_fallback",
	RateLimitClusterRestored:  "ratelimit_cluster_restored",
}

// String returns the stable name, e.g. "auth_failure".
func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "unknown"
}

// aggregates reports whether repeats of t within a window share a line.
func (t Type) aggregates() bool { return t > TypeNone && t < BlocklistChange }

// Event is one security event. Emit reads it only during the call: slices
// may be reused afterwards, strings must be immutable (policy names, static
// reason codes, principals).
type Event struct {
	Type      Type
	Time      time.Time
	ClientIP  netip.Addr // the client, or for a ban the banned address
	Identity  string     // authenticated identity, when known
	Route     string
	RequestID []byte // copied, up to MaxRequestID bytes
	TraceID   []byte // W3C trace-id, 32 hex characters; copied
	Reason    string // stable reason code (pipeline.Reason names, "applied", ...)
	Detail    string // the precise cause behind Reason
	Status    int    // HTTP status answered; 0 when none
	Location  []byte // where a WAF detection matched; copied, up to MaxLocation bytes

	// Control-plane fields, omitted when zero.
	Source  string    // a banned source or network
	Until   time.Time // end of a ban
	By      string    // management caller (token or certificate name)
	Action  string    // what was asked: management route, reload trigger
	Result  string    // "ok", "denied", "error", "rejected", "unchanged"
	Entries int       // blocklist entries after a change
	Version uint64    // config or blocklist version after a change
}

// MaxRequestID and MaxLocation bound what an event slot holds inline.
const (
	MaxRequestID = 128
	MaxLocation  = 96
)

// Options configures Open.
type Options struct {
	// Path is "stdout", "stderr", "off" (or "") or a file, rotated by
	// MaxSize and MaxAge with MaxFiles rotated files kept.
	Path     string
	MaxSize  int64
	MaxAge   time.Duration
	MaxFiles int
	// Buffer is the ring's size in events (rounded up to a power of two).
	Buffer int
	// Window is the aggregation window.
	Window time.Duration
	// Writer, when set, replaces Path (tests).
	Writer io.Writer
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Log is an open event stream. A nil *Log is valid and emits nothing, which
// is what Open returns for "off".
type Log struct {
	ring    *mpsc.Ring[record]
	closed  atomic.Bool
	dropped atomic.Uint64
	now     func() time.Time
	window  time.Duration

	syncReq   chan chan struct{}
	reopenReq chan chan error
	quit      chan struct{}
	done      chan struct{}

	closeOnce sync.Once
	closeErr  error

	// Owned by the writer goroutine.
	out         output
	agg         aggregator
	windowStart time.Time
	line        []byte

	recent recent // the last lines written, for Recent
}

// Open starts a Log as o says; "off" and "" return a nil Log.
func Open(o Options) (*Log, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	l := &Log{
		ring:      mpsc.New[record](o.Buffer),
		now:       o.Now,
		window:    o.Window,
		syncReq:   make(chan chan struct{}),
		reopenReq: make(chan chan error),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		line:      make([]byte, 0, 1024),
	}
	switch {
	case o.Writer != nil:
		l.out.w = o.Writer
	case o.Path == "" || o.Path == "off":
		return nil, nil
	case o.Path == "stdout":
		l.out.w = os.Stdout
	case o.Path == "stderr":
		l.out.w = os.Stderr
	default:
		if o.MaxSize <= 0 {
			o.MaxSize = DefaultMaxSize
		}
		if o.MaxAge <= 0 {
			o.MaxAge = DefaultMaxAge
		}
		if o.MaxFiles <= 0 {
			o.MaxFiles = DefaultMaxFiles
		}
		r, err := openRotator(o.Path, o.MaxSize, o.MaxAge, o.MaxFiles, o.Now())
		if err != nil {
			return nil, fmt.Errorf("open security events: %w", err)
		}
		l.out.file = r
	}
	l.agg.init()
	l.windowStart = o.Now()
	go l.run()
	return l, nil
}

// Emit queues e. It never blocks and allocates nothing: when the ring is
// full, or the Log is closed, the event is dropped and counted.
func (l *Log) Emit(e *Event) {
	if l == nil {
		return
	}
	if l.closed.Load() {
		l.drop()
		return
	}
	rec, pos := l.ring.Claim()
	if rec == nil {
		l.drop()
		return
	}
	rec.set(e)
	if e.Time.IsZero() {
		// An emitter that did not stamp its event (control-plane events
		// are rare) gets the time it was emitted, never year 1.
		rec.time = l.now().UnixNano()
	}
	l.ring.Publish(pos)
}

func (l *Log) drop() {
	l.dropped.Add(1)
	droppedTotal.Inc()
}

// Dropped returns how many events this Log has dropped.
func (l *Log) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Sync has the writer take every queued event, end the aggregation window
// if it has passed, and write out what it has; it returns when that is done.
func (l *Log) Sync() {
	if l == nil {
		return
	}
	reply := make(chan struct{})
	select {
	case l.syncReq <- reply:
		<-reply
	case <-l.done:
	}
}

// Reopen writes out what is queued and opens the event file by its path
// again (after logrotate or an operator renamed it: SIGUSR1), keeping the
// old one when the new cannot be opened. Nothing to do for stdout.
func (l *Log) Reopen() error {
	if l == nil {
		return nil
	}
	reply := make(chan error)
	select {
	case l.reopenReq <- reply:
		return <-reply
	case <-l.done:
		return nil
	}
}

// Close writes every queued and aggregated event, flushes and closes the
// file. Events emitted after Close are dropped. Safe to call twice.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.quit)
		<-l.done
		// An Emit that passed the closed check just before Close may have
		// queued an event after the writer's last drain: the writer is
		// gone, so this goroutine is the consumer now.
		for l.ring.Take() != nil {
			l.ring.Release()
			l.drop()
		}
	})
	return l.closeErr
}

var errWrite = errors.New("write security events")

// run is the writer goroutine.
func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(flushInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.cycle(false)
		case reply := <-l.syncReq:
			l.cycle(false)
			close(reply)
		case reply := <-l.reopenReq:
			l.cycle(false)
			reply <- l.out.reopen(l.now())
		case <-l.quit:
			l.cycle(true)
			if err := l.out.close(); err != nil {
				l.closeErr = fmt.Errorf("close security events: %w", err)
			}
			return
		}
	}
}

// cycle drains the ring, ends the window when it has passed (or always, at
// the end), and writes out.
func (l *Log) cycle(final bool) {
	now := l.now()
	for {
		rec := l.ring.Take()
		if rec == nil {
			break
		}
		l.handle(rec, now)
		l.ring.Release()
	}
	if final || now.Sub(l.windowStart) >= l.window {
		l.endWindow(now, final)
		l.windowStart = now
	}
	l.out.flush(now)
}

// handle writes r at once, or counts it against an earlier identical event
// of the window.
func (l *Log) handle(r *record, now time.Time) {
	if !r.typ.aggregates() {
		l.write(r, 1, 0, now)
		return
	}
	if e := l.agg.get(r); e != nil {
		if e.pending == 0 {
			e.first = r.time
		}
		e.pending++
		e.last = *r
		return
	}
	if l.agg.full() {
		l.endWindow(now, true)
		l.windowStart = now
	}
	// The first occurrence is written at once, so that an alert on the
	// stream is never a window late.
	l.write(r, 1, 0, now)
	l.agg.add(r)
}

// endWindow writes one line per key with repeats since its last line. Keys
// without repeats are forgotten (their next event is written at once);
// busy keys are kept, so a flood writes one line per window. all forgets
// every key.
func (l *Log) endWindow(now time.Time, all bool) {
	l.agg.sweep(all, func(e *entry) {
		l.write(&e.last, e.pending, e.first, now)
	})
}

func (l *Log) write(r *record, count int64, first int64, now time.Time) {
	l.line = appendRecord(l.line[:0], r, count, first)
	l.out.line(l.line, now)
	l.recent.keep(r, l.line)
}
