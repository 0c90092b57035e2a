// Package results holds what one run of the benchmark suite measured, as
// the JSON file it writes (results.json) and the types every part of the
// suite fills in: the HTTP comparison with HAProxy and nginx, the attack
// scenarios (XDP against nftables, the throttling timeline) and the Go
// micro-benchmarks. The Markdown report and the plots are drawn from it
// alone, so a results.json can be rendered again later.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Run is one suite run.
type Run struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Quick    bool      `json:"quick"`
	Machine  Machine   `json:"machine"`
	// Versions of every program measured or used: gatewayd, haproxy, nginx,
	// wrk, go, nft, kernel.
	Versions map[string]string `json:"versions"`
	// Commands are the exact command lines run, in order, for reproduction.
	Commands []string `json:"commands"`
	// Notes are things the reader must know: a peer not installed, a
	// scenario skipped and why, a round flagged as disturbed.
	Notes []string `json:"notes,omitempty"`

	HTTP     *HTTP          `json:"http,omitempty"`
	XDPFlood *XDPFlood      `json:"xdp_flood,omitempty"`
	Throttle *Throttle      `json:"throttle,omitempty"`
	Micro    []MicroBench   `json:"micro,omitempty"`
	Checks   []TargetChecks `json:"checks,omitempty"`
}

// Machine describes the box the run measured.
type Machine struct {
	CPUModel string `json:"cpu_model"`
	Cores    int    `json:"cores"`
	Kernel   string `json:"kernel"`
	Hostname string `json:"hostname"`
}

// HTTP is the side-by-side proxy comparison.
type HTTP struct {
	Rounds      int    `json:"rounds"`
	Duration    string `json:"duration"` // of one wrk run, e.g. "5s"
	Connections int    `json:"connections"`
	GatewayCPU  int    `json:"gateway_cpu"` // the CPU the gateways are pinned to
	LoadCPU     int    `json:"load_cpu"`    // the CPU wrk and the upstream are pinned to
	// Runs are every measurement, in the order taken (round-robin).
	Runs []HTTPRun `json:"runs"`
	// Summary has one row per scenario and target: medians over rounds.
	Summary []HTTPSummary `json:"summary"`
	// Skipped lists scenario/target pairs that were not measured, with why.
	Skipped []Skip `json:"skipped,omitempty"`
}

// HTTPRun is one wrk run against one target in one scenario.
type HTTPRun struct {
	Round    int     `json:"round"`
	Scenario string  `json:"scenario"` // plain, ip_limit, hs256, rs256, rs256_rotating, ...
	Target   string  `json:"target"`   // direct, edgeguard, edgeguard_log, haproxy, nginx
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`  // socket errors and non-2xx answers
	Seconds  float64 `json:"seconds"` // wall time wrk measured
	RPS      float64 `json:"rps"`
	// GatewayCPUSeconds is the user+system CPU time of the gateway's
	// processes during the run (from /proc); RPSPerCore = Requests /
	// GatewayCPUSeconds. Zero for the direct target.
	GatewayCPUSeconds float64 `json:"gateway_cpu_seconds"`
	RPSPerCore        float64 `json:"rps_per_core"`
	// OtherCPUSeconds is the box's busy CPU time during the run that no
	// process of the benchmark used: work of others that disturbs it.
	OtherCPUSeconds float64 `json:"other_cpu_seconds"`
	// Latency percentiles from wrk's own histogram, in microseconds.
	Latency Percentiles `json:"latency_us"`
}

// Percentiles of a latency distribution, in microseconds.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// HTTPSummary is one scenario and target over all rounds.
type HTTPSummary struct {
	Scenario         string      `json:"scenario"`
	Target           string      `json:"target"`
	MedianRPS        float64     `json:"median_rps"`
	MedianRPSPerCore float64     `json:"median_rps_per_core"`
	MedianLatency    Percentiles `json:"median_latency_us"`
	// RatioVsHAProxy is the median over rounds of this target's
	// requests/s per gateway core divided by HAProxy's in the same round,
	// with the smallest and largest of those per-round ratios. Zero when
	// HAProxy did not run the scenario.
	RatioVsHAProxy float64 `json:"ratio_vs_haproxy"`
	RatioMin       float64 `json:"ratio_min"`
	RatioMax       float64 `json:"ratio_max"`
	Rounds         int     `json:"rounds"`
}

// Skip says why a scenario was not measured on a target.
type Skip struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	Reason   string `json:"reason"`
}

// TargetChecks are the correctness checks made on a target before it is
// measured; a target that fails one is not measured.
type TargetChecks struct {
	Target   string  `json:"target"`
	Scenario string  `json:"scenario"`
	Checks   []Check `json:"checks"`
}

// Check is one correctness check.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// XDPFlood compares dropping a spoofed-source flood by edgeguard's XDP
// program with the same blocklist in an nftables set.
type XDPFlood struct {
	BlocklistEntries int           `json:"blocklist_entries"`
	Sources          int           `json:"sources"` // distinct spoofed sources sent
	Results          []FloodResult `json:"results"`
	Skipped          string        `json:"skipped,omitempty"`
	// Generator says how the flood was made, e.g. "XDP live frames
	// (BPF_PROG_TEST_RUN) on the sender's veth, 1 thread on cpu 1".
	Generator string `json:"generator,omitempty"`
	// ReceiverCPU is the CPU the flood ran on: the generator's thread and
	// the receiving veth's NAPI (softirq), whose time is the receiver's
	// CPU cost (NsPerPacket).
	ReceiverCPU int `json:"receiver_cpu"`
}

// FloodResult is one dropper under the flood.
type FloodResult struct {
	Dropper                     string  `json:"dropper"` // xdp, nftables
	SentPPS                     float64 `json:"sent_pps"`
	DroppedPPS                  float64 `json:"dropped_pps"`
	PassedPackets               int64   `json:"passed_packets"`                  // blocklisted packets that got through (should be 0)
	CPUSecondsPerMillionPackets float64 `json:"cpu_seconds_per_million_packets"` // receiving side, softirq included
	NsPerPacket                 float64 `json:"ns_per_packet"`
	Seconds                     float64 `json:"seconds"`
	// Method describes the dropper exactly (hook, table or set type).
	Method string `json:"method,omitempty"`
	// LoadSeconds is the time to load the blocklist into the dropper.
	LoadSeconds float64 `json:"load_seconds"`
	// ControlPackets is how many frames of a short flood sent before the
	// blocklist was loaded reached the IP stack: it proves that the pass
	// check (PassedPackets) sees flood frames at all.
	ControlPackets int64 `json:"control_packets"`
}

// Throttle is the graduated limiter's answers to a client at a multiple of
// its rate limit, over time.
type Throttle struct {
	RatePerSecond    float64          `json:"rate_per_second"` // the configured limit
	OfferedPerSecond float64          `json:"offered_per_second"`
	BucketSeconds    float64          `json:"bucket_seconds"`
	Buckets          []ThrottleBucket `json:"buckets"`
	Skipped          string           `json:"skipped,omitempty"`
	// BanSeconds is the configured ban duration; MaxDelayMs the delay at
	// 100% of the limit. A 200 counts as delayed when it took at least
	// DelayedAboveMs longer than the fastest answer.
	BanSeconds     float64 `json:"ban_seconds"`
	MaxDelayMs     float64 `json:"max_delay_ms"`
	DelayedAboveMs float64 `json:"delayed_above_ms"`
	// FirstSeen is when each answer (passed, delayed, limited, dropped)
	// was first seen, in seconds since the start.
	FirstSeen map[string]float64 `json:"first_seen,omitempty"`
	// Gateway is what gatewayd itself counted during the run: the rate
	// limiter's results (allowed, delayed, rejected, banned) and the XDP
	// ban drops (xdp_drop_banned, packets).
	Gateway map[string]int64 `json:"gateway,omitempty"`
	// DropKinds splits the client's dropped requests: "closed" (the
	// connection closed or reset without an answer), "connect_timeout"
	// (SYN unanswered: dropped at the NIC by the ban) and "stalled" (sent
	// on an open connection during the ban: its packets were dropped and
	// retransmitted, and it was answered only after the ban ended).
	DropKinds map[string]int `json:"drop_kinds,omitempty"`
	// RetryAfterMissing counts 429s without a valid Retry-After (want 0).
	RetryAfterMissing int `json:"retry_after_missing"`
}

// ThrottleBucket counts the answers in one time slice of the run.
type ThrottleBucket struct {
	T       float64 `json:"t"` // seconds since start
	Passed  int     `json:"passed"`
	Delayed int     `json:"delayed"` // passed after a deliberate delay
	Limited int     `json:"limited"` // 429
	Dropped int     `json:"dropped"` // connection closed or refused (ban)
}

// MicroBench is one Go benchmark result.
type MicroBench struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	// Extra holds custom metrics the benchmark reported (b.ReportMetric).
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Write stores the run as results.json in dir, atomically.
func (r *Run) Write(dir string) (string, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode results: %w", err)
	}
	path := filepath.Join(dir, "results.json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write results: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write results: %w", err)
	}
	return path, nil
}

// Read loads a results.json written by Write.
func Read(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	return &r, nil
}
