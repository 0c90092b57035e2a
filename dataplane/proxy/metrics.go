package proxy

import (
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// healthyGauge backs edgeguard_upstream_healthy_targets{pool="x"}. The
// metrics registry keeps the first callback registered under a name for the
// life of the process, so the callback reads whichever pool of that name is
// current instead of capturing one: a reload that builds a new pool with the
// same name moves the gauge to it, and the closed pool can be collected.
type healthyGauge struct {
	pool atomic.Pointer[Pool]
}

func (g *healthyGauge) value() float64 {
	p := g.pool.Load()
	if p == nil {
		return 0
	}
	return float64(p.healthyTargets())
}

var healthyGauges struct {
	sync.Mutex
	byPool map[string]*healthyGauge
}

// healthyGaugeFor returns the gauge holder for a pool name, registering the
// metric the first time the name is seen.
func healthyGaugeFor(pool string) *healthyGauge {
	healthyGauges.Lock()
	defer healthyGauges.Unlock()
	if g, ok := healthyGauges.byPool[pool]; ok {
		return g
	}
	if healthyGauges.byPool == nil {
		healthyGauges.byPool = make(map[string]*healthyGauge)
	}
	g := &healthyGauge{}
	metrics.GetOrCreateGauge(`edgeguard_upstream_healthy_targets{pool="`+pool+`"}`, g.value)
	healthyGauges.byPool[pool] = g
	return g
}
