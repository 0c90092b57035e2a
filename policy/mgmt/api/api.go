// Package api holds the management API's wire format: paths and the JSON
// bodies that policy/mgmt serves and gatewayctl sends and reads. It must
// never hold behaviour, so that clients can import it without the daemon.
package api

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/edgeguard/edgeguard/policy/blocklist"
)

// API paths. gatewayctl uses the same constants.
const (
	PathBlocklist        = "/v1/blocklist"
	PathBlocklistEntries = "/v1/blocklist/entries"
	PathBlocklistDelta   = "/v1/blocklist/delta"
	PathBlocklistTest    = "/v1/blocklist/test"
	PathBans             = "/v1/bans"
	PathReload           = "/v1/reload"
	PathStatus           = "/v1/status"
)

// ErrorBody is the JSON body of every refused call.
type ErrorBody struct {
	Error string `json:"error"`
	// BadLines and BadTotal list refused entries of a push (the first 100).
	BadLines []blocklist.LineError `json:"bad_lines,omitempty"`
	BadTotal int                   `json:"bad_total,omitempty"`
	// CurrentVersion is set when a push was refused for its version.
	CurrentVersion *uint64 `json:"current_version,omitempty"`
}

// TestResult answers "is this address blocked, and by what?": Blocked is
// what the source filter does with it.
type TestResult struct {
	IP       string     `json:"ip"`
	Blocked  bool       `json:"blocked"`
	Entries  []string   `json:"entries"` // blocklist entries covering it, shortest first
	Banned   bool       `json:"banned"`
	BanUntil *time.Time `json:"ban_until,omitempty"`
	Version  uint64     `json:"blocklist_version"`
	// AllowedBy lists the xdp.allowlist entries covering it: neither the
	// blocklist nor a ban drops it then (Blocked is false).
	AllowedBy []string `json:"allowed_by,omitempty"`
}

// BanRequest asks for a ban; For defaults to xdp.ban_default.
type BanRequest struct {
	IP  string             `json:"ip"`
	For blocklist.Duration `json:"for,omitempty"`
}

// Ban is one active ban.
type Ban struct {
	IP        string             `json:"ip"`
	Until     time.Time          `json:"until"`
	Remaining blocklist.Duration `json:"remaining"`
	// Note says why the ban, recorded, does not take effect: the source is
	// in xdp.allowlist, which wins.
	Note string `json:"note,omitempty"`
	// Replaced is when the source's previous ban would have ended, when
	// this one replaced it (an answer to POST /v1/bans only): a ban sets
	// the end it is given, earlier or later.
	Replaced *time.Time `json:"replaced_until,omitempty"`
}

// Unban results.
const (
	Unbanned  = "unbanned"
	NotBanned = "not banned" // the source had no ban: nothing changed
)

// UnbanResult is the answer to DELETE /v1/bans/{ip}.
type UnbanResult struct {
	IP     string `json:"ip"`
	Result string `json:"result"` // Unbanned or NotBanned
	// CoveredBy names the banned IPv6 network that still holds a source
	// that had no ban of its own (NotBanned): the rate limiter bans IPv6
	// clients by network, and that is what to unban.
	CoveredBy string `json:"covered_by,omitempty"`
}

// BanList is the answer to GET /v1/bans.
type BanList struct {
	Bans []Ban `json:"bans"`
}

// ReloadResponse is the answer to POST /v1/reload.
type ReloadResponse struct {
	Swapped         bool     `json:"swapped"`
	Version         uint64   `json:"version"`
	RestartRequired []string `json:"restart_required,omitempty"` // restart-only keys this reload changed
	// RestartPending are all the restart-only keys whose configured value
	// is not yet in effect.
	RestartPending []string `json:"restart_pending,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// Status is what /status reports.
type Status struct {
	Version          string           `json:"version"`
	Uptime           string           `json:"uptime"`
	Config           ConfigStatus     `json:"config"`
	RestartPending   []string         `json:"restart_pending,omitempty"` // restart-only keys changed by a reload
	Upstreams        []UpstreamStatus `json:"upstreams"`
	Draining         bool             `json:"draining"`
	Enforcer         EnforcerStatus   `json:"enforcer"`
	Blocklist        *blocklist.Info  `json:"blocklist,omitempty"`
	AccessLogDropped uint64           `json:"access_log_dropped"`
}

// EnforcerStatus says how blocked sources are dropped.
type EnforcerStatus struct {
	Mode       string            `json:"mode"`     // native, generic, mixed, userspace...
	Fallback   bool              `json:"fallback"` // true: user space at accept time, not XDP
	Why        string            `json:"fallback_reason,omitempty"`
	Interfaces []InterfaceStatus `json:"interfaces,omitempty"`
	// Counters are packets (XDP) or connections (user space) per verdict.
	Counters map[string]uint64 `json:"counters,omitempty"`
	Bans     int               `json:"bans"`
	// BansSetAside names a damaged ban state file set aside at start:
	// the bans it held are not in force.
	BansSetAside string `json:"bans_set_aside,omitempty"`
	StatsError   string `json:"stats_error,omitempty"`
}

// InterfaceStatus is the XDP attachment on one interface.
type InterfaceStatus struct {
	Name string `json:"name"`
	Mode string `json:"mode"` // native or generic
}

// ConfigStatus describes the running policy.
type ConfigStatus struct {
	Version  uint64    `json:"version"`
	Source   string    `json:"source"`
	Digest   string    `json:"digest"`
	LoadedAt time.Time `json:"loaded_at"`
}

// UpstreamStatus lists one pool's targets.
type UpstreamStatus struct {
	Name    string         `json:"name"`
	Targets []TargetStatus `json:"targets"`
}

// TargetStatus is one upstream target's health.
type TargetStatus struct {
	Address             string     `json:"address"`
	Healthy             bool       `json:"healthy"`
	EjectedUntil        *time.Time `json:"ejected_until,omitempty"`
	InFlight            int        `json:"in_flight"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
}

// HashToken returns the form of a token kept in the config file
// (management.tokens[].hash): "sha256:" and the hex SHA-256 of the token.
// Tokens are random (gatewayctl token new), so a fast hash is enough: there
// is no password to guess.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}
