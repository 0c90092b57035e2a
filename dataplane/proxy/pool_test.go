package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func TestNewPoolValidation(t *testing.T) {
	valid := func() PoolConfig {
		return PoolConfig{
			Name:        "api",
			Targets:     []string{"127.0.0.1:8080", "localhost:8081"},
			HealthCheck: fastHealthCheck(),
			Passive:     Passive{ConsecutiveFailures: 3, EjectFor: time.Second},
		}
	}
	cases := []struct {
		name   string
		mutate func(c *PoolConfig)
		want   []string // substrings of the error, each naming the field
	}{
		{"valid", func(c *PoolConfig) {}, nil},
		{"valid without health check", func(c *PoolConfig) { c.HealthCheck = nil }, nil},
		{"empty name", func(c *PoolConfig) { c.Name = "" }, []string{`proxy pool "": Name: must not be empty`}},
		{"name with quote", func(c *PoolConfig) { c.Name = `a"b` }, []string{"Name: must be printable ASCII"}},
		{"no targets", func(c *PoolConfig) { c.Targets = nil }, []string{`proxy pool "api": Targets: must list at least one`}},
		{"target without port", func(c *PoolConfig) { c.Targets = []string{"127.0.0.1"} }, []string{`Targets[0]: invalid address "127.0.0.1"`}},
		{"target bad port", func(c *PoolConfig) { c.Targets = []string{"a:1", "b:70000"} }, []string{`Targets[1]: invalid address "b:70000": port must be 1-65535`}},
		{"target without host", func(c *PoolConfig) { c.Targets = []string{":80"} }, []string{`Targets[0]: invalid address ":80": missing host`}},
		{"duplicate target", func(c *PoolConfig) { c.Targets = []string{"a:1", "a:1"} }, []string{`Targets[1]: duplicate of Targets[0]`}},
		{"bad balance", func(c *PoolConfig) { c.Balance = 9 }, []string{"Balance: unknown policy 9"}},
		{"negative timeouts", func(c *PoolConfig) {
			c.ConnectTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleConnTimeout = -1, -1, -1, -1
		}, []string{"ConnectTimeout: must be >= 0", "ReadTimeout: must be >= 0", "WriteTimeout: must be >= 0", "IdleConnTimeout: must be >= 0"}},
		{"negative limits", func(c *PoolConfig) { c.MaxConnsPerTarget, c.MaxResponseBodySize = -1, -1 },
			[]string{"MaxConnsPerTarget: must be >= 0", "MaxResponseBodySize: must be >= 0"}},
		{"health path", func(c *PoolConfig) { c.HealthCheck.Path = "healthz" }, []string{`HealthCheck.Path: must start with '/'`}},
		{"health path with space", func(c *PoolConfig) { c.HealthCheck.Path = "/a b" }, []string{`HealthCheck.Path: must be printable ASCII`}},
		{"health host", func(c *PoolConfig) { c.HealthCheck.Host = "a\r\nb" }, []string{`HealthCheck.Host: must be printable ASCII`}},
		{"health interval and timeout", func(c *PoolConfig) { c.HealthCheck.Interval, c.HealthCheck.Timeout = 0, 0 },
			[]string{"HealthCheck.Interval: must be > 0, got 0s", "HealthCheck.Timeout: must be > 0, got 0s"}},
		{"health thresholds", func(c *PoolConfig) { c.HealthCheck.HealthyThreshold, c.HealthCheck.UnhealthyThreshold = 0, -1 },
			[]string{"HealthCheck.HealthyThreshold: must be >= 1, got 0", "HealthCheck.UnhealthyThreshold: must be >= 1, got -1"}},
		{"health expect status", func(c *PoolConfig) { c.HealthCheck.ExpectStatus = 42 }, []string{"HealthCheck.ExpectStatus: must be 0 or 100-599, got 42"}},
		{"passive negative", func(c *PoolConfig) { c.Passive.ConsecutiveFailures = -1 }, []string{"Passive.ConsecutiveFailures: must be >= 0"}},
		{"passive without eject time", func(c *PoolConfig) { c.Passive.EjectFor = 0 }, []string{"Passive.EjectFor: must be > 0 when ConsecutiveFailures is set"}},
		{"passive off needs no eject time", func(c *PoolConfig) { c.Passive = Passive{} }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			hc := *cfg.HealthCheck
			cfg.HealthCheck = &hc
			tc.mutate(&cfg)
			p, err := NewPool(cfg)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("NewPool: %v", err)
				}
				p.Close()
				return
			}
			if err == nil {
				p.Close()
				t.Fatalf("NewPool accepted the config, want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "proxy pool ") {
					t.Errorf("error line %q does not name the pool", line)
				}
			}
		})
	}
}

// TestSameNameTwice is a config reload: a new pool with the same name is
// built while the old one still serves, then the old one is closed.
func TestSameNameTwice(t *testing.T) {
	a, b := startUpstream(t, nil), deadAddr(t)
	cfg := PoolConfig{Name: "reloaded", Targets: []string{a.addr}}
	oldPool, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	oldPool.Start()
	gauge := metrics.GetOrCreateGauge(`edgeguard_upstream_healthy_targets{pool="reloaded"}`, nil)
	if g := gauge.Get(); g != 1 {
		t.Errorf("gauge = %v with the old pool, want 1", g)
	}

	cfg.Targets = []string{a.addr, b}
	cfg.HealthCheck = fastHealthCheck()
	newPool, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer newPool.Close()
	if g := gauge.Get(); g != 1 {
		t.Errorf("gauge = %v before the new pool starts, want the old pool's 1", g)
	}
	newPool.Start()
	oldPool.Close()
	waitFor(t, "the new pool's dead target to go unhealthy", 2*time.Second, func() bool { return gauge.Get() == 1 })
	if g := gauge.Get(); g != 1 {
		t.Errorf("gauge = %v, want 1", g)
	}
	if got := len(newPool.Status()); got != 2 {
		t.Errorf("new pool reports %d targets, want 2", got)
	}
	newPool.Close()
	if g := gauge.Get(); g != 0 {
		t.Errorf("gauge = %v after both pools closed, want 0", g)
	}
}

func TestPassiveEjectionAndRecovery(t *testing.T) {
	flaky := deadAddr(t)
	live := startUpstream(t, nil)
	p := newTestPool(t, PoolConfig{
		Targets: []string{flaky, live.addr},
		Passive: Passive{ConsecutiveFailures: 2, EjectFor: 200 * time.Millisecond},
	})
	gw := startGateway(t, &Stage{Pool: p})
	ejections := `edgeguard_upstream_ejections_total{pool="` + p.Name() + `"}`
	connectErrs := `edgeguard_upstream_errors_total{pool="` + p.Name() + `",kind="connect"}`
	ejectionsBefore := counterValue(ejections)

	for i := 0; i < 10 && statusOf(p, flaky).EjectedUntil.IsZero(); i++ {
		if status, _, served := gw.get(t, "/x"); status != 200 || served != live.addr {
			t.Fatalf("request %d: status %d served by %s, want failover to %s", i, status, served, live.addr)
		}
	}
	s := statusOf(p, flaky)
	if s.EjectedUntil.IsZero() || s.ConsecutiveFailures != 2 || s.Healthy {
		t.Fatalf("flaky target status %+v, want ejected (and so not healthy) after 2 failures", s)
	}
	if got := counterValue(ejections) - ejectionsBefore; got != 1 {
		t.Errorf("ejections = %d, want 1", got)
	}
	if g := metrics.GetOrCreateGauge(`edgeguard_upstream_healthy_targets{pool="`+p.Name()+`"}`, nil).Get(); g != 1 {
		t.Errorf("healthy gauge = %v while ejected, want 1", g)
	}

	// While ejected, nobody dials it.
	errsBefore := counterValue(connectErrs)
	for i := 0; i < 4; i++ {
		if status, _, served := gw.get(t, "/x"); status != 200 || served != live.addr {
			t.Fatalf("request %d while ejected: status %d served by %s", i, status, served)
		}
	}
	if got := counterValue(connectErrs) - errsBefore; got != 0 {
		t.Errorf("%d connect errors while ejected, want 0", got)
	}

	// The target comes back; after EjectFor it is tried again and a success
	// resets its failure count.
	revived := startUpstreamAt(t, flaky)
	waitFor(t, "the ejection to expire", 2*time.Second, func() bool { return statusOf(p, flaky).EjectedUntil.IsZero() })
	for i := 0; i < 4; i++ {
		if status, _, _ := gw.get(t, "/x"); status != 200 {
			t.Fatalf("request %d after recovery: status %d", i, status)
		}
	}
	if n := revived.hits.Load(); n != 2 {
		t.Errorf("recovered target served %d of 4 requests, want 2", n)
	}
	if s := statusOf(p, flaky); s.ConsecutiveFailures != 0 || !s.EjectedUntil.IsZero() {
		t.Errorf("recovered target status %+v, want no failures, not ejected", s)
	}
}

// TestPassiveReejectsAfterOneFailure checks the half-open behaviour: once
// ejected and released, a single further failure ejects the target again.
func TestPassiveReejectsAfterOneFailure(t *testing.T) {
	dead := deadAddr(t)
	live := startUpstream(t, nil)
	p := newTestPool(t, PoolConfig{
		Targets: []string{dead, live.addr},
		Passive: Passive{ConsecutiveFailures: 3, EjectFor: 50 * time.Millisecond},
	})
	gw := startGateway(t, &Stage{Pool: p})
	ejections := `edgeguard_upstream_ejections_total{pool="` + p.Name() + `"}`
	before := counterValue(ejections)
	for i := 0; i < 10 && statusOf(p, dead).EjectedUntil.IsZero(); i++ {
		gw.get(t, "/x")
	}
	waitFor(t, "the ejection to expire", 2*time.Second, func() bool { return statusOf(p, dead).EjectedUntil.IsZero() })
	for i := 0; i < 2 && statusOf(p, dead).EjectedUntil.IsZero(); i++ {
		if status, _, _ := gw.get(t, "/x"); status != 200 {
			t.Fatalf("status %d", status)
		}
	}
	if statusOf(p, dead).EjectedUntil.IsZero() {
		t.Errorf("target not ejected again after one more failure")
	}
	if got := counterValue(ejections) - before; got != 2 {
		t.Errorf("ejections = %d, want 2", got)
	}
}
