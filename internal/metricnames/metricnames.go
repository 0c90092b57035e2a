// Package metricnames lists the Prometheus metric names that gatewayd's
// code exports, read from its Go sources, so that what is built on them
// elsewhere (deploy/grafana's dashboard, deploy/prometheus's alert rules)
// is checked against the code and cannot drift from it.
//
// It reads source text only; it must never import the packages it reads.
package metricnames

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// inCode finds metric names where the code writes them: at the start of a
// string literal, as metrics.NewCounter(`edgeguard_x{...}`) and friends do.
var inCode = regexp.MustCompile("[\"`](edgeguard_[a-z0-9_]*[a-z0-9])")

// inExpr finds metric names in a PromQL expression.
var inExpr = regexp.MustCompile(`\bedgeguard_[a-z0-9_]*[a-z0-9]\b`)

// skipDirs hold Go code that exports no gateway metrics (benchmark
// harnesses name their targets edgeguard_*).
var skipDirs = []string{"bench", "testdata", ".git"}

// Metrics maps each metric name the code exports to the label names it
// is written with (the union over every place that writes it).
type Metrics map[string]map[string]bool

// labelInCode finds the label names written after a metric name on the
// same line: `{route="` + name + `",class="`, `{route=%q,cause=%q}`.
var labelInCode = regexp.MustCompile(`[{,]([a-z_][a-z0-9_]*)=`)

// InCode returns every metric under root's non-test Go files, with its
// labels.
func InCode(root string) (Metrics, error) {
	found := Metrics{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (slices.Contains(skipDirs, d.Name()) || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range inCode.FindAllSubmatchIndex(b, -1) {
			name := string(b[m[2]:m[3]])
			if found[name] == nil {
				found[name] = map[string]bool{}
			}
			rest := b[m[3]:]
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				rest = rest[:i]
			}
			for _, l := range labelInCode.FindAllSubmatch(rest, -1) {
				found[name][string(l[1])] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list metric names: %w", err)
	}
	return found, nil
}

// InExpr returns the metric names a PromQL expression uses, in order, each
// once.
func InExpr(expr string) []string {
	var out []string
	for _, n := range inExpr.FindAllString(expr, -1) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Exists reports whether name is a metric of m, or a series of one of its
// histograms (_bucket, _sum, _count).
func (m Metrics) Exists(name string) bool {
	_, ok := m.labels(name)
	return ok
}

// labels returns the labels a series of name may carry: its metric's, and
// for a histogram's buckets le (Prometheus) or vmrange (VictoriaMetrics).
func (m Metrics) labels(name string) (map[string]bool, bool) {
	if l, ok := m[name]; ok {
		return l, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && m[base] != nil {
			l := maps.Clone(m[base])
			if suffix == "_bucket" {
				l["le"], l["vmrange"] = true, true
			}
			return l, true
		}
	}
	return nil, false
}

// scrapeLabels are added by Prometheus to every series it scrapes.
var scrapeLabels = []string{"instance", "job"}

var (
	selector   = regexp.MustCompile(`\b(edgeguard_[a-z0-9_]*[a-z0-9])\s*\{([^}]*)\}`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	grouping   = regexp.MustCompile(`\b(by|without)\s*\(([^)]*)\)`)
	quotedText = regexp.MustCompile(`"(\\.|[^"\\])*"`)
)

// Check returns what a PromQL expression names that the code does not
// export: unknown metrics, labels a selector matches that its metric is
// never written with, and grouping labels none of the expression's
// metrics has. It reads PromQL by pattern, not by grammar: enough for
// the dashboard's and the alerts' expressions.
func (m Metrics) Check(expr string) []string {
	var problems []string
	bare := quotedText.ReplaceAllString(expr, `""`)
	all := map[string]bool{}
	for _, l := range scrapeLabels {
		all[l] = true
	}
	for _, n := range InExpr(bare) {
		l, ok := m.labels(n)
		if !ok {
			problems = append(problems, n+" is not exported by the code (renamed or removed?)")
			continue
		}
		for k := range l {
			all[k] = true
		}
	}
	for _, s := range selector.FindAllStringSubmatch(bare, -1) {
		l, ok := m.labels(s[1])
		if !ok {
			continue
		}
		for _, mt := range matcher.FindAllStringSubmatch(s[2], -1) {
			if !l[mt[1]] && !slices.Contains(scrapeLabels, mt[1]) {
				problems = append(problems, fmt.Sprintf("%s has no label %q", s[1], mt[1]))
			}
		}
	}
	for _, g := range grouping.FindAllStringSubmatch(bare, -1) {
		for _, l := range strings.Split(g[2], ",") {
			if l = strings.TrimSpace(l); l != "" && !all[l] {
				problems = append(problems, fmt.Sprintf("%s (%s): no metric of the expression has label %q", g[1], g[2], l))
			}
		}
	}
	return problems
}

// ModuleRoot returns the directory of the go.mod above dir.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find module root: no go.mod above %s", dir)
		}
	}
}
