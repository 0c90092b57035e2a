// Package report renders a benchmark suite run as a Markdown report and
// writes a run's output directory: results.json, the PNG figures and
// report.md.
//
// The report is drawn from a results.Run alone, so a stored results.json
// can be rendered again. It never measures, and it never hides what the
// run says went wrong: skipped pairs, failed checks and notes are always
// printed.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgeguard/edgeguard/bench/suite/plots"
	"github.com/edgeguard/edgeguard/bench/suite/results"
)

// FileName is the report's name in the output directory.
const FileName = "report.md"

// Write stores the run in dir (created if missing): results.json first,
// then the figures, then report.md linking them. A figure that fails to
// draw does not stop the report, which says so; the error is returned
// after the report is written.
func Write(dir string, r *results.Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if _, err := r.Write(dir); err != nil {
		return err
	}
	files, plotErr := plots.Draw(dir, r)
	md := render(r, files, plotErr)
	path := filepath.Join(dir, FileName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, md, 0o644); err != nil {
		return errors.Join(plotErr, fmt.Errorf("write report: %w", err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(plotErr, fmt.Errorf("write report: %w", err))
	}
	return plotErr
}

// Markdown renders the whole run. plots are the figures' file names,
// relative to the report (as plots.Draw returns them); each is shown in
// its section, and any other under "Figures".
func Markdown(r *results.Run, plots []string) []byte {
	return render(r, plots, nil)
}

func render(r *results.Run, figures []string, plotErr error) []byte {
	w := &writer{figures: slices.Clone(figures)}
	w.header(r)
	w.machine(r)
	w.versions(r)
	w.method(r)
	w.http(r.HTTP)
	w.checks(r.Checks)
	w.xdp(r.XDPFlood)
	w.throttle(r.Throttle)
	w.micro(r.Micro)
	w.notes(r.Notes, plotErr)
	w.otherFigures()
	w.commands(r.Commands)
	return append(bytes.TrimRight(w.buf.Bytes(), "\n"), '\n')
}

type writer struct {
	buf     bytes.Buffer
	figures []string // not shown yet
}

func (w *writer) p(format string, args ...any) {
	fmt.Fprintf(&w.buf, format, args...)
	w.buf.WriteByte('\n')
}

func (w *writer) section(title string) {
	w.p("## %s\n", title)
}

// table writes a Markdown table; align has one 'l' or 'r' per column.
func (w *writer) table(align string, head []string, rows [][]string) {
	w.p("| %s |", strings.Join(head, " | "))
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---"
		if i < len(align) && align[i] == 'r' {
			seps[i] = "---:"
		}
	}
	w.p("| %s |", strings.Join(seps, " | "))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c)
		}
		w.p("| %s |", strings.Join(cells, " | "))
	}
	w.p("")
}

// figure shows name if the run drew it, and marks it shown.
func (w *writer) figure(name, caption string) {
	i := slices.Index(w.figures, name)
	if i < 0 {
		return
	}
	w.figures = slices.Delete(w.figures, i, i+1)
	w.p("![%s](%s)\n", caption, name)
}

func (w *writer) header(r *results.Run) {
	w.p("# edgeguard benchmark suite\n")
	mode := "full run"
	if r.Quick {
		mode = "quick run (short measurements: indicative only)"
	}
	when := "start time not recorded"
	if !r.Started.IsZero() {
		when = "started " + r.Started.UTC().Format("2006-01-02 15:04:05 UTC")
		if !r.Finished.IsZero() {
			when += fmt.Sprintf(", %s", r.Finished.Sub(r.Started).Round(time.Second))
		}
	}
	w.p("%s; %s.\n", upperFirst(mode), when)
	w.p("All numbers come from `results.json` beside this report; `report.md` and the figures can be drawn again from it.\n")
}

func (w *writer) machine(r *results.Run) {
	m := r.Machine
	w.section("Machine")
	w.table("ll", []string{"", ""}, [][]string{
		{"CPU", orDash(m.CPUModel)},
		{"Cores", intOrDash(m.Cores)},
		{"Kernel", orDash(m.Kernel)},
		{"Host", orDash(m.Hostname)},
	})
}

func (w *writer) versions(r *results.Run) {
	if len(r.Versions) == 0 {
		return
	}
	w.section("Versions")
	keys := make([]string, 0, len(r.Versions))
	for k := range r.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k, "`" + r.Versions[k] + "`"}
	}
	w.table("ll", []string{"Program", "Version"}, rows)
}

func (w *writer) method(r *results.Run) {
	if r.HTTP == nil && r.XDPFlood == nil && r.Throttle == nil && len(r.Micro) == 0 {
		return
	}
	w.section("Method")
	if h := r.HTTP; h != nil {
		w.p("- **HTTP comparison.** Each target proxies the same upstream. Every round runs each scenario on each target once, round-robin, "+
			"with wrk for %s over %d connections; %d rounds. The gateways are pinned to CPU %d, wrk and the upstream to CPU %d. "+
			"Requests/s per gateway core is the requests served divided by the gateway processes' user+system CPU seconds (from /proc), "+
			"so a gateway that uses less than a full core is not penalised and one that spills onto other cores is not flattered. "+
			"The ratio to HAProxy is taken per round (same round, same conditions), and the table gives its median with the smallest and largest round. "+
			"Latency percentiles are wrk's, medians over rounds. A target is measured only after its correctness checks pass. "+
			"edgeguard pipelines idempotent requests to the upstream (`upstreams[].pipeline.conns: 1`; the suite's upstream answers pipelined requests, "+
			"HAProxy and nginx cannot pipeline to a server); edgeguard_nopipeline is the same gateway without it, edgeguard_log the same with its access log and security event stream on, edgeguard_quiet the same with no access log, events or anomaly detection (the detectors are on by default, so every other edgeguard target runs them).",
			orDash(h.Duration), h.Connections, h.Rounds, h.GatewayCPU, h.LoadCPU)
	}
	if x := r.XDPFlood; x != nil {
		w.p("- **XDP against nftables.** A flood from %s spoofed sources, all on a %s-entry blocklist, is dropped once by edgeguard's XDP program "+
			"and once by the same list in an nftables set. Dropped packets/s and the receiving side's CPU time (softirq included) per million packets are measured; "+
			"a blocklisted packet that gets through is counted.", thousands(float64(x.Sources)), thousands(float64(x.BlocklistEntries)))
	}
	if t := r.Throttle; t != nil {
		w.p("- **Throttling timeline.** One client sends %s requests/s against a limit of %s requests/s; the gateway's answers are counted in slices of %s s: "+
			"passed, passed after a deliberate delay, refused with 429, and dropped (connection closed or refused by a ban).",
			num(t.OfferedPerSecond), num(t.RatePerSecond), num(t.BucketSeconds))
	}
	if len(r.Micro) > 0 {
		w.p("- **Micro-benchmarks.** The Go benchmarks of the hot paths, run with `go test -bench -benchmem -count 1` (commands below); " +
			"one run each, so small differences are noise.")
	}
	w.p("")
}

func (w *writer) http(h *results.HTTP) {
	if h == nil {
		return
	}
	w.section("HTTP comparison")
	if len(h.Summary) == 0 {
		w.p("No scenario was measured.\n")
	} else {
		rows := make([][]string, 0, len(h.Summary))
		for _, s := range h.Summary {
			rows = append(rows, []string{
				s.Scenario, s.Target, thousands(s.MedianRPS), perCore(s), ratio(s),
				micros(s.MedianLatency.P50), micros(s.MedianLatency.P99), strconv.Itoa(s.Rounds),
			})
		}
		w.table("llrrrrrr", []string{"Scenario", "Target", "req/s", "req/s per gateway core", "vs HAProxy per core, median (min-max)", "p50", "p99", "Rounds"}, rows)
		if d := disturbed(h.Runs); d != "" {
			w.p("%s\n", d)
		}
		if med, lo, hi, n := roundRatio(h.Runs, "plain", "edgeguard_log", "edgeguard_quiet"); n > 0 {
			w.p("Observability cost: edgeguard_log (access log, security events, anomaly detection) serves %.2f (%.2f-%.2f, %d rounds) "+
				"of edgeguard_quiet's (none of them) requests per gateway core on the plain proxy, the median of per-round ratios: "+
				"each request costs %+.0f%% CPU against none of them.\n", med, lo, hi, n, 100*(1/med-1))
		}
	}
	w.figure(plots.RPSPerCoreFile, "Requests/s per gateway core")
	w.figure(plots.LatencyFile, "Latency percentiles")
	if len(h.Skipped) > 0 {
		w.p("### Not measured\n")
		rows := make([][]string, len(h.Skipped))
		for i, s := range h.Skipped {
			rows[i] = []string{s.Scenario, s.Target, s.Reason}
		}
		w.table("lll", []string{"Scenario", "Target", "Why"}, rows)
	}
}

// roundRatio is the median, smallest and largest over rounds of target a's
// requests/s per gateway core divided by target b's in the same round, in
// one scenario; n is the number of rounds with both.
func roundRatio(runs []results.HTTPRun, scenario, a, b string) (med, lo, hi float64, n int) {
	per := map[string]map[int]float64{a: {}, b: {}}
	for _, r := range runs {
		if m, ok := per[r.Target]; ok && r.Scenario == scenario && r.RPSPerCore > 0 {
			m[r.Round] = r.RPSPerCore
		}
	}
	var ratios []float64
	for round, x := range per[a] {
		if y := per[b][round]; y > 0 {
			ratios = append(ratios, x/y)
		}
	}
	if len(ratios) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(ratios)
	n = len(ratios)
	med = ratios[n/2]
	if n%2 == 0 {
		med = (ratios[n/2-1] + ratios[n/2]) / 2
	}
	return med, ratios[0], ratios[n-1], n
}

// disturbed says how many runs shared the box with other work worth more
// than a tenth of a core.
func disturbed(runs []results.HTTPRun) string {
	n := 0
	worst := 0.0
	for _, r := range runs {
		if r.Seconds > 0 && r.OtherCPUSeconds/r.Seconds > 0.1 {
			n++
			worst = max(worst, r.OtherCPUSeconds/r.Seconds)
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("Other work on the box took more than 0.1 core during %d of %d runs (at most %.2f cores): "+
		"the per-round ratios are the robust figure; the per-run numbers are in results.json.", n, len(runs), worst)
}

func perCore(s results.HTTPSummary) string {
	if s.MedianRPSPerCore == 0 {
		return "–"
	}
	return thousands(s.MedianRPSPerCore)
}

func ratio(s results.HTTPSummary) string {
	if s.RatioVsHAProxy == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f (%.2f-%.2f)", s.RatioVsHAProxy, s.RatioMin, s.RatioMax)
}

func (w *writer) checks(tcs []results.TargetChecks) {
	if len(tcs) == 0 {
		return
	}
	w.section("Correctness checks")
	w.p("Each target is checked before it is measured; a target that fails a check is not measured in that scenario.\n")
	var rows [][]string
	for _, tc := range tcs {
		passed := 0
		for _, c := range tc.Checks {
			if c.Passed {
				passed++
			}
		}
		verdict := fmt.Sprintf("%d/%d passed", passed, len(tc.Checks))
		if passed < len(tc.Checks) {
			verdict = fmt.Sprintf("**%d of %d failed**", len(tc.Checks)-passed, len(tc.Checks))
		}
		rows = append(rows, []string{tc.Target, orDash(tc.Scenario), verdict, failures(tc.Checks)})
	}
	w.table("llll", []string{"Target", "Scenario", "Result", "Failed checks"}, rows)
	var detail [][]string
	for _, tc := range tcs {
		for _, c := range tc.Checks {
			res := "passed"
			if !c.Passed {
				res = "**failed**"
			}
			detail = append(detail, []string{tc.Target, orDash(tc.Scenario), c.Name, res, c.Detail})
		}
	}
	w.p("<details><summary>Every check</summary>\n")
	w.table("lllll", []string{"Target", "Scenario", "Check", "Result", "Detail"}, detail)
	w.p("</details>\n")
}

func failures(cs []results.Check) string {
	var fs []string
	for _, c := range cs {
		if !c.Passed {
			s := c.Name
			if c.Detail != "" {
				s += ": " + c.Detail
			}
			fs = append(fs, s)
		}
	}
	if len(fs) == 0 {
		return "–"
	}
	return strings.Join(fs, "; ")
}

func (w *writer) xdp(x *results.XDPFlood) {
	if x == nil {
		return
	}
	w.section("XDP against nftables")
	if x.Skipped != "" {
		w.p("Not measured: %s.\n", strings.TrimSuffix(x.Skipped, "."))
	}
	if len(x.Results) == 0 {
		return
	}
	w.p("Blocklist of %s entries; %s distinct spoofed sources.\n", thousands(float64(x.BlocklistEntries)), thousands(float64(x.Sources)))
	rows := make([][]string, len(x.Results))
	for i, f := range x.Results {
		share := "–"
		if f.SentPPS > 0 {
			share = fmt.Sprintf("%.1f%%", 100*f.DroppedPPS/f.SentPPS)
		}
		rows[i] = []string{f.Dropper, thousands(f.SentPPS), thousands(f.DroppedPPS), share,
			thousands(float64(f.PassedPackets)), num(f.CPUSecondsPerMillionPackets), num(f.NsPerPacket), num(f.Seconds)}
	}
	w.table("lrrrrrrr", []string{"Dropper", "Sent pps", "Dropped pps", "Dropped", "Blocklisted packets passed",
		"CPU s per million packets", "ns/packet", "Seconds"}, rows)
	w.figure(plots.XDPFile, "XDP against nftables")
}

// maxPhases is the most rows of the condensed throttling timeline before
// it falls back to equal windows.
const maxPhases = 12

func (w *writer) throttle(t *results.Throttle) {
	if t == nil {
		return
	}
	w.section("Throttling timeline")
	if t.Skipped != "" {
		w.p("Not measured: %s.\n", strings.TrimSuffix(t.Skipped, "."))
	}
	if len(t.Buckets) == 0 {
		return
	}
	w.p("Limit %s requests/s, offered %s requests/s. Answers per second, consecutive %s s slices merged while the main answer stays the same:\n",
		num(t.RatePerSecond), num(t.OfferedPerSecond), num(t.BucketSeconds))
	var rows [][]string
	for _, ph := range condense(t.Buckets, maxPhases) {
		secs := float64(len(ph.buckets)) * t.BucketSeconds
		if secs <= 0 {
			secs = float64(len(ph.buckets))
		}
		var sum results.ThrottleBucket
		for _, b := range ph.buckets {
			sum.Passed += b.Passed
			sum.Delayed += b.Delayed
			sum.Limited += b.Limited
			sum.Dropped += b.Dropped
		}
		end := ph.buckets[len(ph.buckets)-1].T + t.BucketSeconds
		rows = append(rows, []string{
			fmt.Sprintf("%s–%s", num(ph.buckets[0].T), num(end)), ph.main,
			rate(sum.Passed, secs), rate(sum.Delayed, secs), rate(sum.Limited, secs), rate(sum.Dropped, secs),
		})
	}
	w.table("llrrrr", []string{"Seconds", "Main answer", "Passed/s", "Delayed/s", "429/s", "Dropped/s"}, rows)
	w.figure(plots.ThrottleFile, "Throttling timeline")
}

type phase struct {
	main    string
	buckets []results.ThrottleBucket
}

// condense merges consecutive buckets with the same main answer (the
// commonest of the refusals, or "passed" when there is none); when that
// gives more than limit phases, it merges equal windows instead.
func condense(bs []results.ThrottleBucket, limit int) []phase {
	var out []phase
	for _, b := range bs {
		m := mainAnswer(b)
		if n := len(out); n > 0 && out[n-1].main == m {
			out[n-1].buckets = append(out[n-1].buckets, b)
			continue
		}
		out = append(out, phase{main: m, buckets: []results.ThrottleBucket{b}})
	}
	if len(out) <= limit {
		return out
	}
	size := (len(bs) + limit - 1) / limit
	out = out[:0]
	for i := 0; i < len(bs); i += size {
		win := bs[i:min(i+size, len(bs))]
		var sum results.ThrottleBucket
		for _, b := range win {
			sum.Passed += b.Passed
			sum.Delayed += b.Delayed
			sum.Limited += b.Limited
			sum.Dropped += b.Dropped
		}
		out = append(out, phase{main: mainAnswer(sum), buckets: win})
	}
	return out
}

func mainAnswer(b results.ThrottleBucket) string {
	m, n := "passed", 0
	for _, c := range []struct {
		name string
		n    int
	}{{"delayed", b.Delayed}, {"429", b.Limited}, {"dropped", b.Dropped}} {
		if c.n > n {
			m, n = c.name, c.n
		}
	}
	if n == 0 && b.Passed == 0 {
		return "none"
	}
	return m
}

func rate(n int, secs float64) string {
	if n == 0 {
		return "0"
	}
	return num(float64(n) / secs)
}

func (w *writer) micro(ms []results.MicroBench) {
	if len(ms) == 0 {
		return
	}
	w.section("Micro-benchmarks")
	var pkgs []string
	byPkg := make(map[string][]results.MicroBench)
	for _, m := range ms {
		if _, ok := byPkg[m.Package]; !ok {
			pkgs = append(pkgs, m.Package)
		}
		byPkg[m.Package] = append(byPkg[m.Package], m)
	}
	for _, pkg := range pkgs {
		w.p("### %s\n", pkg)
		rows := make([][]string, 0, len(byPkg[pkg]))
		for _, m := range byPkg[pkg] {
			ns := "–"
			if m.NsPerOp > 0 {
				ns = num(m.NsPerOp)
			}
			rows = append(rows, []string{m.Name, ns, num(m.BytesPerOp), num(m.AllocsPerOp), extra(m.Extra)})
		}
		w.table("lrrrl", []string{"Benchmark", "ns/op", "B/op", "allocs/op", "Other metrics"}, rows)
	}
}

func extra(m map[string]float64) string {
	if len(m) == 0 {
		return ""
	}
	units := make([]string, 0, len(m))
	for u := range m {
		units = append(units, u)
	}
	sort.Strings(units)
	parts := make([]string, len(units))
	for i, u := range units {
		parts[i] = num(m[u]) + " " + u
	}
	return strings.Join(parts, ", ")
}

func (w *writer) notes(notes []string, plotErr error) {
	if len(notes) == 0 && plotErr == nil {
		return
	}
	w.section("Notes")
	for _, n := range notes {
		w.p("- %s", bullet(n))
	}
	if plotErr != nil {
		w.p("- Figures: %s", bullet(plotErr.Error()))
	}
	w.p("")
}

func (w *writer) otherFigures() {
	if len(w.figures) == 0 {
		return
	}
	w.section("Figures")
	for _, f := range slices.Clone(w.figures) {
		w.figure(f, strings.TrimSuffix(f, filepath.Ext(f)))
	}
}

func (w *writer) commands(cmds []string) {
	if len(cmds) == 0 {
		return
	}
	w.section("Commands")
	w.p("Run in this order, from the repository's root:\n")
	fence := "```"
	for _, c := range cmds {
		for strings.Contains(c, fence) {
			fence += "`"
		}
	}
	w.p("%ssh", fence)
	for _, c := range cmds {
		w.p("%s", c)
	}
	w.p("%s\n", fence)
}

// cell makes s safe inside a table cell: one line, pipes escaped.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", "<br>")
	return strings.ReplaceAll(s, "|", `\|`)
}

// bullet keeps a multi-line note inside its list item.
func bullet(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func intOrDash(n int) string {
	if n == 0 {
		return "–"
	}
	return strconv.Itoa(n)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// thousands renders v rounded to an integer, with thousands separated by
// commas.
func thousands(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// num renders v with three significant digits (trailing zeros dropped)
// below 1000, and as an integer with separators from 1000.
func num(v float64) string {
	if math.Abs(v) >= 1000 {
		return thousands(v)
	}
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if strings.ContainsAny(s, "e") {
		// Tiny values: 'g' switched to an exponent; keep plain decimals.
		s = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return s
}

// micros renders a latency given in microseconds.
func micros(us float64) string {
	switch {
	case us == 0:
		return "–"
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'f', 2, 64) + " s"
	case us >= 1000:
		return strconv.FormatFloat(us/1000, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + " µs"
}
