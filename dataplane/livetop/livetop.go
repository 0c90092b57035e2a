// Package livetop keeps what the operator's live view (gatewayctl top)
// shows of the last seconds of traffic: requests by status class, deny
// reasons, and the clients sending the most requests. The request path
// only adds to fixed tables of atomic counters; a background goroutine
// turns each finished interval into a small summary, and Snapshot merges
// the summaries of the window.
//
// It must never allocate, lock or block on the request path, and its
// memory is fixed whatever the number of clients: a client that finds no
// free slot in an interval is counted as untracked, not remembered.
package livetop

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultInterval  = time.Second
	DefaultIntervals = 10
	DefaultSlots     = 4096
	// KeepPerInterval is how many of an interval's busiest clients its
	// summary keeps; Snapshot lists at most this many.
	KeepPerInterval = 64
)

// probes is how many slots a client may land in: enough that a half-full
// table rarely turns a client away, few enough to stay a cache line or two.
const probes = 8

// Options configures New.
type Options struct {
	Interval  time.Duration // length of one counting interval
	Intervals int           // intervals in the window Snapshot covers
	Slots     int           // client slots per interval (rounded up to a power of two)
}

// slot is one client of an interval. key is the client's hash (never 0)
// once claimed; hi and lo hold its address (IPv6 cut to its /64).
type slot struct {
	key    atomic.Uint64
	hi, lo atomic.Uint64
	n      atomic.Uint64
	denied atomic.Uint64
}

// table counts one interval.
type table struct {
	classes   [6]atomic.Uint64 // index status/100; 0: out of range
	reasons   [256]atomic.Uint64
	untracked atomic.Uint64 // requests of clients that found no slot
	used      atomic.Int64  // slots claimed
	slots     []slot
}

// summary is a finished interval, as Snapshot needs it.
type summary struct {
	dur       time.Duration
	classes   [6]uint64
	reasons   [256]uint64
	untracked uint64
	distinct  int
	clients   []Client // busiest first, at most KeepPerInterval
}

// Tracker counts requests for the live view. The zero value is not
// usable; call New.
type Tracker struct {
	seed     uint64
	mask     uint64
	interval time.Duration
	tables   [3]table
	cur      atomic.Pointer[table]
	turn     int              // index of cur in tables (under mu)
	durs     [3]time.Duration // length of each table's interval, once ended (under mu)

	startOnce sync.Once
	started   atomic.Bool

	mu      sync.Mutex // guards what Rotate and Snapshot share
	last    time.Time  // start of the current interval
	ring    []summary
	next    int // ring index of the next summary
	filled  int
	scratch []Client
}

// New returns a Tracker; nothing rotates it until Start (or Rotate).
func New(o Options) *Tracker {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Intervals <= 0 {
		o.Intervals = DefaultIntervals
	}
	n := DefaultSlots
	if o.Slots > 0 {
		n = 1
		for n < o.Slots {
			n <<= 1
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	t := &Tracker{seed: binary.LittleEndian.Uint64(b[:]), mask: uint64(n - 1), interval: o.Interval,
		ring: make([]summary, o.Intervals), last: time.Now()}
	for i := range t.tables {
		t.tables[i].slots = make([]slot, n)
	}
	t.cur.Store(&t.tables[0])
	return t
}

// Default is the gateway's tracker: the data plane observes into it and
// the management API reads it. It starts rotating on its first request.
var Default = New(Options{})

// Observe counts one finished request on Default.
func Observe(client netip.Addr, status int, reason pipeline.Reason) {
	t := Default
	if !t.started.Load() {
		t.Start()
	}
	t.Observe(client, status, reason)
}

// Start runs the goroutine that ends an interval every Options.Interval
// (once; later calls do nothing). It runs for the life of the process.
func (t *Tracker) Start() {
	t.startOnce.Do(func() {
		t.started.Store(true)
		go func() {
			tick := time.NewTicker(t.interval)
			for now := range tick.C {
				t.Rotate(now)
			}
		}()
	})
}

// Observe counts one finished request: its client (invalid: none), status
// and deny reason (ReasonNone when served).
func (t *Tracker) Observe(client netip.Addr, status int, reason pipeline.Reason) {
	tb := t.cur.Load()
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	tb.classes[class].Add(1)
	if reason != pipeline.ReasonNone {
		tb.reasons[uint8(reason)].Add(1)
	}
	if !client.IsValid() {
		return
	}
	a := client.As16()
	hi, lo := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
	if !client.Is4() {
		lo = 0 // one IPv6 client is its /64: the unit a ban takes
	}
	key := hash(hi, lo, t.seed) | 1
	for i := uint64(0); i < probes; i++ {
		s := &tb.slots[(key+i)&t.mask]
		k := s.key.Load()
		if k == 0 {
			if s.key.CompareAndSwap(0, key) {
				s.hi.Store(hi)
				s.lo.Store(lo)
				tb.used.Add(1)
			}
			k = s.key.Load() // ours, or the client that claimed it first
		}
		if k == key {
			s.n.Add(1)
			if reason != pipeline.ReasonNone {
				s.denied.Add(1)
			}
			return
		}
	}
	tb.untracked.Add(1)
}

// hash mixes an address with the process's seed (splitmix64's finalizer),
// so that no one can pick addresses that pile onto the same slots.
func hash(hi, lo, seed uint64) uint64 {
	x := hi ^ seed
	x ^= lo * 0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Rotate ends the current interval at now and summarizes the one before
// it: writers that loaded that table while it was current have had a whole
// interval to finish, and it becomes current again at the next rotation.
// Start calls it every interval; tests call it with their own clock.
func (t *Tracker) Rotate(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ended := t.turn
	t.durs[ended] = now.Sub(t.last)
	t.last = now
	t.turn = (ended + 1) % len(t.tables)
	t.cur.Store(&t.tables[t.turn])
	quiet := (ended + 2) % len(t.tables)
	if t.durs[quiet] > 0 {
		t.ring[t.next] = t.summarize(&t.tables[quiet], t.durs[quiet], t.ring[t.next], true)
		t.next = (t.next + 1) % len(t.ring)
		t.filled = min(t.filled+1, len(t.ring))
		t.durs[quiet] = 0
	}
}

// summarize reads tb into into (reusing its client list), clearing tb when
// clear is set.
func (t *Tracker) summarize(tb *table, dur time.Duration, into summary, clear bool) summary {
	read := func(c *atomic.Uint64) uint64 {
		if clear {
			return c.Swap(0)
		}
		return c.Load()
	}
	into.dur = dur
	for i := range tb.classes {
		into.classes[i] = read(&tb.classes[i])
	}
	for i := range tb.reasons {
		into.reasons[i] = read(&tb.reasons[i])
	}
	into.untracked = read(&tb.untracked)
	cs := t.scratch[:0]
	if tb.used.Load() > 0 {
		for i := range tb.slots {
			s := &tb.slots[i]
			if s.key.Load() == 0 {
				continue
			}
			n := read(&s.n)
			c := Client{Prefix: prefix(s.hi.Load(), s.lo.Load()), Requests: n, Denied: read(&s.denied)}
			if clear {
				s.hi.Store(0)
				s.lo.Store(0)
				s.key.Store(0)
			}
			if n > 0 {
				cs = append(cs, c)
			}
		}
		if clear {
			tb.used.Store(0)
		}
	}
	into.distinct = len(cs)
	slices.SortFunc(cs, func(a, b Client) int { return cmp.Compare(b.Requests, a.Requests) })
	into.clients = append(into.clients[:0], cs[:min(len(cs), KeepPerInterval)]...)
	t.scratch = cs[:0]
	return into
}

// prefix is a client as a slot holds it: an IPv4 address or an IPv6 /64.
func prefix(hi, lo uint64) netip.Prefix {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], hi)
	binary.BigEndian.PutUint64(a[8:], lo)
	addr := netip.AddrFrom16(a)
	if addr.Is4In6() {
		return netip.PrefixFrom(addr.Unmap(), 32)
	}
	return netip.PrefixFrom(addr, 64)
}

// Client is one client of a snapshot: an IPv4 address (/32) or an IPv6
// network (/64), with its requests and how many of them were denied.
type Client struct {
	Prefix   netip.Prefix
	Requests uint64
	Denied   uint64
}

// ReasonCount is how many requests one deny reason refused.
type ReasonCount struct {
	Reason pipeline.Reason
	Count  uint64
}

// Snapshot is the traffic of the last window.
type Snapshot struct {
	Window    time.Duration // what the counts cover
	Classes   [6]uint64     // requests by status/100; 0: out of range
	Reasons   []ReasonCount // busiest first
	Clients   []Client      // busiest first
	Distinct  int           // most distinct clients seen in one interval
	Untracked uint64        // requests of clients that found no free slot
}

// Requests is the number of requests in the window.
func (s *Snapshot) Requests() uint64 {
	var n uint64
	for _, c := range s.Classes {
		n += c
	}
	return n
}

// Snapshot merges the window: the summaries of the last intervals and the
// interval that just ended. It lists at most top clients and reasons. A
// client counts in the intervals where it was among the KeepPerInterval
// busiest: a steady heavy client is exact, one that was busy only now and
// then may be undercounted.
func (t *Tracker) Snapshot(top int) Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	top = max(0, min(top, KeepPerInterval))
	parts := make([]summary, 0, t.filled+1)
	for i := range t.filled {
		parts = append(parts, t.ring[(t.next-1-i+len(t.ring))%len(t.ring)])
	}
	ended := (t.turn + len(t.tables) - 1) % len(t.tables)
	if d := t.durs[ended]; d > 0 {
		parts = append(parts, t.summarize(&t.tables[ended], d, summary{}, false))
	}
	var out Snapshot
	var reasons [256]uint64
	clients := map[netip.Prefix]Client{}
	for _, p := range parts {
		out.Window += p.dur
		for i, c := range p.classes {
			out.Classes[i] += c
		}
		for i, c := range p.reasons {
			reasons[i] += c
		}
		out.Untracked += p.untracked
		out.Distinct = max(out.Distinct, p.distinct)
		for _, c := range p.clients {
			m := clients[c.Prefix]
			m.Prefix = c.Prefix
			m.Requests += c.Requests
			m.Denied += c.Denied
			clients[c.Prefix] = m
		}
	}
	for r, n := range reasons {
		if n > 0 {
			out.Reasons = append(out.Reasons, ReasonCount{Reason: pipeline.Reason(r), Count: n})
		}
	}
	slices.SortFunc(out.Reasons, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	out.Reasons = out.Reasons[:min(len(out.Reasons), top)]
	for _, c := range clients {
		out.Clients = append(out.Clients, c)
	}
	slices.SortFunc(out.Clients, func(a, b Client) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), a.Prefix.Addr().Compare(b.Prefix.Addr()))
	})
	out.Clients = out.Clients[:min(len(out.Clients), top)]
	return out
}
