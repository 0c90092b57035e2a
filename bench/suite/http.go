package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/edgeguard/edgeguard/bench/suite/check"
	"github.com/edgeguard/edgeguard/bench/suite/cpu"
	"github.com/edgeguard/edgeguard/bench/suite/load"
	"github.com/edgeguard/edgeguard/bench/suite/results"
	"github.com/edgeguard/edgeguard/bench/suite/targets"
	"github.com/edgeguard/edgeguard/bench/suite/tokens"
)

// Ports of the comparison, on loopback.
const (
	upstreamAddr        = "127.0.0.1:18600"
	edgeguardAddr       = "127.0.0.1:18610"
	edgeguardLogAddr    = "127.0.0.1:18611"
	haproxyAddr         = "127.0.0.1:18612"
	nginxAddr           = "127.0.0.1:18613"
	edgeguardNoPipeAddr = "127.0.0.1:18614"
	edgeguardQuietAddr  = "127.0.0.1:18615"
)

// The edgeguard targets measured on the plain proxy only: with its access
// log and security event stream on, with no logging, events or anomaly
// detection at all (the two give the cost of observability), and without
// upstream pipelining (edgeguard pipelines to the suite's upstream, which
// answers pipelined requests; HAProxy and nginx cannot pipeline to a
// server).
const (
	edgeguardLog      = "edgeguard_log"
	edgeguardQuiet    = "edgeguard_quiet"
	edgeguardNoPipe   = "edgeguard_nopipeline"
	edgeguardPipeline = 1 // upstreams[].pipeline.conns of all but edgeguard_nopipeline
)

// rotatingTokens is how many RS256 tokens the rotating scenario cycles
// through: more than edgeguard's verified-token cache holds (16384 by
// default), so no cache helps. Quick mode signs fewer and shrinks the
// cache to match.
const (
	rotatingTokens      = 20000
	rotatingTokensQuick = 2048
	quickJWTCache       = 1024
)

// member is a started gateway in the comparison.
type member struct {
	gw   targets.Gateway
	proc *targets.Process
	// measured lists the scenarios it passed the checks of.
	measured map[string]bool
}

// http runs the side-by-side comparison; it returns the number of failed
// correctness checks.
func (s *suite) http(ctx context.Context, bins binaries) (int, error) {
	gwCPU, loadCPU := 0, 1
	if runtime.NumCPU() < 2 {
		gwCPU, loadCPU = -1, -1
		s.note("one CPU only: gateways, wrk and upstream share it, so per-core figures are rough")
	}
	h := &results.HTTP{Rounds: s.o.rounds, Duration: s.o.duration.String(), Connections: s.o.conns, GatewayCPU: gwCPU, LoadCPU: loadCPU}
	s.run.HTTP = h

	nTokens, cache := rotatingTokens, 0
	switch {
	case s.o.checksOnly:
		nTokens = 16 // the checks send one
	case s.o.quick:
		nTokens, cache = rotatingTokensQuick, quickJWTCache
		s.note("quick mode: the rotating RS256 scenario cycles %d tokens through a %d-entry edgeguard cache (full mode: %d tokens, default 16384-entry cache)",
			nTokens, cache, rotatingTokens)
	}
	s.progress("signing %d RS256 tokens for the rotating scenario", nTokens)
	toks, err := tokens.Make(s.work, nTokens)
	if err != nil {
		return 0, err
	}
	setup := targets.Setup{
		Dir: s.work, Upstream: upstreamAddr, CPU: gwCPU,
		HSSecret: toks.HSSecret, HSSecretFile: toks.HSSecretFile, RSAPubFile: toks.RSAPubFile,
		IssuerHS: tokens.IssuerHS, IssuerRS: tokens.IssuerRS, Audience: tokens.Audience,
		SchemaFile:   filepath.Join(s.root, "dataplane/validate/schema/testdata/bench/order.schema.json"),
		JWTCacheSize: cache,
	}
	validJSON, err := os.ReadFile(filepath.Join(s.root, "dataplane/validate/schema/testdata/bench/order.json"))
	if err != nil {
		return 0, fmt.Errorf("read benchmark body: %w", err)
	}
	invalidJSON, err := os.ReadFile(filepath.Join(s.root, "dataplane/validate/schema/testdata/bench/order-invalid.json"))
	if err != nil {
		return 0, fmt.Errorf("read benchmark body: %w", err)
	}
	bodyFile := filepath.Join(s.work, "order.json")
	if err := os.WriteFile(bodyFile, validJSON, 0o644); err != nil {
		return 0, fmt.Errorf("write benchmark body: %w", err)
	}
	rotatingOne, err := firstLine(toks.RotatingFile)
	if err != nil {
		return 0, err
	}

	up, err := targets.Upstream(ctx, bins.upstream, s.work, upstreamAddr, loadCPU)
	if err != nil {
		return 0, err
	}
	defer up.Stop()
	upstreamBody, err := getBody(ctx, "http://"+upstreamAddr+"/")
	if err != nil {
		return 0, err
	}

	members := []*member{
		{gw: targets.Edgeguard(bins.gatewayd, "edgeguard", targets.EdgeguardOptions{AccessLog: "off", Pipeline: edgeguardPipeline})},
		{gw: targets.HAProxy()},
		{gw: targets.Nginx()},
		{gw: targets.Edgeguard(bins.gatewayd, edgeguardLog, targets.EdgeguardOptions{
			AccessLog: filepath.Join(s.work, "access.log"), SecurityEvents: filepath.Join(s.work, "events.log"), Pipeline: edgeguardPipeline})},
		{gw: targets.Edgeguard(bins.gatewayd, edgeguardQuiet, targets.EdgeguardOptions{AccessLog: "off", NoDetection: true, Pipeline: edgeguardPipeline})},
		{gw: targets.Edgeguard(bins.gatewayd, edgeguardNoPipe, targets.EdgeguardOptions{AccessLog: "off"})},
	}
	addrs := map[string]string{"edgeguard": edgeguardAddr, "haproxy": haproxyAddr, "nginx": nginxAddr,
		edgeguardLog: edgeguardLogAddr, edgeguardQuiet: edgeguardQuietAddr, edgeguardNoPipe: edgeguardNoPipeAddr}
	in := check.Inputs{Tokens: toks, RotatingOne: rotatingOne, UpstreamBody: upstreamBody, ValidJSON: validJSON, InvalidJSON: invalidJSON}
	failed := 0
	for _, m := range members {
		name := m.gw.Name
		if v := m.gw.Version(); v != "" {
			s.run.Versions[name] = v
		}
		scen := targets.Scenarios
		if name == edgeguardLog || name == edgeguardQuiet || name == edgeguardNoPipe {
			scen = []string{targets.Plain}
		}
		s.progress("starting %s", name)
		p, err := m.gw.Start(ctx, setup, addrs[name])
		if err != nil && strings.HasPrefix(name, "edgeguard") {
			return failed, err
		}
		if err != nil {
			for _, sc := range scen {
				h.Skipped = append(h.Skipped, results.Skip{Scenario: sc, Target: name, Reason: err.Error()})
			}
			s.note("%s not measured: %v", name, err)
			continue
		}
		defer p.Stop()
		m.proc, m.measured = p, map[string]bool{}
		for _, sc := range scen {
			if ok, why := m.gw.Supports(sc); !ok {
				h.Skipped = append(h.Skipped, results.Skip{Scenario: sc, Target: name, Reason: why})
				continue
			}
			tc := check.Scenario(ctx, name, sc, p.Addr, in)
			s.run.Checks = append(s.run.Checks, tc)
			if ok, why := check.Passed(tc); !ok {
				failed += countFailed(tc)
				h.Skipped = append(h.Skipped, results.Skip{Scenario: sc, Target: name, Reason: why})
				s.progress("check %s %s: FAILED: %s", name, sc, why)
				continue
			}
			m.measured[sc] = true
			s.progress("check %s %s: %d checks passed", name, sc, len(tc.Checks))
		}
	}
	if s.o.checksOnly {
		return failed, nil
	}

	runner, err := load.NewRunner(s.work)
	if err != nil {
		return failed, err
	}
	type job struct {
		scenario string
		m        *member // nil: the upstream direct
	}
	only, err := pickScenarios(s.o.scenarios)
	if err != nil {
		return failed, err
	}
	var jobs []job
	jobs = append(jobs, job{scenario: targets.Direct})
	for _, sc := range targets.Scenarios {
		if only != nil && !only[sc] {
			continue
		}
		for _, m := range members {
			if m.measured[sc] {
				jobs = append(jobs, job{sc, m})
			}
		}
	}
	spec := func(j job) load.Spec {
		sp := load.Spec{Connections: s.o.conns, Duration: s.o.duration, CPU: loadCPU}
		addr := upstreamAddr
		if j.m != nil {
			addr = j.m.proc.Addr
		}
		sp.URL = "http://" + addr + targets.Path(j.scenario)
		switch j.scenario {
		case targets.HS256:
			sp.Headers = []string{"Authorization: Bearer " + toks.HS256}
		case targets.RS256:
			sp.Headers = []string{"Authorization: Bearer " + toks.RS256}
		case targets.RS256Rotating:
			sp.TokensFile = toks.RotatingFile
		}
		if targets.IsPost(j.scenario) {
			sp.Method, sp.BodyFile = "POST", bodyFile
			sp.Headers = append(sp.Headers, "Content-Type: application/json")
		}
		return sp
	}
	name := func(j job) string {
		if j.m == nil {
			return "upstream"
		}
		return j.m.gw.Name
	}
	if !s.o.quick {
		s.progress("warming up %d targets (1 s each)", len(jobs))
		for _, j := range jobs {
			sp := spec(j)
			sp.Duration = time.Second
			if _, err := runner.Run(ctx, sp); err != nil {
				return failed, err
			}
		}
	}
	cmdShown := map[string]bool{}
	for r := 1; r <= s.o.rounds; r++ {
		// Rotate the order each round so no target always runs first.
		order := append(jobs[r%len(jobs):len(jobs):len(jobs)], jobs[:r%len(jobs)]...)
		for _, j := range order {
			if ctx.Err() != nil {
				return failed, ctx.Err()
			}
			sp := spec(j)
			var pids []int
			if j.m != nil {
				pids = j.m.proc.PIDs()
			}
			gw0, up0 := cpu.Processes(pids), cpu.Process(up.PID())
			box0, _ := cpu.Box()
			res, err := runner.Run(ctx, sp)
			if err != nil {
				return failed, err
			}
			gw := cpu.Processes(pids) - gw0
			upc := cpu.Process(up.PID()) - up0
			box, _ := cpu.Box()
			hr := results.HTTPRun{
				Round: r, Scenario: j.scenario, Target: name(j),
				Requests: res.Requests, Errors: res.Errors(), Seconds: res.Seconds(),
				GatewayCPUSeconds: gw,
				OtherCPUSeconds:   max(0, (box-box0)-gw-upc-res.CPUSeconds),
				Latency:           results.Percentiles{P50: res.P50, P90: res.P90, P99: res.P99, P999: res.P999, Max: res.Max},
			}
			if hr.Seconds > 0 {
				hr.RPS = float64(res.Requests) / hr.Seconds
			}
			if gw > 0 {
				hr.RPSPerCore = float64(res.Requests) / gw
			}
			h.Runs = append(h.Runs, hr)
			key := j.scenario + "/" + name(j)
			if !cmdShown[key] {
				cmdShown[key] = true
				s.command(append(envPrefix(sp), runner.Command(sp)...)...)
			}
			s.progress("round %d/%d %-15s %-14s %9.0f req/s %9.0f req/s/core  p99 %6.0f us  errors %d",
				r, s.o.rounds, j.scenario, name(j), hr.RPS, hr.RPSPerCore, res.P99, hr.Errors)
		}
	}
	h.Summary = summarize(h.Runs)
	s.run.Versions["wrk"] = targets.VersionOf("wrk", "-v")
	s.run.Versions["go"] = runtime.Version()
	return failed, nil
}

func envPrefix(sp load.Spec) []string {
	var out []string
	for _, e := range sp.Env() {
		if e[len(e)-1] != '=' {
			out = append(out, fmt.Sprintf("%q", e))
		}
	}
	return out
}

func countFailed(tc results.TargetChecks) int {
	n := 0
	for _, c := range tc.Checks {
		if !c.Passed {
			n++
		}
	}
	return n
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read tokens: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if sc.Scan() {
		return sc.Text(), nil
	}
	return "", fmt.Errorf("read tokens: %s is empty", path)
}

// pickScenarios parses -scenarios: nil for all, else the set named.
func pickScenarios(list string) (map[string]bool, error) {
	if list == "" {
		return nil, nil
	}
	only := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(targets.Scenarios, name) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (known: %s)", name, strings.Join(targets.Scenarios, ", "))
		}
		only[name] = true
	}
	return only, nil
}

// summarize takes medians over rounds per scenario and target, and the
// ratio to HAProxy within each round.
func summarize(runs []results.HTTPRun) []results.HTTPSummary {
	type key struct{ sc, t string }
	by := map[key][]results.HTTPRun{}
	var keys []key
	hap := map[string]map[int]float64{} // scenario -> round -> HAProxy req/s per core
	for _, r := range runs {
		k := key{r.Scenario, r.Target}
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
		if r.Target == "haproxy" {
			if hap[r.Scenario] == nil {
				hap[r.Scenario] = map[int]float64{}
			}
			hap[r.Scenario][r.Round] = r.RPSPerCore
		}
	}
	var out []results.HTTPSummary
	for _, k := range keys {
		rs := by[k]
		var rps, perCore, p50, p90, p99, p999, mx, ratios []float64
		for _, r := range rs {
			rps = append(rps, r.RPS)
			perCore = append(perCore, r.RPSPerCore)
			p50, p90, p99 = append(p50, r.Latency.P50), append(p90, r.Latency.P90), append(p99, r.Latency.P99)
			p999, mx = append(p999, r.Latency.P999), append(mx, r.Latency.Max)
			// Ratios of edgeguard's targets only: that is the comparison.
			if h := hap[k.sc][r.Round]; h > 0 && r.RPSPerCore > 0 && k.t != "haproxy" {
				ratios = append(ratios, r.RPSPerCore/h)
			}
		}
		sm := results.HTTPSummary{
			Scenario: k.sc, Target: k.t, Rounds: len(rs),
			MedianRPS: median(rps), MedianRPSPerCore: median(perCore),
			MedianLatency: results.Percentiles{P50: median(p50), P90: median(p90), P99: median(p99), P999: median(p999), Max: median(mx)},
		}
		if len(ratios) > 0 {
			sm.RatioVsHAProxy = median(ratios)
			sort.Float64s(ratios)
			sm.RatioMin, sm.RatioMax = ratios[0], ratios[len(ratios)-1]
		}
		out = append(out, sm)
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func getBody(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask the upstream: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("ask the upstream: status %d, %v", resp.StatusCode, err)
	}
	return string(b), nil
}
