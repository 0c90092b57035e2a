// Package banstore keeps source bans across restarts, crashes and reboots.
//
// A Store wraps the enforcer (XDP or the user-space filter): every ban and
// unban goes to the enforcer and into a set of live bans that is written to
// the state directory atomically. At start Open restores the unexpired bans
// into the enforcer before any data listener accepts a connection.
//
// Two ways in, for two kinds of caller:
//   - Add and Remove (the management API) return only once the change is on
//     disk; a change that cannot be persisted is rolled back and reported,
//     so an acknowledged ban survives a crash and a refused one changes
//     nothing.
//   - Ban and Unban (the enforce.Enforcer methods, used by the rate limiter
//     on the request path) never wait for the disk: the change is written
//     within FlushDelay, coalesced with others, so a flood of bans costs a
//     few writes per second, not one fsync per offender.
package banstore

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// FileName is the state file in the state directory.
const FileName = "bans.state"

// DefaultFlushDelay is how long an asynchronous change waits to be written
// together with the changes that follow it.
const DefaultFlushDelay = 250 * time.Millisecond

var (
	writesOK      = metrics.NewCounter(`edgeguard_bans_persist_writes_total{result="ok"}`)
	writesFailed  = metrics.NewCounter(`edgeguard_bans_persist_writes_total{result="failed"}`)
	setAsideTotal = metrics.NewCounter(`edgeguard_bans_restore_set_aside_total`)
	restored      = metrics.NewCounter(`edgeguard_bans_restored_total`)
)

// Options configure Open.
type Options struct {
	// Dir is the state directory (management.state_dir); created if absent.
	Dir string
	// Enforcer applies the bans.
	Enforcer enforce.Enforcer
	// FlushDelay bounds how long a Ban or Unban waits before it is written
	// (DefaultFlushDelay when zero).
	FlushDelay time.Duration
	Log        *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Report says what Open found.
type Report struct {
	// Restored is the number of unexpired bans re-applied from the file.
	Restored int
	// Expired is the number of bans in the file that had run out.
	Expired int
	// Kept is the number of bans the enforcer already held (pinned XDP maps
	// survive a restart) that the file did not list.
	Kept int
	// SetAside names the damaged state file moved out of the way ("" if none).
	SetAside string
	// Damage says what was wrong with it.
	Damage error
}

// Store is an enforce.Enforcer whose bans are persisted.
type Store struct {
	enforce.Enforcer

	path  string
	delay time.Duration
	log   *slog.Logger
	now   func() time.Time

	mu    sync.Mutex
	bans  map[netip.Prefix]time.Time
	gen   uint64 // changes recorded so far
	armed bool   // a background flush is scheduled
	// setAside names the damaged state file Open moved away ("" if none),
	// for /status: the bans it held are not in force.
	setAside string
	// frozen: a successor owns the file (an upgrade handed over): bans
	// still change the enforcer and memory, but nothing is written.
	frozen bool
	// retry is the wait before the next attempt after failed writes (0:
	// the last one succeeded), retryCount how many failed in a row.
	retry      time.Duration
	retryCount int
	closed     bool

	writeMu sync.Mutex    // one writer at a time, in generation order
	saved   atomic.Uint64 // the generation on disk
}

var _ enforce.Enforcer = (*Store)(nil)

// Open reads the state file, re-applies its unexpired bans to the enforcer
// and returns the store. A damaged file is set aside (renamed
// bans.state.corrupt-<time>), reported and logged, never half-loaded; the
// store then starts from the enforcer's own bans.
func Open(opt Options) (*Store, Report, error) {
	s := &Store{
		Enforcer: opt.Enforcer,
		path:     filepath.Join(opt.Dir, FileName),
		delay:    opt.FlushDelay,
		log:      opt.Log,
		now:      opt.Now,
		bans:     make(map[netip.Prefix]time.Time),
	}
	if s.delay <= 0 {
		s.delay = DefaultFlushDelay
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var rep Report
	if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, rep, fmt.Errorf("open ban store: %w", err)
	}
	saved, err := readFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case errors.Is(err, errCorrupt):
		rep.Damage = err
		rep.SetAside = setAside(s.path, s.now())
		s.setAside = rep.SetAside
		setAsideTotal.Inc()
		s.log.Error("ban state file damaged: set aside, starting from the bans the enforcer holds",
			"file", s.path, "moved_to", rep.SetAside, "error", err)
	case err != nil:
		return nil, rep, fmt.Errorf("open ban store: %w", err)
	}

	now := s.now()
	live, err := opt.Enforcer.Bans()
	if err != nil {
		return nil, rep, fmt.Errorf("open ban store: list the enforcer's bans: %w", err)
	}
	for _, b := range live {
		if b.Until.After(now) {
			s.bans[b.Source] = b.Until
		}
	}
	inFile := make(map[netip.Prefix]bool, len(saved))
	for _, b := range saved {
		inFile[b.Source] = true
		if !b.Until.After(now) {
			rep.Expired++
			continue
		}
		if cur, ok := s.bans[b.Source]; ok && !cur.Before(b.Until) {
			continue // the enforcer already holds it (pinned maps), as long or longer
		}
		if err := opt.Enforcer.Ban(b.Source, b.Until); err != nil {
			return nil, rep, fmt.Errorf("open ban store: restore ban of %s: %w", enforce.FormatSource(b.Source), err)
		}
		s.bans[b.Source] = b.Until
		rep.Restored++
	}
	for a := range s.bans {
		if !inFile[a] {
			rep.Kept++
		}
	}
	restored.Add(rep.Restored)
	// Write back what is live now: expired entries leave the file, bans only
	// the enforcer knew about enter it.
	if rep.Expired > 0 || rep.Kept > 0 || rep.Damage != nil {
		s.gen++
		if err := s.flush(); err != nil {
			return nil, rep, fmt.Errorf("open ban store: %w", err)
		}
	}
	return s, rep, nil
}

// Add bans src (see enforce.BanSource) until the given time and returns
// once the ban is on disk. If it cannot be persisted, the enforcer is put
// back as it was and the error says why.
func (s *Store) Add(src netip.Prefix, until time.Time) error {
	src, err := enforce.BanSource(src)
	if err != nil {
		return err
	}
	prev, had := s.lookup(src)
	if err := s.Ban(src, until); err != nil {
		return err
	}
	if err := s.Sync(); err != nil {
		s.rollback(src, prev, had)
		return fmt.Errorf("ban %s: not persisted, ban withdrawn: %w", enforce.FormatSource(src), err)
	}
	return nil
}

// Remove lifts the ban of src and returns once that is on disk. If it
// cannot be persisted the ban is put back and the error says why.
func (s *Store) Remove(src netip.Prefix) error {
	src, err := enforce.BanSource(src)
	if err != nil {
		return err
	}
	prev, had := s.lookup(src)
	if err := s.Unban(src); err != nil {
		return err
	}
	if err := s.Sync(); err != nil {
		s.rollback(src, prev, had)
		return fmt.Errorf("unban %s: not persisted, ban kept: %w", enforce.FormatSource(src), err)
	}
	return nil
}

func (s *Store) lookup(addr netip.Prefix) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.bans[addr]
	return t, ok
}

// rollback restores the ban state of addr before a change that could not be
// persisted, in the enforcer and in memory, and schedules a write: the
// file may hold the withdrawn change after all (the rename happened but
// the directory fsync failed, or a background flush wrote it meanwhile).
func (s *Store) rollback(addr netip.Prefix, prev time.Time, had bool) {
	var err error
	if had {
		err = s.Enforcer.Ban(addr, prev)
	} else {
		err = s.Enforcer.Unban(addr)
	}
	if err != nil {
		s.log.Error("ban store: rollback failed", "addr", addr, "error", err)
	}
	s.record(addr, prev, had && prev.After(s.now()))
}

// Ban applies a ban and schedules it to be written within FlushDelay.
func (s *Store) Ban(src netip.Prefix, until time.Time) error {
	src, err := enforce.BanSource(src)
	if err != nil {
		return err
	}
	if err := s.Enforcer.Ban(src, until); err != nil {
		return err
	}
	s.record(src, until, until.After(s.now()))
	return nil
}

// Unban lifts a ban and schedules that to be written within FlushDelay.
func (s *Store) Unban(src netip.Prefix) error {
	src, err := enforce.BanSource(src)
	if err != nil {
		return err
	}
	if err := s.Enforcer.Unban(src); err != nil {
		return err
	}
	s.record(src, time.Time{}, false)
	return nil
}

func (s *Store) record(addr netip.Prefix, until time.Time, live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if live {
		s.bans[addr] = until
	} else {
		delete(s.bans, addr)
	}
	s.gen++
	s.arm(s.delay)
}

// arm schedules a background flush in d unless one is scheduled or the
// store is closed; s.mu is held.
func (s *Store) arm(d time.Duration) {
	if !s.armed && !s.closed {
		s.armed = true
		time.AfterFunc(d, s.backgroundFlush)
	}
}

func (s *Store) backgroundFlush() {
	s.mu.Lock()
	s.armed = false
	s.mu.Unlock()
	err := s.Sync()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil && s.retry == 0:
		s.log.Error("ban store: write failed; bans stay in force, and the write is retried until it succeeds (a crash before then would lose them)", "error", err)
	case err == nil && s.retry > 0:
		s.log.Info("ban store: bans written after failed attempts", "attempts", s.retryCount+1)
	}
	if err == nil {
		s.retry, s.retryCount = 0, 0
		return
	}
	// A full or read-only disk may come back: try again, backing off to
	// 30 s, rather than wait for the next ban.
	s.retry = min(max(2*s.retry, s.delay, time.Second), 30*time.Second)
	s.retryCount++
	s.arm(s.retry)
}

// Sync writes every change recorded so far, unless that is already done.
func (s *Store) Sync() error {
	s.mu.Lock()
	g := s.gen
	s.mu.Unlock()
	if s.saved.Load() >= g {
		return nil
	}
	return s.flush()
}

// flush writes the live bans as of now.
func (s *Store) flush() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	now := s.now()
	s.mu.Lock()
	g := s.gen
	if s.saved.Load() >= g || s.frozen {
		s.mu.Unlock()
		return nil // a writer that ran while we waited covered us, or the file is the successor's
	}
	list := make([]enforce.Ban, 0, len(s.bans))
	for a, until := range s.bans {
		if !until.After(now) {
			delete(s.bans, a)
			continue
		}
		list = append(list, enforce.Ban{Source: a, Until: until})
	}
	s.mu.Unlock()
	if err := writeFile(s.path, list); err != nil {
		writesFailed.Inc()
		return fmt.Errorf("persist bans: %w", err)
	}
	writesOK.Inc()
	s.saved.Store(g)
	return nil
}

// Len is the number of live bans the store tracks.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bans)
}

// Close writes what is pending, then closes the enforcer.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.Sync()
	return errors.Join(err, s.Enforcer.Close())
}

// SetAside names the damaged state file Open moved out of the way, ""
// when it found none.
func (s *Store) SetAside() string { return s.setAside }

// Freeze stops writing the state file: an upgrade's successor restores it
// and owns it from then on, and this process, draining, must not write
// its older view over the successor's changes. Thaw undoes it (the
// upgrade failed) and writes what changed meanwhile.
func (s *Store) Freeze() {
	s.mu.Lock()
	s.frozen = true
	s.mu.Unlock()
}

// Thaw resumes writing after Freeze.
func (s *Store) Thaw() error {
	s.mu.Lock()
	s.frozen = false
	s.mu.Unlock()
	return s.Sync()
}
