package blocklist

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

// Applier is what enforces the list: enforce.Enforcer (the XDP program or
// the user-space filter) satisfies it. The store is its only writer of the
// blocklist.
type Applier interface {
	ReplaceBlocklist(prefixes []netip.Prefix) error
	ApplyBlocklistDelta(add, remove []netip.Prefix) error
}

// Errors callers tell apart (wrapped; compare with errors.Is).
// MaxVersion is the highest list version: 2^53-1, exact in every JSON
// client, and far from wrapping (a delta adds one; Unix milliseconds, the
// default push version, stay below 2^41 for centuries). Versions must only
// grow, so one that could wrap would undo the stale-push protection.
const MaxVersion = 1<<53 - 1

var (
	// ErrStale: the version is older than the current one (or, for a
	// change, equal to it).
	ErrStale = errors.New("version not newer than the current one")
	// ErrConflict: the version is the current one, with different content.
	ErrConflict = errors.New("version already holds different content")
	// ErrNotPersistent: no state directory, so no change is accepted.
	ErrNotPersistent = errors.New("no state directory (management.state_dir): changes would not survive a restart")
	// ErrBadVersion: a version outside 1..MaxVersion.
	ErrBadVersion = fmt.Errorf("version must be 1 to %d", MaxVersion)
	// ErrApply: the enforcer refused the change; the previous list stays.
	ErrApply = errors.New("enforcer refused the change")
	// ErrPersist: the change could not be made durable; the previous list stays.
	ErrPersist = errors.New("could not persist the change")
)

// Options configure Open.
type Options struct {
	// Dir is the state directory (created 0700 if missing). "" keeps no
	// state: the store then holds an empty list and refuses changes.
	Dir string
	// Applier receives the restored list at Open and every change after.
	Applier Applier
	// MaxEntries bounds the stored list (0: no limit).
	MaxEntries int
	Log        *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Store holds the current blocklist version. Reads are lock-free snapshots;
// changes are serialized.
type Store struct {
	opt     Options
	persist *persister // nil without a state directory
	restore RestoreReport

	mu  sync.Mutex // serializes changes
	cur atomic.Pointer[state]
	// inSync is false when the enforcer may not hold cur (a failed
	// rollback): the next change then replaces the whole list.
	inSync   bool
	applied  atomic.Pointer[applyRecord]
	sinceSnp struct{ deltas, entries int } // deltas since the last snapshot

	compacting atomic.Bool
	wg         sync.WaitGroup
}

// state is one immutable version of the list.
type state struct {
	version   uint64
	entries   []cidrset.Prefix // sorted by compare, unique
	ipv4      int
	updatedAt time.Time
}

type applyRecord struct {
	version  uint64
	at       time.Time
	duration time.Duration
	err      string
}

// Duration is a time.Duration that reads and writes JSON as a string ("1.2s").
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("parse duration %s: want a string", b)
	}
	v, err := time.ParseDuration(string(b[1 : len(b)-1]))
	*d = Duration(v)
	return err
}

// Info describes the stored list and its last application.
type Info struct {
	Version        uint64         `json:"version"`
	Entries        int            `json:"entries"`
	IPv4           int            `json:"ipv4"`
	IPv6           int            `json:"ipv6"`
	UpdatedAt      time.Time      `json:"updated_at,omitzero"`
	AppliedVersion uint64         `json:"applied_version"`
	AppliedAt      time.Time      `json:"applied_at,omitzero"`
	ApplyDuration  Duration       `json:"apply_duration"`
	LastError      string         `json:"last_error,omitempty"` // the last refused change, until one succeeds
	Persistent     bool           `json:"persistent"`
	Restore        *RestoreReport `json:"restore,omitempty"`
}

// Result is the outcome of an accepted change.
type Result struct {
	Version  uint64 `json:"version"`
	Previous uint64 `json:"previous_version"`
	// Unchanged: the same version and content were already current
	// (a retried push), or a delta changed nothing.
	Unchanged bool `json:"unchanged"`
	Entries   int  `json:"entries"` // in the list after the change
	// Full list: Received entries, of which Duplicates were dropped and
	// Covered lie inside another entry (kept, so that removing the wider
	// entry later leaves them blocked; the enforcer loads the minimal cover).
	Received   int `json:"received,omitempty"`
	Duplicates int `json:"duplicates,omitempty"`
	Covered    int `json:"covered,omitempty"`
	// Delta: entries that were new, entries removed, removals of entries
	// that were not in the list.
	Added   int `json:"added,omitempty"`
	Removed int `json:"removed,omitempty"`
	Absent  int `json:"absent,omitempty"`
	Present int `json:"present,omitempty"` // additions of entries already in the list
	// PresentEntries names the first 100 of those.
	PresentEntries []string `json:"present_entries,omitempty"`

	PersistTime Duration `json:"persist_time"`
	ApplyTime   Duration `json:"apply_time"`
}

var (
	gaugeVersion atomic.Uint64
	gaugeEntries atomic.Int64
	gaugeInSync  atomic.Int64
	gaugeApplyAt atomic.Int64
	_            = metrics.NewGauge(`edgeguard_blocklist_version`, func() float64 { return float64(gaugeVersion.Load()) })
	_            = metrics.NewGauge(`edgeguard_blocklist_entries`, func() float64 { return float64(gaugeEntries.Load()) })
	_            = metrics.NewGauge(`edgeguard_blocklist_applied`, func() float64 { return float64(gaugeInSync.Load()) })
	_            = metrics.NewGauge(`edgeguard_blocklist_last_apply_timestamp_seconds`, func() float64 { return float64(gaugeApplyAt.Load()) })
	// Prometheus "le" buckets (histogram_quantile reads them; the package's
	// own vmrange buckets it does not): a list change takes ms to seconds.
	applySeconds  = metrics.NewPrometheusHistogramExt(`edgeguard_blocklist_apply_duration_seconds`, changeBuckets)
	persistSecs   = metrics.NewPrometheusHistogramExt(`edgeguard_blocklist_persist_duration_seconds`, changeBuckets)
	setAsideTotal = metrics.NewCounter(`edgeguard_blocklist_restore_set_aside_total`)
)

var changeBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// CountUpdate counts one change request by operation ("replace", "delta")
// and result ("ok", "unchanged", "stale", "conflict", "invalid",
// "too_large", "failed"). The management API counts the requests it
// rejects before they reach the store with the same metric.
func CountUpdate(op, result string) {
	metrics.GetOrCreateCounter(`edgeguard_blocklist_updates_total{op="` + op + `",result="` + result + `"}`).Inc()
}

// Open restores the list from opt.Dir (setting damaged files aside and
// reporting them in Info().Restore) and replaces the enforcer's blocklist
// with it. Call it before the data plane accepts traffic.
func Open(opt Options) (*Store, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{opt: opt}
	start := opt.Now()
	st := &state{}
	if opt.Dir != "" {
		s.persist = &persister{dir: opt.Dir}
		v, entries, updated, rep, err := s.persist.restore(start)
		if err != nil {
			return nil, err
		}
		st = newState(v, entries, start)
		if !updated.IsZero() {
			st.updatedAt = updated // a restart is not an update of the list
		}
		s.restore = rep
		for i, name := range rep.SetAside {
			setAsideTotal.Inc()
			opt.Log.Error("damaged blocklist state file set aside", "file", name, "error", rep.Errors[i], "dir", opt.Dir)
		}
		if len(rep.SetAside) > 0 {
			opt.Log.Error("blocklist restored without the damaged files: push the list again", "version", v, "entries", len(entries))
		}
	}
	applyStart := opt.Now()
	if err := opt.Applier.ReplaceBlocklist(toNetip(st.entries)); err != nil {
		return nil, fmt.Errorf("restore blocklist version %d (%d entries) into the enforcer: %w", st.version, len(st.entries), err)
	}
	s.recordApply(st.version, applyStart, nil)
	// The feed's last change, not this restart: the staleness alert keeps
	// counting across restarts, and skips a gateway without a list (0).
	gaugeApplyAt.Store(0)
	if st.version > 0 {
		gaugeApplyAt.Store(st.updatedAt.Unix())
	}
	s.inSync = true
	gaugeInSync.Store(1)
	s.restore.Duration = Duration(opt.Now().Sub(start))
	s.publish(st)
	if s.persist != nil {
		// The deltas replayed count towards the next compaction, or every
		// restart would start the count again and the files, and the time
		// to restore them, grow without bound.
		s.sinceSnp.deltas, s.sinceSnp.entries = s.restore.Deltas, s.restore.DeltaEntries
		s.maybeCompact(st)
	}
	if opt.Dir != "" {
		opt.Log.Info("blocklist restored", "version", st.version, "entries", len(st.entries),
			"deltas", s.restore.Deltas, "dir", opt.Dir, "duration", time.Duration(s.restore.Duration))
	}
	return s, nil
}

func newState(version uint64, entries []cidrset.Prefix, now time.Time) *state {
	return &state{version: version, entries: entries, updatedAt: now, ipv4: count4(entries)}
}

func (s *Store) publish(st *state) {
	s.cur.Store(st)
	gaugeVersion.Store(st.version)
	gaugeEntries.Store(int64(len(st.entries)))
}

// recordApply records a successful application of version (err nil), or
// a refused change (err set: the enforcer kept the previous version, or,
// when inSync is false, holds an unknown one).
func (s *Store) recordApply(version uint64, start time.Time, err error) {
	now := s.opt.Now()
	if err != nil {
		r := applyRecord{}
		if prev := s.applied.Load(); prev != nil {
			r = *prev
		}
		r.err = err.Error()
		if !s.inSync {
			r.version = 0
		}
		s.applied.Store(&r)
		return
	}
	r := &applyRecord{version: version, at: now, duration: now.Sub(start)}
	applySeconds.Update(r.duration.Seconds())
	gaugeApplyAt.Store(now.Unix())
	s.applied.Store(r)
}

// Close waits for a background compaction to finish.
func (s *Store) Close() error {
	s.wg.Wait()
	return nil
}

// Persistent reports whether changes are accepted (a state directory is set).
func (s *Store) Persistent() bool { return s.persist != nil }

// Version is the current version (0 before the first accepted list).
func (s *Store) Version() uint64 { return s.cur.Load().version }

// Info describes the current list.
func (s *Store) Info() Info {
	st := s.cur.Load()
	in := Info{
		Version: st.version, Entries: len(st.entries), IPv4: st.ipv4, IPv6: len(st.entries) - st.ipv4,
		UpdatedAt: st.updatedAt, Persistent: s.persist != nil,
	}
	if st.version == 0 {
		in.UpdatedAt = time.Time{}
	}
	if a := s.applied.Load(); a != nil {
		in.AppliedVersion, in.AppliedAt, in.ApplyDuration, in.LastError = a.version, a.at, Duration(a.duration), a.err
	}
	if s.persist != nil {
		rep := s.restore
		in.Restore = &rep
	}
	return in
}

// Test returns the entries that cover addr, shortest first (none: addr is
// not blocklisted).
func (s *Store) Test(addr netip.Addr) []netip.Prefix {
	entries := s.cur.Load().entries
	addr = addr.Unmap()
	a := cidrset.AddrFrom(addr)
	first := 0
	if addr.Is4() {
		first = 96 // IPv6 entries never apply to IPv4 sources
	}
	var out []netip.Prefix
	for bits := first; bits <= 128; bits++ {
		key := cidrset.Prefix{Addr: maskAddr(a, bits), Bits: uint8(bits)}
		if _, ok := slices.BinarySearchFunc(entries, key, compare); ok {
			out = append(out, key.Netip())
		}
	}
	return out
}

// Export writes the current list in the snapshot format (a valid text
// list with a version header) and returns the version written.
func (s *Store) Export(w io.Writer) (uint64, error) {
	st := s.cur.Load()
	ew := newEntryWriter(w)
	ew.header(snapshotHeader, st.version, 0)
	for _, e := range st.entries {
		ew.entry(0, e)
	}
	return st.version, ew.finish()
}

// Replace makes entries version: it must be newer than the current version
// (the same version with the same content is accepted as a no-op, so a
// retried push succeeds). The change is written to the state directory and
// applied to the enforcer in parallel, and acknowledged only when both
// succeeded; otherwise the previous list stays, in the enforcer too.
// entries is consumed (sorted in place).
func (s *Store) Replace(version uint64, entries []cidrset.Prefix) (Result, error) {
	received := len(entries)
	sorted := sortUnique(entries)
	res := Result{Version: version, Received: received, Duplicates: received - len(sorted), Covered: countCovered(sorted)}
	if version == 0 || version > MaxVersion {
		return res, fmt.Errorf("replace blocklist: version %d: %w", version, ErrBadVersion)
	}
	if s.persist == nil {
		return res, fmt.Errorf("replace blocklist: %w", ErrNotPersistent)
	}
	if s.opt.MaxEntries > 0 && len(sorted) > s.opt.MaxEntries {
		return res, fmt.Errorf("replace blocklist: %d entries: %w (limit %d)", len(sorted), ErrTooManyEntries, s.opt.MaxEntries)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	res.Previous, res.Entries = cur.version, len(sorted)
	switch {
	case version < cur.version:
		return res, fmt.Errorf("replace blocklist: version %d: %w (%d)", version, ErrStale, cur.version)
	case version == cur.version && slices.Equal(sorted, cur.entries) && s.inSync:
		res.Unchanged = true
		return res, nil
	case version == cur.version && !slices.Equal(sorted, cur.entries):
		return res, fmt.Errorf("replace blocklist: version %d: %w", version, ErrConflict)
	}
	var pd *pending
	var perr error
	var wg sync.WaitGroup
	wg.Go(func() {
		t := s.opt.Now()
		pd, perr = s.persist.writeSnapshot(version, sorted)
		res.PersistTime = Duration(s.opt.Now().Sub(t))
	})
	t := s.opt.Now()
	aerr := s.opt.Applier.ReplaceBlocklist(toNetip(sorted))
	res.ApplyTime = Duration(s.opt.Now().Sub(t))
	wg.Wait()
	if err := s.settle(cur, pd, perr, aerr, t, version, func() error {
		return s.opt.Applier.ReplaceBlocklist(toNetip(cur.entries))
	}); err != nil {
		return res, fmt.Errorf("replace blocklist: version %d: %w", version, err)
	}
	persistSecs.Update(time.Duration(res.PersistTime).Seconds())
	s.sinceSnp.deltas, s.sinceSnp.entries = 0, 0
	s.publish(newState(version, sorted, s.opt.Now()))
	s.opt.Log.Info("blocklist replaced", "version", version, "previous", cur.version, "entries", len(sorted),
		"duplicates", res.Duplicates, "persist", time.Duration(res.PersistTime), "apply", time.Duration(res.ApplyTime))
	return res, nil
}

// settle finishes a change whose persist (pd, perr) and apply (aerr) ran:
// it commits the file if both succeeded, and otherwise removes it and
// rolls the enforcer back with undo.
func (s *Store) settle(cur *state, pd *pending, perr, aerr error, applyStart time.Time, version uint64, undo func() error) error {
	var err error
	switch {
	case aerr != nil:
		err = fmt.Errorf("%w: %w", ErrApply, aerr)
	case perr != nil:
		err = fmt.Errorf("%w: %w", ErrPersist, perr)
	default:
		if cerr := s.persist.commit(pd); cerr != nil {
			err = fmt.Errorf("%w: %w", ErrPersist, cerr)
		}
	}
	if err == nil {
		s.recordApply(version, applyStart, nil)
		s.inSync = true
		gaugeInSync.Store(1)
		return nil
	}
	s.persist.abort(pd)
	// The enforcer took the change, or may hold part of it: put the
	// previous list back.
	if uerr := undo(); uerr != nil {
		s.inSync = false
		gaugeInSync.Store(0)
		s.recordApply(cur.version, applyStart, fmt.Errorf("rollback to version %d failed: %w", cur.version, uerr))
		s.opt.Log.Error("blocklist enforcer may not hold the current version", "version", cur.version, "error", uerr)
		return fmt.Errorf("%w (and the rollback failed: %w)", err, uerr)
	}
	s.inSync = true
	gaugeInSync.Store(1)
	s.recordApply(cur.version, applyStart, err)
	s.opt.Log.Warn("blocklist change refused; previous version kept", "version", version, "kept", cur.version, "error", err)
	return err
}

// ApplyDelta adds and then removes entries. version 0 means the current
// version + 1; otherwise it must be newer than the current one. A delta
// that changes nothing without an explicit version is a no-op.
func (s *Store) ApplyDelta(version uint64, add, remove []cidrset.Prefix) (Result, error) {
	add, remove = sortUnique(add), sortUnique(remove)
	if s.persist == nil {
		return Result{}, fmt.Errorf("apply blocklist delta: %w", ErrNotPersistent)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	res := Result{Previous: cur.version, Version: version}
	if version > MaxVersion || (version == 0 && cur.version >= MaxVersion) {
		return res, fmt.Errorf("apply blocklist delta: version %d after %d: %w", version, cur.version, ErrBadVersion)
	}
	if version == 0 {
		res.Version = cur.version + 1
	} else if version < cur.version {
		return res, fmt.Errorf("apply blocklist delta: version %d: %w (%d)", version, ErrStale, cur.version)
	}
	next, d := applyDelta(cur.entries, add, remove)
	res.Entries, res.Added, res.Removed, res.Absent, res.Present = len(next), len(d.add), len(d.remove), d.absent, d.present
	for _, p := range d.presentSome {
		res.PresentEntries = append(res.PresentEntries, p.Netip().String())
	}
	if version != 0 && version == cur.version {
		// A retry of the delta that made this version (its reply was
		// lost) changes nothing and is answered as done, as a full push
		// of the current version and content is; another change cannot
		// reuse the version.
		if len(d.add)+len(d.remove) == 0 {
			res.Unchanged = true
			return res, nil
		}
		return res, fmt.Errorf("apply blocklist delta: version %d is the current one and this delta would change it: %w", version, ErrStale)
	}
	if version == 0 && len(d.add)+len(d.remove) == 0 {
		res.Version, res.Unchanged = cur.version, true
		return res, nil
	}
	if s.opt.MaxEntries > 0 && len(next) > s.opt.MaxEntries {
		return res, fmt.Errorf("apply blocklist delta: %d entries after it: %w (limit %d)", len(next), ErrTooManyEntries, s.opt.MaxEntries)
	}
	var pd *pending
	var perr error
	var wg sync.WaitGroup
	wg.Go(func() {
		t := s.opt.Now()
		pd, perr = s.persist.writeDelta(res.Version, cur.version, d.add, d.remove)
		res.PersistTime = Duration(s.opt.Now().Sub(t))
	})
	t := s.opt.Now()
	var aerr error
	inSync := s.inSync
	if inSync {
		aerr = s.opt.Applier.ApplyBlocklistDelta(toNetip(d.add), toNetip(d.remove))
	} else {
		aerr = s.opt.Applier.ReplaceBlocklist(toNetip(next))
	}
	res.ApplyTime = Duration(s.opt.Now().Sub(t))
	wg.Wait()
	if err := s.settle(cur, pd, perr, aerr, t, res.Version, func() error {
		if inSync && s.opt.Applier.ApplyBlocklistDelta(toNetip(d.remove), toNetip(d.add)) == nil {
			return nil
		}
		return s.opt.Applier.ReplaceBlocklist(toNetip(cur.entries))
	}); err != nil {
		return res, fmt.Errorf("apply blocklist delta: version %d: %w", res.Version, err)
	}
	persistSecs.Update(time.Duration(res.PersistTime).Seconds())
	// The IPv4 count follows the delta instead of a recount of the list.
	st := &state{version: res.Version, entries: next, updatedAt: s.opt.Now(),
		ipv4: cur.ipv4 + count4(d.add) - count4(d.remove)}
	s.publish(st)
	s.sinceSnp.deltas++
	s.sinceSnp.entries += len(d.add) + len(d.remove)
	s.maybeCompact(st)
	s.opt.Log.Info("blocklist delta applied", "version", res.Version, "previous", cur.version, "added", res.Added,
		"removed", res.Removed, "entries", len(next), "persist", time.Duration(res.PersistTime), "apply", time.Duration(res.ApplyTime))
	return res, nil
}

// Compaction: after this many deltas, or delta entries past an eighth of
// the list, the current version is written as a new snapshot in the
// background and the deltas it includes are removed.
const (
	compactDeltas     = 64
	compactMinEntries = 4096
)

func (s *Store) maybeCompact(st *state) {
	if s.sinceSnp.deltas < compactDeltas && s.sinceSnp.entries < max(len(st.entries)/8, compactMinEntries) {
		return
	}
	if !s.compacting.CompareAndSwap(false, true) {
		return
	}
	s.sinceSnp.deltas, s.sinceSnp.entries = 0, 0
	s.wg.Go(func() {
		defer s.compacting.Store(false)
		pd, err := s.persist.writeSnapshot(st.version, st.entries)
		if err == nil {
			err = s.persist.commit(pd)
		}
		if err != nil {
			s.opt.Log.Warn("blocklist compaction failed; the deltas stay and are replayed at start", "version", st.version, "error", err)
			return
		}
		s.opt.Log.Debug("blocklist compacted", "version", st.version, "entries", len(st.entries))
	})
}

// compare orders prefixes by address, then length (shorter first), so that
// a prefix sorts before every prefix it contains.
func compare(a, b cidrset.Prefix) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return cmpUint(uint64(a.Bits), uint64(b.Bits))
}

func is4(p cidrset.Prefix) bool {
	return p.Bits >= 96 && p.Addr.Hi == 0 && p.Addr.Lo>>32 == 0xffff
}

// maskAddr keeps the first bits bits of a.
func maskAddr(a cidrset.Addr, bits int) cidrset.Addr {
	switch {
	case bits == 0:
		return cidrset.Addr{}
	case bits < 64:
		return cidrset.Addr{Hi: a.Hi &^ (^uint64(0) >> bits)}
	case bits < 128:
		return cidrset.Addr{Hi: a.Hi, Lo: a.Lo &^ (^uint64(0) >> (bits - 64))}
	}
	return a
}

// parallelSortMin is the length from which sortUnique sorts on two cores.
const parallelSortMin = 1 << 16

// sortUnique sorts ps by compare and drops duplicates. It reuses ps's
// array for small inputs and returns a new one for large ones.
func sortUnique(ps []cidrset.Prefix) []cidrset.Prefix {
	if len(ps) < parallelSortMin {
		slices.SortFunc(ps, compare)
		return slices.Clip(slices.Compact(ps))
	}
	a, b := ps[:len(ps)/2], ps[len(ps)/2:]
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(a, compare) })
	slices.SortFunc(b, compare)
	wg.Wait()
	out := make([]cidrset.Prefix, 0, len(ps))
	for len(a) > 0 && len(b) > 0 {
		var p cidrset.Prefix
		if compare(b[0], a[0]) < 0 {
			p, b = b[0], b[1:]
		} else {
			p, a = a[0], a[1:]
		}
		if n := len(out); n == 0 || out[n-1] != p {
			out = append(out, p)
		}
	}
	for _, rest := range [][]cidrset.Prefix{a, b} {
		for _, p := range rest {
			if n := len(out); n == 0 || out[n-1] != p {
				out = append(out, p)
			}
		}
	}
	return out
}

// countCovered counts entries of sorted (unique) that lie inside an
// earlier entry of the same family.
func countCovered(sorted []cidrset.Prefix) int {
	n := 0
	var end [2]cidrset.Addr // last address covered so far, per family
	var open [2]bool
	for _, p := range sorted {
		f := 0
		if is4(p) {
			f = 1
		}
		last := p.Last()
		if open[f] && !end[f].Less(last) {
			n++
			continue
		}
		end[f], open[f] = last, true
	}
	return n
}

// deltaEffect is what a delta really changes.
type deltaEffect struct {
	add, remove []cidrset.Prefix // entries that appear, entries that go
	absent      int              // removals of entries not in the list
	present     int              // additions of entries already in the list
	presentSome []cidrset.Prefix // the first maxPresentListed of them
}

// maxPresentListed bounds the already-present entries a delta's result names.
const maxPresentListed = 100

// applyDelta returns cur with add inserted and then remove taken out (all
// sorted and unique), and what changed. It visits only the edits: the
// unchanged stretches of cur between them are found by binary search and
// copied whole, so a small delta on a large list costs one memmove, not a
// comparison per entry.
func applyDelta(cur, add, remove []cidrset.Prefix) ([]cidrset.Prefix, deltaEffect) {
	var d deltaEffect
	next := make([]cidrset.Prefix, 0, len(cur)+len(add))
	i, j, k := 0, 0, 0
	for j < len(add) || k < len(remove) {
		var e cidrset.Prefix
		inAdd, inRemove := false, false
		switch {
		case k == len(remove) || (j < len(add) && compare(add[j], remove[k]) < 0):
			e, inAdd = add[j], true
			j++
		case j == len(add) || compare(remove[k], add[j]) < 0:
			e, inRemove = remove[k], true
			k++
		default: // added and removed in one delta: removal wins
			e, inAdd, inRemove = add[j], true, true
			j++
			k++
		}
		pos := i + sort.Search(len(cur)-i, func(n int) bool { return compare(cur[i+n], e) >= 0 })
		next = append(next, cur[i:pos]...)
		i = pos
		inCur := i < len(cur) && cur[i] == e
		if inCur {
			i++
		}
		switch {
		case inRemove && inCur:
			d.remove = append(d.remove, e)
		case inRemove:
			if !inAdd {
				d.absent++
			}
		default:
			next = append(next, e)
			if !inCur {
				d.add = append(d.add, e)
			} else {
				d.present++
				if len(d.presentSome) < maxPresentListed {
					d.presentSome = append(d.presentSome, e)
				}
			}
		}
	}
	next = append(next, cur[i:]...)
	return next, d
}

// count4 counts the IPv4 entries of ps.
func count4(ps []cidrset.Prefix) int {
	n := 0
	for _, p := range ps {
		if is4(p) {
			n++
		}
	}
	return n
}

// toNetip converts for the enforcer.
func toNetip(ps []cidrset.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = p.Netip()
	}
	return out
}
