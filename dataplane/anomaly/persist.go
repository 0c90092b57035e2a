package anomaly

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/internal/atomicfile"
)

// What a restart must not forget is what took a warm-up to learn: each
// route's baselines, the methods it serves, and the sources known to use
// its admin routes. Without it, every restart or upgrade opens a warm-up in
// which a new admin source or an unusual method is learnt as normal. The
// windows of the running detectors (failures, 404s, ID walks) are not kept:
// they describe the last minutes, not what is normal.

// stateVersion is the state file's format.
const stateVersion = 1

// DefaultSaveEvery is how often a Detector with a state file writes it,
// besides at Close.
const DefaultSaveEvery = time.Minute

// maxSavedRoutes bounds what a state file may hold: a file is read whole.
const maxSavedRoutes = 100000

type savedState struct {
	Version int          `json:"version"`
	Saved   time.Time    `json:"saved"`
	Routes  []savedRoute `json:"routes"`
}

type savedRoute struct {
	Name  string    `json:"name"`
	Born  time.Time `json:"born"`           // the detector met the route: the admin warm-up's start
	First time.Time `json:"first,omitzero"` // the route's first request: the other warm-ups' start
	// Rates are the baselines per second, by class (classNames' order).
	Rates    map[string]float64 `json:"rates"`
	Evals    int                `json:"evaluations"`
	Seen     []string           `json:"methods_seen,omitempty"`     // learnt in warm-up
	Reported []string           `json:"methods_reported,omitempty"` // unusual ones already reported
	Admins   []netip.Addr       `json:"admin_sources,omitempty"`    // oldest first
}

// setAsideTotal counts damaged state files moved out of the way at start.
var setAsideTotal = metrics.NewCounter("edgeguard_anomaly_restore_set_aside_total")

// loadState reads the state file at path into d's routes. A missing file
// is a first start; any other problem is returned, naming it, and d starts
// fresh; a damaged file is set aside (anomaly.state.corrupt-<time>).
func (d *Detector) loadState(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("anomaly state: %w", err)
	}
	routes, err := decodeState(f)
	f.Close()
	if err != nil {
		// Moved away, not overwritten by the next save: the operator
		// may want what it held.
		setAsideTotal.Inc()
		if aside, serr := atomicfile.SetAside(path, time.Now()); serr == nil {
			return 0, fmt.Errorf("anomaly state %s: %w (set aside as %s)", path, err, filepath.Base(aside))
		}
		return 0, fmt.Errorf("anomaly state %s: %w", path, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, rs := range routes {
		d.routes[rs.name] = rs
	}
	return len(routes), nil
}

// decodeState parses and checks a state file: all of it or nothing.
func decodeState(r io.Reader) ([]*routeState, error) {
	var st savedState
	dec := json.NewDecoder(io.LimitReader(r, 256<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("not a state file: %w", err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("version %d, this gateway reads %d", st.Version, stateVersion)
	}
	if len(st.Routes) > maxSavedRoutes {
		return nil, fmt.Errorf("%d routes, at most %d", len(st.Routes), maxSavedRoutes)
	}
	out := make([]*routeState, 0, len(st.Routes))
	seen := map[string]bool{}
	for i, sr := range st.Routes {
		rs, err := sr.routeState()
		if err != nil {
			return nil, fmt.Errorf("routes[%d]: %w", i, err)
		}
		if seen[rs.name] {
			return nil, fmt.Errorf("routes[%d]: route %q twice", i, rs.name)
		}
		seen[rs.name] = true
		out = append(out, rs)
	}
	return out, nil
}

func (sr *savedRoute) routeState() (*routeState, error) {
	if sr.Name == "" {
		return nil, errors.New("route without a name")
	}
	if sr.Born.IsZero() {
		return nil, fmt.Errorf("route %q: no born time", sr.Name)
	}
	if sr.Evals < 0 {
		return nil, fmt.Errorf("route %q: evaluations %d", sr.Name, sr.Evals)
	}
	rs := newRouteState(sr.Name, sr.Born)
	rs.first, rs.evals = sr.First, sr.Evals
	for name, v := range sr.Rates {
		c := classIndex(name)
		if c < 0 {
			return nil, fmt.Errorf("route %q: rates: unknown class %q", sr.Name, name)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("route %q: rates.%s: %v is not a rate", sr.Name, name, v)
		}
		rs.rate[c] = v
	}
	var err error
	if rs.seen, err = methodSet(sr.Seen); err != nil {
		return nil, fmt.Errorf("route %q: methods_seen: %w", sr.Name, err)
	}
	if rs.reported, err = methodSet(sr.Reported); err != nil {
		return nil, fmt.Errorf("route %q: methods_reported: %w", sr.Name, err)
	}
	if len(sr.Admins) > 0 {
		rs.admins = newTable[netip.Addr, struct{}](len(sr.Admins))
		for _, a := range sr.Admins {
			if !a.IsValid() || a.Zone() != "" {
				return nil, fmt.Errorf("route %q: admin_sources: %v is not an address", sr.Name, a)
			}
			rs.admins.get(a)
		}
	}
	return rs, nil
}

func classIndex(name string) int {
	for c, n := range classNames {
		if n == name {
			return c
		}
	}
	return -1
}

// methodSet is the bit set of method names; "other" is any method beyond
// the nine of RFC 9110 and RFC 5789.
func methodSet(names []string) (uint16, error) {
	var set uint16
	for _, n := range names {
		i := methodIndex([]byte(n))
		if i == methodOther && n != "other" {
			return 0, fmt.Errorf("unknown method %q", n)
		}
		set |= 1 << i
	}
	return set, nil
}

func methodList(set uint16) []string {
	var out []string
	for i := range methodOther + 1 {
		if set&(1<<i) == 0 {
			continue
		}
		if i == methodOther {
			out = append(out, "other")
		} else {
			out = append(out, methodNames[i])
		}
	}
	return out
}

// saveState writes what the detector learnt to its state file, atomically.
// It runs on the detector goroutine (or Step's caller), which owns the
// routes' fields.
func (d *Detector) saveState(now time.Time) error {
	st := savedState{Version: stateVersion, Saved: now.UTC()}
	d.mu.Lock()
	for _, rs := range d.routes {
		sr := savedRoute{Name: rs.name, Born: rs.born.UTC(), Evals: rs.evals, Rates: map[string]float64{},
			Seen: methodList(rs.seen), Reported: methodList(rs.reported)}
		if !rs.first.IsZero() {
			sr.First = rs.first.UTC()
		}
		for c, v := range rs.rate {
			sr.Rates[classNames[c]] = v
		}
		if rs.admins != nil {
			rs.admins.each(func(a netip.Addr, _ *struct{}) { sr.Admins = append(sr.Admins, a) })
		}
		st.Routes = append(st.Routes, sr)
	}
	d.mu.Unlock()
	err := atomicfile.Write(d.statePath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(&st)
	})
	if err != nil {
		return fmt.Errorf("save anomaly state: %w", err)
	}
	return nil
}

// SaveState writes the state file now, if the Detector has one and
// observed anything since it last wrote it. Call it only where Step may be
// called: from the goroutine that drives a Manual Detector.
func (d *Detector) SaveState() error {
	if d.statePath == "" || !d.st.dirty || d.frozen.Load() {
		return nil // frozen: still dirty, written once thawed
	}
	if err := d.saveState(d.now()); err != nil {
		return err
	}
	d.st.dirty = false
	return nil
}

// SetFrozen stops (true) or resumes (false) writing the state file: while
// an upgrade's successor owns it, this process, draining, must not write
// its older view over the successor's. Detection goes on either way.
func (d *Detector) SetFrozen(frozen bool) {
	if d != nil {
		d.frozen.Store(frozen)
	}
}
