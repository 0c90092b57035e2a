package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	wrkload "github.com/edgeguard/edgeguard/bench/suite/load"
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

// TestClusterRouteThroughput measures, through a real gatewayd under wrk,
// a cluster-limited route against a local-limited one (target >= 0.9x
// requests/s, p99 alike) and the Redis operations per request at steady
// state (target <= 0.05). It runs only with EDGEGUARD_BENCH_CLUSTER=1:
// it takes ~15 s and its numbers mean something only on a quiet machine.
func TestClusterRouteThroughput(t *testing.T) {
	if os.Getenv("EDGEGUARD_BENCH_CLUSTER") != "1" {
		t.Skip("set EDGEGUARD_BENCH_CLUSTER=1 to measure")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk not installed")
	}
	rs := redistest.Start(t)
	up := startUpstream(t, "api", nil)
	g := startGateway(t, baseConfig(`
  - name: api
    targets: [`+up.addr()+`]
`, `
  - name: local
    path: /local
    upstream: api
    rate_limit: {limits: [local]}
  - name: cluster
    path: /cluster
    upstream: api
    rate_limit: {limits: [shared]}
`)+fmt.Sprintf(`
rate_limit:
  cluster:
    addresses: [%q]
    gateways: 3
  limits:
    local:
      second: 1000000000
    shared:
      second: 1000000000
      span: cluster
`, rs.Addr()))
	runner, err := wrkload.NewRunner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opsOf := func() float64 {
		v, _ := metricValue(g.metrics(t), "edgeguard_ratelimit_cluster_redis_ops_total")
		return v
	}
	var rps, p99 [2][]float64
	var clusterReqs int64
	ops0 := opsOf()
	paths := []string{"/local", "/cluster"}
	for round := range 4 {
		// Alternate which route goes first: the first run of a pair tends
		// to find the machine quieter.
		for k := range paths {
			i := (k + round) % 2
			path := paths[i]
			res, err := runner.Run(context.Background(), wrkload.Spec{URL: "http://" + g.data + path, Connections: 16, Duration: 2 * time.Second, CPU: -1})
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors() != 0 {
				t.Fatalf("%s: %d errors", path, res.Errors())
			}
			rps[i] = append(rps[i], float64(res.Requests)/res.Seconds())
			p99[i] = append(p99[i], res.P99)
			if i == 1 {
				clusterReqs += res.Requests
			}
		}
	}
	best := func(v []float64) float64 { return slices.Max(v) }
	ops := (opsOf() - ops0) / float64(clusterReqs)
	credit, _ := metricValue(g.metrics(t), "edgeguard_ratelimit_cluster_credit_total")
	// Rounds run back to back, so each pair saw about the same machine.
	var pairs []string
	for i := range rps[0] {
		pairs = append(pairs, fmt.Sprintf("%.2f", rps[1][i]/rps[0][i]))
	}
	t.Logf("req/s local %.0f, cluster %.0f (best of %.0f and %.0f): cluster/local %.3f, per round %s; p99 us local %v, cluster %v; Redis ops per request %.4f, on credit %.4f",
		best(rps[0]), best(rps[1]), rps[0], rps[1], best(rps[1])/best(rps[0]), strings.Join(pairs, " "), p99[0], p99[1], ops, credit/float64(clusterReqs))
	if ops > 0.05 {
		t.Errorf("Redis ops per request %.4f, want <= 0.05", ops)
	}
}

// metricValue reads one sample from a Prometheus text exposition.
func metricValue(exposition, name string) (float64, bool) {
	for _, l := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}
