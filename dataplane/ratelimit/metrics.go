package ratelimit

import (
	"strconv"

	"github.com/VictoriaMetrics/metrics"
)

// Per (route, limit) results. Shadow limits count what they would have
// done under would_*; what they let through counts as allowed.
const (
	resAllowed = iota
	resDelayed
	resRejected
	resBanned
	resWouldDelay
	resWouldReject
	resWouldBan
	numResults
)

var resultNames = [numResults]string{"allowed", "delayed", "rejected", "banned", "would_delay", "would_reject", "would_ban"}

type limitCounters [numResults]*metrics.Counter

func newLimitCounters(route, limit string) limitCounters {
	var c limitCounters
	prefix := `edgeguard_ratelimit_requests_total{route=` + strconv.Quote(route) + `,limit=` + strconv.Quote(limit) + `,result="`
	for i, n := range resultNames {
		c[i] = metrics.GetOrCreateCounter(prefix + n + `"}`)
	}
	return c
}

// record counts one limit's own decision on one request.
func (c *limitCounters) record(a Action, shadow bool) {
	i := int(a)
	if shadow && a != Allow {
		i += resWouldDelay - resDelayed
	}
	c[i].Inc()
}

var (
	bansIssued = metrics.NewCounter(`edgeguard_ratelimit_bans_total{result="issued"}`)
	bansFailed = metrics.NewCounter(`edgeguard_ratelimit_bans_total{result="failed"}`)
	// banLogsSuppressed counts ban log lines left out beyond banLogBurst a second.
	banLogsSuppressed = metrics.NewCounter(`edgeguard_ratelimit_ban_log_suppressed_total`)
	// bansProxied counts burst offenders behind a trusted proxy: answered
	// with 429, since closing or banning would hit the proxy.
	bansProxied = metrics.NewCounter(`edgeguard_ratelimit_bans_total{result="proxied"}`)
	// bansAllowlisted: bursts from allowlisted sources, answered 429.
	bansAllowlisted = metrics.NewCounter(`edgeguard_ratelimit_bans_total{result="allowlisted"}`)
	// delaySkipped counts requests passed without their delay because
	// max_delayed requests were already waiting.
	delaySkipped = metrics.NewCounter(`edgeguard_ratelimit_delay_skipped_total`)
	// delayedNow is the number of requests waiting in a delay (sampled
	// every second).
	delayedNow = metrics.NewGauge(`edgeguard_ratelimit_delayed_requests`, nil)
	// leaseQueueFull counts cluster lease refills that found the leaser's
	// queue full (the request was still decided, from credit or locally).
	leaseQueueFull = metrics.NewCounter(`edgeguard_ratelimit_cluster_refill_dropped_total`)
	// leaseCredit counts cluster-limited requests granted on credit by the
	// local fallback while no lease was at hand (charged later).
	leaseCredit = metrics.NewCounter(`edgeguard_ratelimit_cluster_credit_total`)
)
