package livetop

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

type req struct {
	client string
	status int
	reason pipeline.Reason
	times  int
}

func feed(t *Tracker, reqs []req) {
	for _, r := range reqs {
		var a netip.Addr
		if r.client != "" {
			a = netip.MustParseAddr(r.client)
		}
		for range r.times {
			t.Observe(a, r.status, r.reason)
		}
	}
}

func TestSnapshot(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name      string
		slots     int
		reqs      []req
		clients   []Client
		reasons   []ReasonCount
		classes   [6]uint64
		untracked uint64
	}{
		{
			name: "busiest first, denials counted per client",
			reqs: []req{
				{"192.0.2.1", 200, pipeline.ReasonNone, 5},
				{"192.0.2.2", 200, pipeline.ReasonNone, 9},
				{"192.0.2.3", 404, pipeline.ReasonNoRoute, 7},
				{"192.0.2.3", 429, pipeline.ReasonRateLimited, 2},
				{"", 400, pipeline.ReasonHeaderInvalid, 1}, // no client address: counted, not listed
			},
			clients: []Client{
				{netip.MustParsePrefix("192.0.2.2/32"), 9, 0},
				{netip.MustParsePrefix("192.0.2.3/32"), 9, 9},
				{netip.MustParsePrefix("192.0.2.1/32"), 5, 0},
			},
			reasons: []ReasonCount{{pipeline.ReasonNoRoute, 7}, {pipeline.ReasonRateLimited, 2}, {pipeline.ReasonHeaderInvalid, 1}},
			classes: [6]uint64{2: 14, 4: 10},
		},
		{
			name: "an IPv6 client is its /64",
			reqs: []req{
				{"2001:db8:1:2::1", 200, pipeline.ReasonNone, 3},
				{"2001:db8:1:2:ffff::9", 200, pipeline.ReasonNone, 4},
				{"2001:db8:1:3::1", 503, pipeline.ReasonUpstreamUnavailable, 1},
			},
			clients: []Client{
				{netip.MustParsePrefix("2001:db8:1:2::/64"), 7, 0},
				{netip.MustParsePrefix("2001:db8:1:3::/64"), 1, 1},
			},
			reasons: []ReasonCount{{pipeline.ReasonUpstreamUnavailable, 1}},
			classes: [6]uint64{2: 7, 5: 1},
		},
		{
			name:  "clients past the table are untracked, never misattributed",
			slots: 8,
			reqs: func() []req {
				var rs []req
				for i := range 12 {
					rs = append(rs, req{netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String(), 200, pipeline.ReasonNone, 1})
				}
				return rs
			}(),
			classes:   [6]uint64{2: 12},
			untracked: 4,
		},
		{
			name:    "odd statuses are class 0",
			reqs:    []req{{"192.0.2.9", 0, pipeline.ReasonNone, 1}, {"192.0.2.9", 999, pipeline.ReasonNone, 1}},
			clients: []Client{{netip.MustParsePrefix("192.0.2.9/32"), 2, 0}},
			classes: [6]uint64{0: 2},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(Options{Slots: tc.slots})
			tr.last = t0
			feed(tr, tc.reqs)
			tr.Rotate(t0.Add(time.Second))
			s := tr.Snapshot(10)
			if s.Window != time.Second {
				t.Errorf("window %v, want 1s", s.Window)
			}
			if s.Classes != tc.classes {
				t.Errorf("classes %v, want %v", s.Classes, tc.classes)
			}
			if s.Untracked != tc.untracked {
				t.Errorf("untracked %d, want %d", s.Untracked, tc.untracked)
			}
			if tc.clients != nil && !equal(s.Clients, tc.clients) {
				t.Errorf("clients %v, want %v", s.Clients, tc.clients)
			}
			var listed uint64
			for _, c := range s.Clients {
				listed += c.Requests
			}
			if listed+s.Untracked != s.Requests()-unaddressed(tc.reqs) {
				t.Errorf("listed %d + untracked %d != requests with an address", listed, s.Untracked)
			}
			if !equal(s.Reasons, tc.reasons) {
				t.Errorf("reasons %v, want %v", s.Reasons, tc.reasons)
			}
		})
	}
}

func unaddressed(rs []req) uint64 {
	var n uint64
	for _, r := range rs {
		if r.client == "" {
			n += uint64(r.times)
		}
	}
	return n
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWindow checks that intervals add up over the window and leave it.
func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tr := New(Options{Intervals: 3})
	tr.last = t0
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	now := t0
	step := func(c netip.Addr, n int) {
		for range n {
			tr.Observe(c, 200, pipeline.ReasonNone)
		}
		now = now.Add(time.Second)
		tr.Rotate(now)
	}
	step(a, 10)
	step(a, 10)
	step(b, 5)
	if s := tr.Snapshot(5); s.Window != 3*time.Second || s.Requests() != 25 || s.Clients[0].Requests != 20 {
		t.Fatalf("after 3 intervals: %+v", s)
	}
	// Three more intervals push a's out: the ring holds 3, plus the one just ended.
	step(b, 1)
	step(b, 1)
	step(b, 1)
	s := tr.Snapshot(5)
	if s.Requests() != 8 || len(s.Clients) != 1 || s.Clients[0].Prefix.Addr() != b || s.Window != 4*time.Second {
		t.Fatalf("after 6 intervals: %+v", s)
	}
	// A cleared table counts afresh when it comes round again.
	for range 6 {
		step(b, 0)
	}
	if s := tr.Snapshot(5); s.Requests() != 0 || len(s.Clients) != 0 {
		t.Fatalf("after idle intervals: %+v", s)
	}
}

// TestConcurrent has writers race rotations (run with -race): every
// request lands in exactly one interval's class counts.
func TestConcurrent(t *testing.T) {
	tr := New(Options{Intervals: 1000, Slots: 64})
	const writers, each = 4, 20000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			a := netip.AddrFrom4([4]byte{192, 0, 2, byte(w)})
			for range each {
				tr.Observe(a, 200, pipeline.ReasonNone)
			}
		})
	}
	// Rotations far faster than real ones, but fewer than the ring holds,
	// so that a count can only be lost, never leave the window.
	now := time.Now()
	for range 500 {
		now = now.Add(time.Millisecond)
		tr.Rotate(now)
	}
	wg.Wait()
	tr.Rotate(now.Add(time.Millisecond))
	tr.Rotate(now.Add(2 * time.Millisecond))
	s := tr.Snapshot(KeepPerInterval)
	if s.Requests() != writers*each {
		t.Fatalf("requests %d, want %d", s.Requests(), writers*each)
	}
}

func BenchmarkObserve(b *testing.B) {
	tr := New(Options{})
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Observe(addrs[i&1023], 200, pipeline.ReasonNone)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	tr := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		a := netip.MustParseAddr("2001:db8::1")
		for pb.Next() {
			tr.Observe(a, 404, pipeline.ReasonNoRoute)
		}
	})
}

// BenchmarkObserveFull is the worst case: a flood from more distinct
// clients than slots, so that most requests probe every slot they may use
// and are counted as untracked.
func BenchmarkObserveFull(b *testing.B) {
	tr := New(Options{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Observe(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 200, pipeline.ReasonNone)
	}
}
