// Package anomaly is the gateway's built-in anomaly detection: per-route
// baselines of request rate and status classes, and detectors that raise a
// security event and a metric (and, where configured, ban the source
// through the same enforcer the rate limiter bans with) when traffic turns
// into credential stuffing, enumeration of resource IDs, 404 probing, a
// first visit to an admin route, or a method a route never serves.
//
// The request path only hands an observation over: Route.Observe copies a
// few fields into a fixed slot of a lock-free ring (internal/mpsc) and
// returns, O(1) and without allocating; a full ring drops the observation
// and counts it. One goroutine drains the ring, keeps every table (each
// bounded, oldest evicted) and evaluates the detectors on a ticker. The
// package must never block or allocate on the request path, and never
// keep unbounded state per client.
package anomaly

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/internal/mpsc"
)

// Detector names: the metric's detector label and the event types'
// strings (secevent.Anomaly*).
const (
	CredentialStuffing = "credential_stuffing"
	Enumeration        = "enumeration"
	Probing            = "probing"
	AdminFirstSeen     = "admin_first_seen"
	UnusualMethod      = "unusual_method"
)

const (
	// DefaultBuffer is the ring's size in observations: drained every
	// drainInterval, it holds ~800k requests/s.
	DefaultBuffer = 16384
	// MaxPath is the longest path an observation keeps; longer paths are
	// left out of enumeration (their IDs could be cut).
	MaxPath = 128
	// maxMethod is the longest method name an observation keeps, for the
	// event of an unusual one.
	maxMethod = 15
)

// drainInterval is how often the detector goroutine drains the ring;
// detectors are evaluated every Config.Interval.
const drainInterval = 20 * time.Millisecond

var droppedTotal = metrics.NewCounter("edgeguard_anomaly_observations_dropped_total")

// Banner bans sources: the enforcer (XDP at the NIC, or the accept-time
// filter), as the rate limiter bans.
type Banner interface {
	Ban(src netip.Prefix, until time.Time) error
}

var _ Banner = enforce.Enforcer(nil)

// Options configures New.
type Options struct {
	Events *secevent.Log // anomaly events; nil: none (metrics and logs only)
	Banner Banner        // nil: detectors that would ban only report
	Log    *slog.Logger
	Buffer int              // ring size; 0: DefaultBuffer
	Now    func() time.Time // clock; nil: time.Now
	// Manual leaves the goroutine unstarted: the caller drives Step (tests).
	Manual bool
	// StatePath is the file that keeps what the detectors learnt (routes'
	// baselines, methods, admin sources) across restarts (persist.go);
	// "": kept in memory only. Read by New, written every SaveEvery
	// (DefaultSaveEvery when 0) and at Close when anything was observed.
	StatePath string
	SaveEvery time.Duration
}

// Detector owns the detection state of a process. Policies come and go on
// reload; the Detector (and every baseline in it) lives on, and each
// policy's routes observe through Route handles that carry its settings.
type Detector struct {
	ring    *mpsc.Ring[record]
	dropped atomic.Uint64
	closed  atomic.Bool
	frozen  atomic.Bool // the state file is another process's (SetFrozen)
	now     func() time.Time
	log     *slog.Logger
	banner  Banner
	// report delivers an anomaly (events.Emit; tests replace it).
	report func(*secevent.Event)

	mu     sync.Mutex // guards routes: Route runs at compile time, the goroutine reads
	routes map[string]*routeState

	quit chan struct{}
	done chan struct{}
	once sync.Once

	statePath string
	saveEvery time.Duration

	// Owned by the detector goroutine (or Step's caller).
	st state
}

// New returns a running Detector (unless o.Manual).
func New(o Options) *Detector {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	d := &Detector{
		ring:   mpsc.New[record](o.Buffer),
		now:    o.Now,
		log:    o.Log,
		banner: o.Banner,
		routes: map[string]*routeState{},
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	d.report = o.Events.Emit
	d.st.init(d.now())
	if o.StatePath != "" {
		d.statePath, d.saveEvery = o.StatePath, o.SaveEvery
		if d.saveEvery <= 0 {
			d.saveEvery = DefaultSaveEvery
		}
		if n, err := d.loadState(o.StatePath); err != nil {
			d.log.Warn("anomaly: starting without the learnt state", "error", err)
		} else if n > 0 {
			d.log.Info("anomaly: learnt state restored", "path", o.StatePath, "routes", n)
		}
	}
	if o.Manual {
		close(d.done)
	} else {
		go d.run()
	}
	return d
}

// Route returns the handle through which the requests of the named route
// (or, with name "", requests no route took) are observed under cfg. The
// route's baselines survive reloads: handles of the same name share them.
func (d *Detector) Route(name string, cfg *Config) *Route {
	if d == nil {
		return nil
	}
	rt := &Route{d: d, cfg: cfg, name: name}
	if name != "" {
		d.mu.Lock()
		rs, ok := d.routes[name]
		if !ok {
			rs = newRouteState(name, d.now())
			d.routes[name] = rs
		}
		d.mu.Unlock()
		rt.state = rs
		rt.admin = cfg.isAdmin(name)
		rt.declared = cfg.declaredMethods(name)
	}
	return rt
}

// Dropped returns how many observations were dropped because the ring was full.
func (d *Detector) Dropped() uint64 { return d.dropped.Load() }

// Close stops the goroutine, which writes the state file first. Safe to
// call twice and on nil.
func (d *Detector) Close() {
	if d == nil {
		return
	}
	d.once.Do(func() {
		d.closed.Store(true)
		close(d.quit)
		<-d.done
	})
}

// Route is one policy's view of a route: its settings and the route's
// lasting state. A nil *Route observes nothing (detection off).
type Route struct {
	d        *Detector
	cfg      *Config
	state    *routeState // nil: requests no route took
	name     string
	admin    bool   // anomaly.admin_first_seen.routes names the route
	declared uint16 // methodBit set of anomaly.unusual_methods.declared; 0: learnt
}

// Observe hands one finished request to the detector: O(1), lock-free,
// no allocation. identity must be immutable (a principal or a policy
// string); method and path are copied.
func (rt *Route) Observe(method []byte, status int, client netip.Addr, identity string, path []byte) {
	if rt == nil {
		return
	}
	d := rt.d
	if d.closed.Load() {
		return
	}
	rec, pos := d.ring.Claim()
	if rec == nil {
		d.dropped.Add(1)
		droppedTotal.Inc()
		return
	}
	rec.route = rt
	rec.client = client
	rec.identity = identity
	rec.status = uint16(status)
	rec.method = methodIndex(method)
	rec.methodLen = 0
	if rec.method == methodOther {
		rec.methodLen = uint8(copy(rec.methodName[:], method))
	}
	rec.pathLen = uint8(copy(rec.path[:], path))
	rec.pathCut = len(path) > MaxPath
	d.ring.Publish(pos)
}

// record is an observation in its ring slot.
type record struct {
	route      *Route
	client     netip.Addr
	identity   string
	status     uint16
	method     uint8
	methodLen  uint8
	pathLen    uint8
	pathCut    bool
	methodName [maxMethod]byte
	path       [MaxPath]byte
}

func (r *record) pathBytes() []byte { return r.path[:r.pathLen] }

// run is the detector goroutine.
func (d *Detector) run() {
	defer close(d.done)
	tick := time.NewTicker(drainInterval)
	defer tick.Stop()
	var save <-chan time.Time
	if d.statePath != "" {
		t := time.NewTicker(d.saveEvery)
		defer t.Stop()
		save = t.C
	}
	for {
		select {
		case <-tick.C:
			d.Step()
		case <-save:
			d.saveLogged()
		case <-d.quit:
			d.saveLogged()
			return
		}
	}
}

func (d *Detector) saveLogged() {
	if err := d.SaveState(); err != nil {
		d.log.Error("anomaly: state not saved", "error", err)
	}
}

// Step drains the ring and, once Config.Interval has passed since the last
// evaluation, evaluates the detectors at the clock's time. The goroutine
// calls it; with Options.Manual the caller does, from one goroutine.
func (d *Detector) Step() {
	now := d.now()
	if d.st.cfg == nil {
		d.st.lastEval = now // nothing observed yet: the first interval starts with the first request
	}
	for {
		rec := d.ring.Take()
		if rec == nil {
			break
		}
		d.observe(rec, now)
		rec.route, rec.identity = nil, "" // an old policy's settings are not kept alive by a slot
		d.ring.Release()
	}
	cfg := d.st.cfg
	if cfg == nil || now.Sub(d.st.lastEval) < cfg.Interval {
		return
	}
	elapsed := now.Sub(d.st.lastEval)
	d.st.lastEval = now
	d.mu.Lock()
	d.st.routeList = d.st.routeList[:0]
	for _, rs := range d.routes {
		d.st.routeList = append(d.st.routeList, rs)
	}
	d.mu.Unlock()
	for _, rs := range d.st.routeList {
		d.evaluate(rs, cfg, now, elapsed)
	}
}

// state is what the detector goroutine keeps beside the routes.
type state struct {
	cfg       *Config // of the latest observation
	lastEval  time.Time
	probes    *table[netip.Addr, windowCount]
	routeList []*routeState
	dirty     bool // observed since the state file was last written
}

func (s *state) init(now time.Time) { s.lastEval = now }

// observe counts one observation into every detector that wants it.
func (d *Detector) observe(rec *record, now time.Time) {
	rt := rec.route
	cfg := rt.cfg
	d.st.dirty = true
	if cfg != d.st.cfg {
		d.st.cfg = cfg
		d.st.probes = resize(d.st.probes, cfg.Probing.MaxSources)
	}
	src := cfg.sourceOf(rec.client)
	if rec.status == 404 && cfg.Probing.On && rec.client.IsValid() {
		d.probe(rec, src, cfg, now)
	}
	rs := rt.state
	if rs == nil {
		return
	}
	rs.count(rec.status, now)
	if cfg.Stuffing.On && (rec.status == 401 || rec.status == 403) && rec.client.IsValid() {
		d.failed(rs, src, rec.client, cfg, now)
	}
	if cfg.Methods.On {
		d.checkMethod(rt, rs, rec, cfg, now)
	}
	if rt.admin && cfg.Admin.On && rec.client.IsValid() {
		d.checkAdmin(rt, rs, rec, src, cfg, now)
	}
	if cfg.Enumeration.On && !rec.pathCut {
		d.enumerate(rt, rs, rec, src, cfg, now)
	}
}

// raise reports one detection: an event, a metric, a log line, and the
// ban when the detector escalates.
func (d *Detector) raise(detector string, typ secevent.Type, route string, client netip.Addr, identity, reason, detail string,
	ban bool, cfg *Config, now time.Time) {
	metrics.GetOrCreateCounter(`edgeguard_anomalies_total{detector="` + detector + `",route=` + quote(route) + `}`).Inc()
	e := secevent.Event{Type: typ, Time: now, ClientIP: client, Identity: identity, Route: route, Reason: reason, Detail: detail}
	if ban {
		if src, until, ok := d.ban(detector, client, cfg, now); ok {
			e.Source, e.Until = enforce.FormatSource(src), until
		}
	}
	args := []any{"detector", detector, "route", route, "client", client, "identity", identity, "reason", reason, "detail", detail}
	if !e.Until.IsZero() {
		args = append(args, "banned_until", e.Until)
	}
	d.log.Warn("anomaly detected", args...)
	d.report(&e)
}

// ban bans client's source (its address, or its IPv6 network of the
// configured prefix) for cfg.BanFor through the enforcer.
func (d *Detector) ban(detector string, client netip.Addr, cfg *Config, now time.Time) (netip.Prefix, time.Time, bool) {
	if d.banner == nil || !client.IsValid() {
		return netip.Prefix{}, time.Time{}, false
	}
	src := enforce.Host(client)
	if src.Addr().Is6() {
		src, _ = src.Addr().Prefix(max(cfg.IPv6Prefix, enforce.MinNetBanBits))
	}
	until := now.Add(cfg.BanFor)
	if err := d.banner.Ban(src, until); err != nil {
		metrics.GetOrCreateCounter(`edgeguard_anomaly_bans_failed_total{detector="` + detector + `"}`).Inc()
		d.log.Error("anomaly: ban failed", "detector", detector, "source", enforce.FormatSource(src), "error", err)
		return netip.Prefix{}, time.Time{}, false
	}
	metrics.GetOrCreateCounter(`edgeguard_anomaly_bans_total{detector="` + detector + `"}`).Inc()
	return src, until, true
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
