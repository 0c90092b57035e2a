// Command summary reads what one GoTestWAF run left behind (its JSON report,
// the CSV of every request it sent, and gatewayd's access log of the run) and
// prints where the gateway stood: per test case the requests refused and the
// status codes they got, the refusals' reason codes from the access log, and
// one SUMMARY line. It is the reporting half of bench/waf/run.sh.
//
// How requests are counted: the benchmark's upstream answers every request
// 200, so any 4xx is the gateway's refusal and counts as blocked (GoTestWAF
// is run with every 4xx code as a block code). A 403 is the WAF's answer;
// other 4xx codes come from the gateway's request hygiene (400
// path_ambiguous, header_invalid, framing_invalid, 413, 431, ...) and are
// reported apart, because they refuse the request before any WAF sees it.
// Anything else (5xx, 3xx) is "unresolved" and a request without an answer
// is "failed"; both stay in the denominators, so they lower the rates
// instead of hiding.
//
//	summary -report DIR/gotestwaf.json -csv DIR/gotestwaf.csv -accesslog DIR/gotestwaf-access.log [-label LABEL]
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// benignSet reports whether a GoTestWAF test set holds benign requests;
// GoTestWAF's own rule (internal/db isFalsePositiveTest) is the same.
func benignSet(set string) bool { return strings.Contains(set, "false") }

// row is one request GoTestWAF sent, from its CSV export.
type row struct {
	set, tcase, placeholder, encoder, payload string
	status                                    int
}

// failure is one request GoTestWAF could not complete (no HTTP answer).
type failure struct {
	Payload  string   `json:"payload"`
	TestSet  string   `json:"test_set"`
	TestCase string   `json:"test_case"`
	Encoder  string   `json:"encoder"`
	Reason   []string `json:"reason"`
}

// jsonReport is the part of GoTestWAF's JSON report this reads. Its "fp"
// (test cases fingerprint) is left out: GoTestWAF v0.5.7 hashes maps in
// iteration order, so it changes from run to run; see corpusID.
type jsonReport struct {
	Score   float64 `json:"score"`
	Summary struct {
		TruePositive *struct {
			Score float64 `json:"score"`
		} `json:"true_positive_tests"`
		TrueNegative *struct {
			Score float64 `json:"score"`
		} `json:"true_negative_tests"`
	} `json:"summary"`
	TruePositivePayloads *struct {
		Failed []failure `json:"failed"`
	} `json:"true_positive_tests_payloads"`
	TrueNegativePayloads *struct {
		Failed []failure `json:"failed"`
	} `json:"true_negative_tests_payloads"`
}

func main() {
	reportPath := flag.String("report", "", "GoTestWAF's JSON report")
	csvPath := flag.String("csv", "", "GoTestWAF's CSV of sent requests (written beside the JSON report)")
	accessLog := flag.String("accesslog", "", "gatewayd's access log of the GoTestWAF run (optional)")
	label := flag.String("label", "-", "name of the configuration under test, printed in the summary")
	flag.Parse()
	if *reportPath == "" || *csvPath == "" {
		fmt.Fprintln(os.Stderr, "usage: summary -report FILE.json -csv FILE.csv [-accesslog FILE] [-label LABEL]")
		os.Exit(2)
	}
	if err := run(os.Stdout, *reportPath, *csvPath, *accessLog, *label); err != nil {
		fmt.Fprintf(os.Stderr, "summary: %v\n", err)
		os.Exit(1)
	}
}

func run(w io.Writer, reportPath, csvPath, accessLog, label string) error {
	rep, err := readReport(reportPath)
	if err != nil {
		return err
	}
	rows, err := readCSV(csvPath)
	if err != nil {
		return err
	}
	var failed []failure
	if rep.TruePositivePayloads != nil {
		failed = append(failed, rep.TruePositivePayloads.Failed...)
	}
	if rep.TrueNegativePayloads != nil {
		failed = append(failed, rep.TrueNegativePayloads.Failed...)
	}

	printCases(w, rows, failed)
	printPlaceholders(w, rows)
	printFailed(w, failed)
	if accessLog != "" {
		if err := printAccessLog(w, accessLog); err != nil {
			return err
		}
	}
	tp, tn := "n/a", "n/a"
	if rep.Summary.TruePositive != nil {
		tp = fmt.Sprintf("%.2f%%", rep.Summary.TruePositive.Score)
	}
	if rep.Summary.TrueNegative != nil {
		tn = fmt.Sprintf("%.2f%%", rep.Summary.TrueNegative.Score)
	}
	fmt.Fprintf(w, "gotestwaf's own scores: true-positive %s, true-negative %s, overall %.2f%%; corpus %s (%d requests)\n",
		tp, tn, rep.Score, corpusID(rows, failed), len(rows)+len(failed))
	printSummary(w, label, rows, failed)
	return nil
}

// corpusID names the set of requests GoTestWAF sent, independent of their
// outcome and order: two runs compare only if their corpus IDs are equal.
func corpusID(rows []row, failed []failure) string {
	lines := make([]string, 0, len(rows)+len(failed))
	for _, r := range rows {
		lines = append(lines, r.set+"\t"+r.tcase+"\t"+r.encoder+"\t"+r.payload)
	}
	for _, f := range failed {
		lines = append(lines, f.TestSet+"\t"+f.TestCase+"\t"+f.Encoder+"\t"+f.Payload)
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func readReport(path string) (*jsonReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var rep jsonReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return &rep, nil
}

// readCSV reads GoTestWAF's export: Payload, Check Status, Response Code,
// Placeholder, Encoder, Set, Case, Test Result.
func readCSV(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read requests: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read requests %s: header: %w", path, err)
	}
	want := []string{"Payload", "Check Status", "Response Code", "Placeholder", "Encoder", "Set", "Case"}
	for i, name := range want {
		if i >= len(head) || head[i] != name {
			return nil, fmt.Errorf("read requests %s: column %d is %q, want %q (another GoTestWAF version?)", path, i+1, at(head, i), name)
		}
	}
	var rows []row
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read requests %s: %w", path, err)
		}
		status, err := strconv.Atoi(rec[2])
		if err != nil {
			return nil, fmt.Errorf("read requests %s: record %d: response code %q: %w", path, line, rec[2], err)
		}
		rows = append(rows, row{payload: rec[0], placeholder: rec[3], encoder: rec[4], set: rec[5], tcase: rec[6], status: status})
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// counts tallies a group of requests.
type counts struct {
	sent, blocked, blocked403, passed, unresolved, failed int
	byStatus                                              map[int]int // refusals and unresolved, by status
}

func (c *counts) add(status int) {
	c.sent++
	switch {
	case status == 200:
		c.passed++
		return
	case status >= 400 && status < 500:
		c.blocked++
		if status == 403 {
			c.blocked403++
		}
	default:
		c.unresolved++
	}
	if c.byStatus == nil {
		c.byStatus = map[int]int{}
	}
	c.byStatus[status]++
}

func (c *counts) addFailed() { c.sent++; c.failed++ }

func (c *counts) statusSplit() string {
	codes := make([]int, 0, len(c.byStatus))
	for code := range c.byStatus {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, code := range codes {
		parts[i] = fmt.Sprintf("%d:%d", code, c.byStatus[code])
	}
	return strings.Join(parts, " ")
}

func pct(n, of int) string {
	if of == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

type key struct{ set, tcase string }

func printCases(w io.Writer, rows []row, failed []failure) {
	byCase := map[key]*counts{}
	get := func(k key) *counts {
		if byCase[k] == nil {
			byCase[k] = &counts{}
		}
		return byCase[k]
	}
	for _, r := range rows {
		get(key{r.set, r.tcase}).add(r.status)
	}
	for _, f := range failed {
		get(key{f.TestSet, f.TestCase}).addFailed()
	}
	keys := make([]key, 0, len(byCase))
	for k := range byCase {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].set != keys[j].set {
			return keys[i].set < keys[j].set
		}
		return keys[i].tcase < keys[j].tcase
	})
	fmt.Fprintln(w, "per test case (blocked = any 4xx; for false-pos, blocked are false positives):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  set\tcase\tsent\tblocked\t%\t403\tother 4xx\tpassed\tunresolved\tfailed\tnon-200 by status")
	for _, k := range keys {
		c := byCase[k]
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", k.set, k.tcase, c.sent, c.blocked,
			pct(c.blocked, c.sent), c.blocked403, c.blocked-c.blocked403, c.passed, c.unresolved, c.failed, c.statusSplit())
	}
	tw.Flush()
}

// printPlaceholders shows the attacks by where GoTestWAF put the payload and
// how it encoded it: the gateway's hygiene refuses by placeholder (URLPath),
// and a WAF that does not decode Base64 misses a whole encoder column.
func printPlaceholders(w io.Writer, rows []row) {
	type pe struct{ placeholder, encoder string }
	m := map[pe]*counts{}
	for _, r := range rows {
		if benignSet(r.set) {
			continue
		}
		k := pe{r.placeholder, r.encoder}
		if m[k] == nil {
			m[k] = &counts{}
		}
		m[k].add(r.status)
	}
	keys := make([]pe, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].placeholder != keys[j].placeholder {
			return keys[i].placeholder < keys[j].placeholder
		}
		return keys[i].encoder < keys[j].encoder
	})
	fmt.Fprintln(w, "attacks by placeholder and encoder:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  placeholder\tencoder\tsent\tblocked\t%\t403\tother 4xx\tnon-200 by status")
	for _, k := range keys {
		c := m[k]
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\t%d\t%d\t%s\n", k.placeholder, k.encoder, c.sent, c.blocked,
			pct(c.blocked, c.sent), c.blocked403, c.blocked-c.blocked403, c.statusSplit())
	}
	tw.Flush()
}

func printFailed(w io.Writer, failed []failure) {
	if len(failed) == 0 {
		fmt.Fprintln(w, "failed requests (no HTTP answer): none")
		return
	}
	m := map[string]int{}
	for _, f := range failed {
		m[fmt.Sprintf("%s/%s %s: %s", f.TestSet, f.TestCase, f.Encoder, strings.Join(f.Reason, "; "))]++
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "failed requests (no HTTP answer): %d\n", len(failed))
	for _, k := range keys {
		fmt.Fprintf(w, "  %d  %s\n", m[k], k)
	}
}

// printAccessLog counts the gateway's answers during the run by status,
// reason and detail. A 4xx without a reason code did not come from the
// gateway's own checks, which would break the counting rule: it is flagged.
func printAccessLog(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read access log: %w", err)
	}
	defer f.Close()
	type entry struct {
		Status int    `json:"status"`
		Reason string `json:"reason"`
		Detail string `json:"detail"`
	}
	m := map[string]int{}
	lines, unexplained, bad := 0, 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			bad++
			continue
		}
		lines++
		k := strconv.Itoa(e.Status)
		if e.Reason != "" {
			k += " " + e.Reason
		}
		if e.Detail != "" {
			k += " (" + e.Detail + ")"
		}
		m[k]++
		if e.Status >= 400 && e.Status < 500 && e.Reason == "" {
			unexplained++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read access log %s: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "gateway access log of the run (%d lines, GoTestWAF's probes included):", lines)
	for _, k := range keys {
		fmt.Fprintf(w, " %s: %d;", k, m[k])
	}
	fmt.Fprintln(w)
	if bad > 0 {
		fmt.Fprintf(w, "  WARNING: %d access log lines are not JSON\n", bad)
	}
	if unexplained > 0 {
		fmt.Fprintf(w, "  WARNING: %d 4xx answers carry no edgeguard reason code (the upstream's?): the counting rule does not hold for them\n", unexplained)
	}
	return nil
}

func printSummary(w io.Writer, label string, rows []row, failed []failure) {
	var attacks, benign, noBase64 counts
	sets := map[string]*counts{}
	var setNames []string
	for _, r := range rows {
		if benignSet(r.set) {
			benign.add(r.status)
			continue
		}
		attacks.add(r.status)
		if r.encoder != "Base64Flat" {
			noBase64.add(r.status)
		}
		if sets[r.set] == nil {
			sets[r.set] = &counts{}
			setNames = append(setNames, r.set)
		}
		sets[r.set].add(r.status)
	}
	for _, f := range failed {
		if benignSet(f.TestSet) {
			benign.addFailed()
			continue
		}
		attacks.addFailed()
		if f.Encoder != "Base64Flat" {
			noBase64.addFailed()
		}
		if sets[f.TestSet] == nil {
			sets[f.TestSet] = &counts{}
			setNames = append(setNames, f.TestSet)
		}
		sets[f.TestSet].addFailed()
	}
	sort.Strings(setNames)
	perSet := make([]string, len(setNames))
	for i, name := range setNames {
		c := sets[name]
		perSet[i] = fmt.Sprintf("%s %d/%d %s (403 %d)", name, c.blocked, c.sent, pct(c.blocked, c.sent), c.blocked403)
	}
	fmt.Fprintf(w, "SUMMARY gotestwaf [%s]: attacks blocked %d/%d %s (403 %d, other 4xx %d; without Base64Flat %d/%d %s), "+
		"benign passed %d/%d %s (blocked 403 %d, other 4xx %d); sets: %s; unresolved %d, failed %d\n",
		label, attacks.blocked, attacks.sent, pct(attacks.blocked, attacks.sent), attacks.blocked403,
		attacks.blocked-attacks.blocked403, noBase64.blocked, noBase64.sent, pct(noBase64.blocked, noBase64.sent),
		benign.passed, benign.sent, pct(benign.passed, benign.sent), benign.blocked403, benign.blocked-benign.blocked403,
		strings.Join(perSet, ", "), attacks.unresolved+benign.unresolved, attacks.failed+benign.failed)
}
