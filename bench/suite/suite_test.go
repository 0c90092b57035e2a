package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bench/suite/results"
)

// TestChecks runs the suite's correctness checks the way CI does (quick
// mode, nothing measured): every edgeguard scenario must pass them, and so
// must every scenario of each peer that is installed.
func TestChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateways")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := run(ctx, options{quick: true, checksOnly: true, noInstall: true, out: out, rounds: 1, duration: time.Second, conns: 8})
	if err != nil {
		t.Fatalf("checks: %v", err)
	}
	r, err := results.Read(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	passed := map[string]int{}
	for _, tc := range r.Checks {
		for _, c := range tc.Checks {
			if !c.Passed {
				t.Errorf("%s %s: %s: %s", tc.Target, tc.Scenario, c.Name, c.Detail)
			}
			passed[tc.Target]++
		}
	}
	if passed["edgeguard"] < 30 {
		t.Errorf("edgeguard: %d checks passed, want every scenario's (>= 30)", passed["edgeguard"])
	}
	for _, peer := range []string{"haproxy", "nginx"} {
		if _, err := exec.LookPath(peer); err != nil {
			t.Logf("%s not installed: not checked", peer)
			continue
		}
		if passed[peer] == 0 {
			t.Errorf("%s is installed but no check of it passed", peer)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
		t.Errorf("no report: %v", err)
	}
}

func TestSummarize(t *testing.T) {
	run := func(round int, sc, target string, perCore float64) results.HTTPRun {
		return results.HTTPRun{Round: round, Scenario: sc, Target: target, RPS: perCore / 2, RPSPerCore: perCore,
			Latency: results.Percentiles{P50: perCore / 1000}}
	}
	runs := []results.HTTPRun{
		run(1, "plain", "haproxy", 100), run(1, "plain", "edgeguard", 50),
		run(2, "plain", "haproxy", 200), run(2, "plain", "edgeguard", 300),
		run(3, "plain", "haproxy", 100), run(3, "plain", "edgeguard", 90),
		run(1, "waf", "edgeguard", 10),
	}
	got := map[string]results.HTTPSummary{}
	for _, s := range summarize(runs) {
		got[s.Scenario+"/"+s.Target] = s
	}
	tests := []struct {
		key               string
		perCore           float64
		ratio, rmin, rmax float64
		rounds            int
	}{
		// Ratios per round: 0.5, 1.5, 0.9: median 0.9, not 440/400.
		{"plain/edgeguard", 90, 0.9, 0.5, 1.5, 3},
		{"plain/haproxy", 100, 0, 0, 0, 3},
		{"waf/edgeguard", 10, 0, 0, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			s, ok := got[tc.key]
			if !ok {
				t.Fatalf("no summary row")
			}
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
			if !near(s.MedianRPSPerCore, tc.perCore) || !near(s.RatioVsHAProxy, tc.ratio) ||
				!near(s.RatioMin, tc.rmin) || !near(s.RatioMax, tc.rmax) || s.Rounds != tc.rounds {
				t.Errorf("got %+v", s)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPickScenarios(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", "map[]", ""},
		{"plain", "map[plain:true]", ""},
		{"plain, hs256", "map[hs256:true plain:true]", ""},
		{"plain,nope", "", `unknown scenario "nope"`},
	} {
		got, err := pickScenarios(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("pickScenarios(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("pickScenarios(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
