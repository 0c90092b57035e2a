package api

import (
	"encoding/json"
	"time"

	"github.com/edgeguard/edgeguard/policy/blocklist"
)

// PathTop is the live view's snapshot (gatewayctl top): GET, read access.
// ?n= bounds every list (default TopDefault, at most TopMax).
const PathTop = "/v1/top"

// Bounds of the lists in a Top answer.
const (
	TopDefault = 10
	TopMax     = 64
)

// Top is one frame of the live view: the traffic of the last seconds as
// the data plane counted it, and the state an operator watches beside it.
// Rates are per second over Window; counters of the enforcer are totals
// since start (a viewer turns them into rates between frames).
type Top struct {
	Time   time.Time `json:"time"`
	Window float64   `json:"window_seconds"` // what the traffic figures cover
	// Requests are the requests finished in the window, Rate per second.
	Requests uint64  `json:"requests"`
	Rate     float64 `json:"requests_per_second"`
	// Classes are requests by status class: "2xx", ..., "other".
	Classes map[string]uint64 `json:"classes"`
	// Clients are the busiest clients (an IPv4 address or an IPv6 /64).
	Clients []TopClient `json:"clients"`
	// DistinctClients is the most distinct clients seen in one second;
	// UntrackedRequests came from clients the counting table had no room
	// for (many distinct sources at once), so Clients may miss some.
	DistinctClients   int    `json:"distinct_clients"`
	UntrackedRequests uint64 `json:"untracked_requests"`
	// Reasons are the most frequent deny reasons in the window.
	Reasons []TopReason `json:"deny_reasons"`
	// Enforcer is the source filter: mode, fallback and verdict counters.
	Enforcer *EnforcerStatus `json:"enforcer,omitempty"`
	// Bans are active bans, longest remaining first; BansTotal counts all.
	Bans      []Ban           `json:"bans"`
	BansTotal int             `json:"bans_total"`
	Blocklist *blocklist.Info `json:"blocklist,omitempty"`
	Upstreams []TopUpstream   `json:"upstreams"`
	// Events are the last security events written (anomalies included),
	// newest first, each one line of the stream; EventsDropped counts
	// events the stream could not queue. Events is null when the stream
	// is off.
	Events        []json.RawMessage `json:"events"`
	EventsDropped uint64            `json:"events_dropped"`
	ConfigVersion uint64            `json:"config_version"`
}

// TopClient is one busy client of the window.
type TopClient struct {
	Client   string  `json:"client"`
	Requests uint64  `json:"requests"`
	Denied   uint64  `json:"denied"`
	Rate     float64 `json:"requests_per_second"`
}

// TopReason is one deny reason of the window.
type TopReason struct {
	Reason string  `json:"reason"`
	Count  uint64  `json:"count"`
	Rate   float64 `json:"per_second"`
}

// TopUpstream is one pool's health at a glance.
type TopUpstream struct {
	Name    string `json:"name"`
	Healthy int    `json:"healthy"`
	Targets int    `json:"targets"`
}
