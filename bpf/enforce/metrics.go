package enforce

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// statsMaxAge bounds how often a scrape reads the counters: scrapes closer
// together than this reuse the last snapshot. A variable for tests.
var statsMaxAge = 500 * time.Millisecond

// RegisterMetrics exposes e's counters on set, read when set is scraped:
//
//	edgeguard_xdp_packets_total{verdict="drop_blocklist"}   (XDP modes)
//	edgeguard_xdp_bytes_total{verdict="drop_blocklist"}     (XDP modes)
//	edgeguard_connfilter_connections_total{verdict="..."}   (userspace mode)
//	edgeguard_enforcer_mode{mode="native"} 1
//	edgeguard_enforcer_fallback_active 0|1
//	edgeguard_enforcer_map_writes_total{path="batch"|"element"}
//	edgeguard_xdp_burst_kernel_bans_total                   (XDP modes)
//	edgeguard_xdp_burst_ban_failures_total                  (XDP modes)
//	edgeguard_xdp_burst_events_lost_total                   (XDP modes)
//
// A failed read is counted in edgeguard_enforcer_stats_errors_total and the
// previous snapshot is served.
func RegisterMetrics(set *metrics.Set, e Enforcer) {
	mode := e.Mode()
	fallback := uint64(0)
	if mode == ModeUserspace {
		fallback = 1
	}
	names := make([][2]string, NumReasons)
	for r := Reason(0); r < NumReasons; r++ {
		if fallback == 1 {
			names[r][0] = fmt.Sprintf(`edgeguard_connfilter_connections_total{verdict=%q}`, r.String())
		} else {
			names[r][0] = fmt.Sprintf(`edgeguard_xdp_packets_total{verdict=%q}`, r.String())
			names[r][1] = fmt.Sprintf(`edgeguard_xdp_bytes_total{verdict=%q}`, r.String())
		}
	}
	modeName := fmt.Sprintf(`edgeguard_enforcer_mode{mode=%q}`, mode)

	var (
		mu     sync.Mutex
		last   Stats
		readAt time.Time
		errs   uint64
	)
	set.RegisterMetricsWriter(func(w io.Writer) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(readAt) >= statsMaxAge {
			if st, err := e.Stats(); err != nil {
				errs++
			} else {
				last, readAt = st, now
			}
		}
		for r := Reason(0); r < NumReasons; r++ {
			metrics.WriteCounterUint64(w, names[r][0], last.Verdicts[r].Packets)
			if names[r][1] != "" {
				metrics.WriteCounterUint64(w, names[r][1], last.Verdicts[r].Bytes)
			}
		}
		metrics.WriteGaugeUint64(w, modeName, 1)
		metrics.WriteGaugeUint64(w, "edgeguard_enforcer_fallback_active", fallback)
		metrics.WriteCounterUint64(w, `edgeguard_enforcer_map_writes_total{path="batch"}`, last.BatchWrites)
		metrics.WriteCounterUint64(w, `edgeguard_enforcer_map_writes_total{path="element"}`, last.ElementWrites)
		if fallback == 0 {
			metrics.WriteCounterUint64(w, "edgeguard_xdp_burst_kernel_bans_total", last.BurstBans)
			metrics.WriteCounterUint64(w, "edgeguard_xdp_burst_ban_failures_total", last.BurstBanFailures)
			metrics.WriteCounterUint64(w, "edgeguard_xdp_burst_events_lost_total", last.BurstEventsLost)
		}
		metrics.WriteCounterUint64(w, "edgeguard_enforcer_stats_errors_total", errs)
	})
}
