package anomaly

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/dataplane/secevent"
)

// Status classes a route's baselines follow.
const (
	classTotal = iota
	class1xx
	class2xx
	class3xx
	class4xx
	class5xx
	classAuth // 401 and 403
	numClasses
)

var classNames = [numClasses]string{"total", "1xx", "2xx", "3xx", "4xx", "5xx", "auth_failure"}

// routeState is what the detector keeps of one route across reloads. Only
// the detector goroutine touches it after newRouteState.
type routeState struct {
	name  string
	born  time.Time // the detector met the route (admin warm-up)
	first time.Time // the route's first request (baseline and method warm-ups)

	cur   [numClasses]uint64  // since the last evaluation
	rate  [numClasses]float64 // baselines: exponentially weighted, per second
	evals int                 // evaluations so far (the running mean during warm-up)
	gauge [numClasses]*metrics.Gauge

	// Credential stuffing: failures per interval over the window, and the
	// failing sources (for bans).
	fails    []uint64
	failPos  int
	alerting bool
	srcs     *table[netip.Addr, windowCount]

	seen, reported uint16 // methods seen in warm-up, unusual ones reported

	admins *table[netip.Addr, struct{}]
	enum   *table[enumKey, enumEntry]
}

func newRouteState(name string, now time.Time) *routeState {
	rs := &routeState{name: name, born: now}
	for c := range rs.gauge {
		rs.gauge[c] = metrics.GetOrCreateGauge(`edgeguard_anomaly_baseline_per_second{route=`+quote(name)+`,class="`+classNames[c]+`"}`, nil)
	}
	return rs
}

func (rs *routeState) count(status uint16, now time.Time) {
	if rs.first.IsZero() {
		rs.first = now
	}
	rs.cur[classTotal]++
	if c := int(status / 100); c >= 1 && c <= 5 {
		rs.cur[c]++
	}
	if status == 401 || status == 403 {
		rs.cur[classAuth]++
	}
}

// evaluate updates rs's baselines with the interval that just ended and
// runs the rate detector (credential stuffing).
func (d *Detector) evaluate(rs *routeState, cfg *Config, now time.Time, elapsed time.Duration) {
	if rs.first.IsZero() {
		return // no request yet: the warm-up's running mean starts with the first
	}
	sc := &cfg.Stuffing
	ticks := max(int(math.Ceil(float64(sc.Window)/float64(cfg.Interval))), 1)
	if len(rs.fails) != ticks {
		rs.fails, rs.failPos = make([]uint64, ticks), 0
	}
	// The failure baseline learns from the interval leaving the window, so
	// that the window's own failures never raise the bar they are
	// compared with.
	// A late evaluation moves the window by every interval that passed.
	var leaving uint64
	for range min(max(int(elapsed/cfg.Interval), 1), ticks) {
		leaving += rs.fails[rs.failPos]
		rs.fails[rs.failPos] = 0
		rs.failPos = (rs.failPos + 1) % ticks
	}
	rs.fails[(rs.failPos+ticks-1)%ticks] = rs.cur[classAuth]
	var inWindow uint64
	for _, n := range rs.fails {
		inWindow += n
	}
	if sc.On {
		current := float64(inWindow) / sc.Window.Seconds()
		limit := sc.Factor * rs.rate[classAuth]
		warm := now.Sub(rs.first) >= sc.Warmup
		switch {
		case !rs.alerting && warm && inWindow >= uint64(sc.MinFailures) && current > limit:
			rs.alerting = true
			top, topN := rs.topSource(now, sc.Window)
			d.raise(CredentialStuffing, secevent.AnomalyCredentialStuffing, rs.name, top, "", "auth_failure_rate",
				fmt.Sprintf("%d 401/403 in %s (%.2f/s, baseline %.2f/s); top source %v with %d", inWindow, sc.Window, current,
					rs.rate[classAuth], top, topN), false, cfg, now)
			if sc.Ban {
				d.banFailing(rs, cfg, now)
			}
		case rs.alerting && (inWindow < uint64(sc.MinFailures)/2 || current <= limit/2):
			// Hysteresis: an attack hovering at the threshold alerts once.
			// What the window still holds of it never reaches the baseline.
			rs.alerting = false
			clear(rs.fails)
			leaving = 0
		}
	}
	secs := elapsed.Seconds()
	alpha := 1 - math.Exp(-secs/cfg.Baseline.Seconds())
	warming := now.Sub(rs.first) < cfg.Stuffing.Warmup
	rs.evals++
	for c := range rs.rate {
		inst := float64(rs.cur[c]) / secs
		rs.cur[c] = 0
		if c == classAuth && rs.alerting {
			continue // an attack must not become the baseline
		}
		if c == classAuth {
			inst = float64(leaving) / secs
		}
		if warming {
			rs.rate[c] += (inst - rs.rate[c]) / float64(rs.evals) // running mean
		} else {
			rs.rate[c] += alpha * (inst - rs.rate[c])
		}
		rs.gauge[c].Set(rs.rate[c])
	}
}

// failed counts a 401/403 of src on rs (for bans during an alert).
func (d *Detector) failed(rs *routeState, src, client netip.Addr, cfg *Config, now time.Time) {
	sc := &cfg.Stuffing
	rs.srcs = resize(rs.srcs, sc.MaxSources)
	w, _ := rs.srcs.get(src)
	w.add(now, sc.Window, math.MaxInt)
	if rs.alerting && sc.Ban && !w.banned && w.n >= sc.BanMinFailures {
		w.banned = true
		d.ban(CredentialStuffing, client, cfg, now)
	}
}

// banFailing bans every source with enough failures in the window, when
// an alert starts.
func (d *Detector) banFailing(rs *routeState, cfg *Config, now time.Time) {
	if rs.srcs == nil {
		return
	}
	for i := range rs.srcs.vals {
		w := &rs.srcs.vals[i]
		if !w.banned && w.n >= cfg.Stuffing.BanMinFailures && now.Sub(w.start) < cfg.Stuffing.Window {
			w.banned = true
			d.ban(CredentialStuffing, rs.srcs.keys[i], cfg, now)
		}
	}
}

// topSource is the source with the most failures in the current window.
func (rs *routeState) topSource(now time.Time, window time.Duration) (netip.Addr, int) {
	var top netip.Addr
	n := 0
	if rs.srcs == nil {
		return top, 0
	}
	for i, w := range rs.srcs.vals {
		if w.n > n && now.Sub(w.start) < window {
			top, n = rs.srcs.keys[i], w.n
		}
	}
	return top, n
}

// probe counts a 404 of src.
func (d *Detector) probe(rec *record, src netip.Addr, cfg *Config, now time.Time) {
	w, _ := d.st.probes.get(src)
	if w.add(now, cfg.Probing.Window, cfg.Probing.Threshold) {
		d.raise(Probing, secevent.AnomalyProbing, rec.route.name, rec.client, rec.identity, "not_found_rate",
			fmt.Sprintf("%d 404s within %s; last %q", w.n, cfg.Probing.Window, rec.pathBytes()), cfg.Probing.Ban, cfg, now)
	}
}

// checkMethod learns a route's methods during warm-up and reports each
// method it never saw (or that its declared set lacks) once.
func (d *Detector) checkMethod(rt *Route, rs *routeState, rec *record, cfg *Config, now time.Time) {
	bit := uint16(1) << rec.method
	known := rt.declared
	if known == 0 {
		if now.Sub(rs.first) < cfg.Methods.Warmup {
			rs.seen |= bit
			return
		}
		known = rs.seen
	}
	if known&bit != 0 || rs.reported&bit != 0 {
		return
	}
	rs.reported |= bit
	name := "other"
	if rec.method < methodOther {
		name = methodNames[rec.method]
	} else if rec.methodLen > 0 {
		name = string(rec.methodName[:rec.methodLen])
	}
	how := "never seen during warm-up"
	if rt.declared != 0 {
		how = "not declared"
	}
	d.raise(UnusualMethod, secevent.AnomalyUnusualMethod, rs.name, rec.client, rec.identity, "unusual_method",
		fmt.Sprintf("method %s %s; status %d", name, how, rec.status), cfg.Methods.Ban, cfg, now)
}

// checkAdmin reports a source's first request to an admin-scoped route.
func (d *Detector) checkAdmin(rt *Route, rs *routeState, rec *record, src netip.Addr, cfg *Config, now time.Time) {
	rs.admins = resize(rs.admins, cfg.Admin.MaxSources)
	if _, added := rs.admins.get(src); !added || now.Sub(rs.born) < cfg.Admin.Warmup {
		return
	}
	d.raise(AdminFirstSeen, secevent.AnomalyAdminFirstSeen, rs.name, rec.client, rec.identity, "first_admin_access",
		fmt.Sprintf("first request of this source to an admin route: %s %q, status %d", methodName(rec), rec.pathBytes(), rec.status),
		cfg.Admin.Ban, cfg, now)
}

func methodName(rec *record) string {
	if rec.method < methodOther {
		return methodNames[rec.method]
	}
	return string(rec.methodName[:rec.methodLen])
}

// enumKey is who walks which pattern: an identity when there is one, else
// the client's source.
type enumKey struct {
	pattern  uint64
	identity string
	source   netip.Addr
}

type enumEntry struct {
	start    time.Time
	ids      sketch
	alerting bool
}

// enumerate counts the resource ID of rec's path under its pattern.
func (d *Detector) enumerate(rt *Route, rs *routeState, rec *record, src netip.Addr, cfg *Config, now time.Time) {
	ec := &cfg.Enumeration
	path := rec.pathBytes()
	var pat, ids uint64
	text, ok := "", false
	for i := range ec.patterns {
		if ids, ok = ec.patterns[i].match(path); ok {
			pat, text = ec.patterns[i].hash, ec.patterns[i].text
			break
		}
	}
	if !ok && ec.Infer {
		pat, ids, ok = infer(path)
	}
	if !ok {
		return
	}
	k := enumKey{pattern: pat, identity: rec.identity}
	if k.identity == "" {
		k.source = src
	}
	rs.enum = resize(rs.enum, ec.MaxKeys)
	e, _ := rs.enum.get(k)
	if now.Sub(e.start) >= ec.Window {
		if e.ids.estimate() < float64(ec.Threshold) || now.Sub(e.start) >= 2*ec.Window {
			e.alerting = false
		}
		e.start, e.ids = now, sketch{}
	}
	if !e.ids.add(ids) || e.alerting {
		return
	}
	n := e.ids.estimate()
	if n < float64(ec.Threshold) {
		return
	}
	e.alerting = true
	if text == "" {
		text = inferredText(path)
	}
	d.raise(Enumeration, secevent.AnomalyEnumeration, rs.name, rec.client, rec.identity, "distinct_ids",
		fmt.Sprintf("%.0f distinct IDs of %s within %s", n, text, ec.Window), ec.Ban, cfg, now)
}

var idSegment = []byte("{id}")

// infer takes numeric and UUID segments of path as IDs: the pattern is
// the path with them replaced by {id}.
func infer(path []byte) (pat, ids uint64, ok bool) {
	pat, ids = fnvOffset, fnvOffset
	for len(path) > 0 {
		if path[0] == '/' {
			pat = fnvAdd(pat, sep)
			path = path[1:]
			continue
		}
		end := bytes.IndexByte(path, '/')
		if end < 0 {
			end = len(path)
		}
		seg := path[:end]
		if isID(seg) {
			pat = fnvAdd(pat, idSegment)
			ids = fnvAdd(fnvAdd(ids, seg), sep)
			ok = true
		} else {
			pat = fnvAdd(pat, seg)
		}
		path = path[end:]
	}
	return pat, ids, ok
}

// inferredText is the pattern infer found, for the event.
func inferredText(path []byte) string {
	segs := strings.Split(string(path), "/")
	for i, s := range segs {
		if isID([]byte(s)) {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// isID reports whether seg is all digits or a UUID (8-4-4-4-12 hex).
func isID(seg []byte) bool {
	if len(seg) == 0 {
		return false
	}
	digits := true
	for _, c := range seg {
		if c < '0' || c > '9' {
			digits = false
			break
		}
	}
	if digits {
		return true
	}
	if len(seg) != 36 {
		return false
	}
	for i, c := range seg {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
