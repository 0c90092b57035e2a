package ratelimit

import (
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// hammer runs workers goroutines sending perWorker requests each through
// the fixture's stage at a frozen clock, from the given client, and counts
// the requests that passed.
func (f *fixture) hammer(workers, perWorker int, opts ...reqOpt) int64 {
	var passed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ctx fasthttp.RequestCtx
			r := &pipeline.Request{}
			<-start
			for i := 0; i < perWorker; i++ {
				r.Reset()
				r.Start = f.store.Epoch().Add(f.now)
				from("192.0.2.1")(r)
				for _, o := range opts {
					o(r)
				}
				ctx.Response.Reset()
				if f.stage.Handle(&ctx, r) == pipeline.Continue {
					passed.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	return passed.Load()
}

// TestNoTokenGrantedTwiceUnderContention: many goroutines on one key, two
// limits and two windows, at a frozen clock. Exactly the narrowest quota
// passes, and the refunds the narrow limit forces on the wide one are
// exact: the wide limit's remaining quota is its limit minus the passes.
func TestNoTokenGrantedTwiceUnderContention(t *testing.T) {
	f := newFixture(t, fixtureOpts{},
		LimitConfig{Name: "wide", Default: Windows{Second: 500, Minute: 5000}},
		LimitConfig{Name: "narrow", Default: Windows{Second: 300, Hour: 100000}, Thresholds: Thresholds{Delay: 100, Reject: 100, Ban: 100000}})
	workers := 8 * runtime.GOMAXPROCS(0)
	for round := 0; round < 5; round++ {
		passed := f.hammer(workers, 200)
		want := int64(300)
		if passed != want {
			t.Fatalf("round %d: %d requests passed, want exactly %d", round, passed, want)
		}
		key := f.store.IPKey(netip.MustParseAddr("192.0.2.1"), 64)
		now := f.store.Now(f.store.Epoch().Add(f.now))
		if rem, _ := f.stage.limits[0].l.Remaining(key, nil, now); rem != 500-300 {
			t.Fatalf("round %d: wide limit has %d left, want %d", round, rem, 500-300)
		}
		f.now += 2 * time.Second // both second windows refill (T is rounded up: 300 tokens take a hair over 1s)
	}
}

// TestConcurrentClientsIsolated: many keys in parallel, each gets exactly
// its own quota.
func TestConcurrentClientsIsolated(t *testing.T) {
	f := newFixture(t, fixtureOpts{maxKeys: 10000}, LimitConfig{Name: "iso", Default: Windows{Minute: 7}})
	const clients = 64
	var total atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := netip.AddrFrom4([4]byte{10, 1, 0, byte(c)}).String()
			total.Add(f.hammer(4, 20, from(ip)))
		}()
	}
	wg.Wait()
	if total.Load() != clients*7 {
		t.Fatalf("%d passed, want %d (7 per client)", total.Load(), clients*7)
	}
}
