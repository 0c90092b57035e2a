package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/internal/redistest"
)

// TestClusterRateLimit: three gatewayd processes on loopback share one
// client's limit through a real Redis within the documented tolerance;
// Redis killed means fallback with no failed request; Redis back means
// cluster mode again.
func TestClusterRateLimit(t *testing.T) {
	rs := redistest.Start(t)
	up := startUpstream(t, "api", nil)
	const (
		n        = 60 // per minute
		gws      = 3
		leaseMax = 5
	)
	doc := baseConfig(`
  - name: api
    targets: [`+up.addr()+`]
`, `
  - name: api
    path: /api
    upstream: api
    rate_limit: {limits: [api]}
`) + fmt.Sprintf(`
rate_limit:
  burst_ban: false # the client keeps going far past the limit: 429s, not a ban
  cluster:
    addresses: [%q]
    gateways: %d
    timeout: 300ms
    probe_interval: 100ms
    key_prefix: "it:"
    lease: {max: %d}
  limits:
    api:
      minute: %d
      span: cluster
`, rs.Addr(), gws, leaseMax, n)
	var gs [gws]*gateway
	for i := range gs {
		gs[i] = startGateway(t, doc)
	}
	// send sends one request to gateway i: 200 or 429, never an error or
	// a stall.
	send := func(i int) int {
		t0 := time.Now()
		r := gs[i%gws].do(t, "GET", "/api/x")
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("request took %s", d)
		}
		if r.status != 200 && r.status != 429 {
			t.Fatalf("gateway %d: status %d %q", i%gws, r.status, r.body)
		}
		return r.status
	}

	start := time.Now()
	allowed, refused := 0, [gws]int{}
	for i := range 3 * n {
		if send(i) == 200 {
			allowed++
		} else {
			refused[i%gws]++
		}
		time.Sleep(2 * time.Millisecond) // let leases land: the bound below assumes it
	}
	exact := n + int(time.Since(start)*n/time.Minute)
	tol := 2 * gws * leaseMax
	t.Logf("three gateways: allowed %d of %d, one exact GCRA %d ± %d; refused per gateway %v", allowed, 3*n, exact, tol, refused)
	if allowed > exact+tol || allowed < exact-tol {
		t.Fatalf("allowed %d, want %d ± %d", allowed, exact, tol)
	}
	for i, r := range refused {
		if r == 0 {
			t.Fatalf("gateway %d refused nothing: it did not share the limit", i)
		}
	}

	fallback := `edgeguard_ratelimit_cluster_fallback{limit="api"} `
	rs.Stop()
	i := 0
	waitFor(t, "every gateway in fallback", func() bool {
		for range 2 * gws {
			send(i)
			i++
		}
		for _, g := range gs {
			if !strings.Contains(g.metrics(t), fallback+"1") {
				return false
			}
		}
		return true
	})
	for _, g := range gs {
		g.waitLog("Redis unavailable")
	}

	rs.Restart()
	waitFor(t, "every gateway back in cluster mode", func() bool {
		for _, g := range gs {
			if !strings.Contains(g.metrics(t), fallback+"0") {
				return false
			}
		}
		return true
	})
	for j := range 2 * gws {
		send(i + j)
	}
	for _, g := range gs {
		m := g.metrics(t)
		if !strings.Contains(m, `edgeguard_ratelimit_cluster_transitions_total{to="cluster"} 1`) {
			t.Fatalf("no transition back to cluster mode in metrics:\n%s", grepLines(m, "cluster"))
		}
	}
}
