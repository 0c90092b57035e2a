//go:build !race

package cluster_test

import (
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/ratelimit"
	"github.com/edgeguard/edgeguard/internal/redistest"
)

// TestClusterRequestAllocatesNothing: spending a lease, queueing its
// refill, and deciding in fallback allocate nothing.
func TestClusterRequestAllocatesNothing(t *testing.T) {
	rs := redistest.Start(t)
	g := newGateway(t, gwOpts{addr: rs.Addr(), prefix: "a:", gateways: 3,
		limits: []limitOpts{{name: "api", ws: ratelimit.Windows{ratelimit.Second: 1 << 40}, leaseMax: 50}}})
	run := func() {
		if !g.do(t, client1) {
			t.Fatal("refused")
		}
	}
	for range 200 {
		run()
		time.Sleep(50 * time.Microsecond)
	}
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Fatalf("cluster mode: %v allocs per request, want 0", n)
	}
	rs.Stop()
	for deadline := time.Now().Add(5 * time.Second); g.client.Up(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no fallback")
		}
		run()
	}
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Fatalf("fallback: %v allocs per request, want 0", n)
	}
}
