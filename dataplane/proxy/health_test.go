package proxy

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

func fastHealthCheck() *HealthCheck {
	return &HealthCheck{
		Path:               "/healthz",
		Interval:           20 * time.Millisecond,
		Timeout:            50 * time.Millisecond,
		HealthyThreshold:   2,
		UnhealthyThreshold: 2,
	}
}

func TestActiveHealthCheckDownAndUp(t *testing.T) {
	a, b := startUpstream(t, nil), startUpstream(t, nil)
	p := newTestPool(t, PoolConfig{
		Targets:         []string{a.addr, b.addr},
		HealthCheck:     fastHealthCheck(),
		IdleConnTimeout: 100 * time.Millisecond,
	})
	p.Start()
	gw := startGateway(t, &Stage{Pool: p})
	gauge := metrics.GetOrCreateGauge(`edgeguard_upstream_healthy_targets{pool="`+p.Name()+`"}`, nil)
	if g := gauge.Get(); g != 2 {
		t.Errorf("healthy gauge = %v, want 2", g)
	}

	a.stop()
	waitFor(t, "target a to be marked unhealthy", 2*time.Second, func() bool { return !statusOf(p, a.addr).Healthy })
	if g := gauge.Get(); g != 1 {
		t.Errorf("healthy gauge = %v, want 1", g)
	}
	for i := 0; i < 6; i++ {
		if status, _, served := gw.get(t, "/x"); status != 200 || served != b.addr {
			t.Fatalf("request %d while a is down: status %d served by %s, want 200 from b", i, status, served)
		}
	}

	a.restart()
	waitFor(t, "target a to be marked healthy again", 2*time.Second, func() bool { return statusOf(p, a.addr).Healthy })
	hitsBefore := a.hits.Load()
	for i := 0; i < 6; i++ {
		if status, _, _ := gw.get(t, "/x"); status != 200 {
			t.Fatalf("request %d after recovery: status %d", i, status)
		}
	}
	if got := a.hits.Load() - hitsBefore; got != 3 {
		t.Errorf("recovered target got %d of 6 requests, want 3", got)
	}
}

func TestAllUnhealthyFailsFast(t *testing.T) {
	a := startUpstream(t, nil)
	hc := fastHealthCheck()
	hc.ExpectStatus = 204 // /healthz answers 200, so the check fails
	p := newTestPool(t, PoolConfig{Targets: []string{a.addr}, HealthCheck: hc})
	p.Start()
	gw := startGateway(t, &Stage{Pool: p})
	waitFor(t, "the only target to be marked unhealthy", 2*time.Second, func() bool { return !statusOf(p, a.addr).Healthy })
	acceptsBefore := a.accepts.Load()
	status, body, served := gw.get(t, "/x")
	if status != 502 || !strings.Contains(body, `"reason":"upstream_unavailable"`) {
		t.Errorf("status %d body %q, want 502 upstream_unavailable", status, body)
	}
	if served != "" {
		t.Errorf("r.Upstream = %q, want empty: no target may be tried", served)
	}
	if a.hits.Load() != 0 || a.accepts.Load() != acceptsBefore {
		t.Errorf("the unhealthy target was tried")
	}
}

func TestHealthCheckSendsConfiguredRequest(t *testing.T) {
	seen := make(chan string, 16)
	w := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		select {
		case seen <- string(ctx.Method()) + " " + string(ctx.RequestURI()) + " " + string(ctx.Host()):
		default:
		}
	})
	hc := fastHealthCheck()
	hc.Path = "/status?deep=1"
	hc.Host = "health.internal"
	p := newTestPool(t, PoolConfig{Targets: []string{w.addr}, HealthCheck: hc})
	p.Start()
	select {
	case got := <-seen:
		if want := "GET /status?deep=1 health.internal"; got != want {
			t.Errorf("health check request %q, want %q", got, want)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no health check arrived")
	}
}

func TestCloseStopsHealthChecks(t *testing.T) {
	u := startUpstream(t, nil)
	hcCount := func() int { return countGoroutines("proxy.(*Pool).healthLoop") }
	p, err := NewPool(PoolConfig{
		Name:            "close-test",
		Targets:         []string{u.addr, deadAddr(t)},
		HealthCheck:     fastHealthCheck(),
		IdleConnTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	p.Start() // idempotent
	waitFor(t, "two health goroutines", 2*time.Second, func() bool { return hcCount() == 2 })
	waitFor(t, "the dead target to be marked unhealthy", 2*time.Second, func() bool {
		return p.healthyTargets() == 1
	})
	if n := countGoroutines(fmt.Sprintf("connsCleaner(%p)", p.targets[0].health)); n != 1 {
		t.Fatalf("%d connection cleaners for the live target's health client, want 1 (stack match broken?)", n)
	}
	p.Close()
	p.Close() // idempotent
	p.Start() // no effect after Close
	var clients []string
	for i := range p.targets {
		clients = append(clients, fmt.Sprintf("connsCleaner(%p)", p.targets[i].client), fmt.Sprintf("connsCleaner(%p)", p.targets[i].health))
	}
	waitFor(t, "health and connection-cleaner goroutines to exit", 2*time.Second, func() bool {
		if hcCount() != 0 {
			return false
		}
		for _, c := range clients {
			if countGoroutines(c) != 0 {
				return false
			}
		}
		return true
	})
}

// countGoroutines counts goroutines whose stack mentions fn.
func countGoroutines(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte(fn)) {
			n++
		}
	}
	return n
}
