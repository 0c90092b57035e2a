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
		// One family's series follow its metadata once: a second
		// "# TYPE" line for a family is an error to strict parsers.
		for col := range 2 {
			for r := Reason(0); r < NumReasons; r++ {
				if names[r][col] == "" {
					continue
				}
				v := last.Verdicts[r].Packets
				if col == 1 {
					v = last.Verdicts[r].Bytes
				}
				writeSeries(w, names[r][col], r == 0, v)
			}
		}
		metrics.WriteGaugeUint64(w, modeName, 1)
		metrics.WriteGaugeUint64(w, "edgeguard_enforcer_fallback_active", fallback)
		writeSeries(w, `edgeguard_enforcer_map_writes_total{path="batch"}`, true, last.BatchWrites)
		writeSeries(w, `edgeguard_enforcer_map_writes_total{path="element"}`, false, last.ElementWrites)
		if fallback == 0 {
			metrics.WriteCounterUint64(w, "edgeguard_xdp_burst_kernel_bans_total", last.BurstBans)
			metrics.WriteCounterUint64(w, "edgeguard_xdp_burst_ban_failures_total", last.BurstBanFailures)
			metrics.WriteCounterUint64(w, "edgeguard_xdp_burst_events_lost_total", last.BurstEventsLost)
		}
		metrics.WriteCounterUint64(w, "edgeguard_enforcer_stats_errors_total", errs)
	})
}

// writeSeries writes one counter series, with its family's metadata when
// it is the family's first.
func writeSeries(w io.Writer, name string, first bool, v uint64) {
	if first {
		metrics.WriteCounterUint64(w, name, v)
		return
	}
	fmt.Fprintf(w, "%s %d\n", name, v)
}
