package ratelimit

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/dataplane/ratelimit/keytable"
	"github.com/edgeguard/edgeguard/internal/loggate"
)

// Store holds the state that must outlive policy reloads: bucket tables by
// id, the key hashing seed, the clock epoch, the ban memo and the count of
// delayed requests. One Store serves every policy of a process; policies
// ask it for their tables by id and tell it which ones they stop using.
type Store struct {
	epoch time.Time
	keys  keySeed
	bans  banMemo
	// banLog rate-limits the ban log lines of every route.
	banLog *loggate.Gate

	delayed    atomic.Int64
	maxDelayed atomic.Int64

	mu     sync.Mutex
	tables map[string]*tracked
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// tracked is a table in the store with its metrics.
type tracked struct {
	t interface {
		Sweep(now int64) int
		Stats() keytable.Stats
	}
	keys                 *metrics.Gauge
	idle, active         *metrics.Counter
	names                [3]string
	lastIdle, lastActive uint64
}

// Janitor periods: gauges follow the tables every second; idle entries are
// swept every ten (a full table also drops idle entries on insertion).
const (
	statsEvery = time.Second
	sweepEvery = 10
)

// NewStore returns a store and starts its janitor (Close stops it).
func NewStore() *Store {
	s := &Store{
		epoch:  time.Now(),
		banLog: newBanLogGate(),
		keys:   newKeySeed(),
		tables: map[string]*tracked{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.maxDelayed.Store(1024)
	go s.janitor()
	return s
}

// Epoch is the store's time origin: request times are nanoseconds since it.
// Tests build request start times from it to drive the limiter's clock.
func (s *Store) Epoch() time.Time { return s.epoch }

// Now converts a time (normally the request's start) to the store's clock.
// It uses the monotonic reading when t has one.
func (s *Store) Now(t time.Time) int64 { return int64(t.Sub(s.epoch)) }

// SetMaxDelayed sets how many requests may be waiting in a delay at once;
// past it, requests that would be delayed pass at once.
func (s *Store) SetMaxDelayed(n int) { s.maxDelayed.Store(int64(max(n, 0))) }

// Delayed returns the number of requests waiting in a delay now.
func (s *Store) Delayed() int64 { return s.delayed.Load() }

// Wait delays the calling request by d with sleep, unless max-delayed
// requests already wait: then it returns false at once and the request
// passes undelayed (a delay is a courtesy slow-down for clients near their
// limit, not the protection: the reject threshold still holds). With
// time.Sleep the goroutine is parked on a runtime timer; no OS thread is
// held, so thousands of delayed requests cost only their goroutines.
func (s *Store) Wait(d time.Duration, sleep func(time.Duration)) bool {
	if s.delayed.Add(1) > s.maxDelayed.Load() {
		s.delayed.Add(-1)
		delaySkipped.Inc()
		return false
	}
	sleep(d)
	s.delayed.Add(-1)
	return true
}

// Table returns the bucket table with the given id, creating it on first
// use; maxKeys (re)sets its bound.
func (s *Store) Table(id string, maxKeys int) (*Table, error) {
	kt, err := TableOf[bucket](s, id, maxKeys)
	if err != nil {
		return nil, err
	}
	return &Table{kt: kt}, nil
}

// Table is a bounded table of buckets, one per key, for one limit scope.
type Table struct {
	kt *keytable.Table[bucket, *bucket]
}

// Stats returns the table's key count and evictions.
func (t *Table) Stats() keytable.Stats { return t.kt.Stats() }

// TableOf returns the store's table with the given id for state type V,
// creating it on first use; maxKeys (re)sets its bound. It fails if the id
// is in use with another state type. Other stages (login protection) keep
// their per-key state in the store this way, so it survives reloads too.
func TableOf[V any, P keytable.State[V]](s *Store, id string, maxKeys int) (*keytable.Table[V, P], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tr, ok := s.tables[id]; ok {
		kt, ok := tr.t.(*keytable.Table[V, P])
		if !ok {
			return nil, fmt.Errorf("rate limit table %q: already used for another kind of state", id)
		}
		kt.SetMaxKeys(maxKeys)
		return kt, nil
	}
	kt := keytable.New[V, P](maxKeys)
	label := strconv.Quote(id)
	tr := &tracked{t: kt, names: [3]string{
		`edgeguard_ratelimit_tracked_keys{table=` + label + `}`,
		`edgeguard_ratelimit_evictions_total{table=` + label + `,kind="idle"}`,
		`edgeguard_ratelimit_evictions_total{table=` + label + `,kind="active"}`,
	}}
	tr.keys = metrics.GetOrCreateGauge(tr.names[0], nil)
	tr.idle = metrics.GetOrCreateCounter(tr.names[1])
	tr.active = metrics.GetOrCreateCounter(tr.names[2])
	s.tables[id] = tr
	return kt, nil
}

// Drop forgets the tables with the given ids (a reload stopped using them).
func (s *Store) Drop(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		tr, ok := s.tables[id]
		if !ok {
			continue
		}
		delete(s.tables, id)
		for _, n := range tr.names {
			metrics.UnregisterMetric(n)
		}
	}
}

// TableIDs lists the tables the store holds.
func (s *Store) TableIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.tables))
	for id := range s.tables {
		ids = append(ids, id)
	}
	return ids
}

// Sweep drops idle entries from every table at now (store clock) and
// returns how many it dropped. The janitor calls it periodically.
func (s *Store) Sweep(now int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, tr := range s.tables {
		n += tr.t.Sweep(now)
	}
	s.updateStats()
	return n
}

// updateStats copies table counters into the metrics (s.mu held).
func (s *Store) updateStats() {
	delayedNow.Set(float64(s.delayed.Load()))
	for _, tr := range s.tables {
		st := tr.t.Stats()
		tr.keys.Set(float64(st.Keys))
		tr.idle.AddInt64(int64(st.EvictedIdle - tr.lastIdle))
		tr.active.AddInt64(int64(st.EvictedActive - tr.lastActive))
		tr.lastIdle, tr.lastActive = st.EvictedIdle, st.EvictedActive
	}
}

func (s *Store) janitor() {
	defer close(s.done)
	tick := time.NewTicker(statsEvery)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-s.stop:
			return
		case t := <-tick.C:
			if n%sweepEvery == 0 {
				s.Sweep(s.Now(t))
				continue
			}
			s.mu.Lock()
			s.updateStats()
			s.mu.Unlock()
		}
	}
}

// Close stops the janitor and forgets every table. Stages still running
// keep working on the tables they hold.
func (s *Store) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	ids := make([]string, 0, len(s.tables))
	for id := range s.tables {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.Drop(ids...)
}
