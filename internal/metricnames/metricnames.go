// Package metricnames lists the Prometheus metric names that gatewayd's
// code exports, read from its Go sources, so that what is built on them
// elsewhere (deploy/grafana's dashboard, deploy/prometheus's alert rules)
// is checked against the code and cannot drift from it.
//
// It reads source text only; it must never import the packages it reads.
package metricnames

import (
	"fmt"
	"io/fs"
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

// InCode returns every metric name in the non-test Go files under root.
func InCode(root string) (map[string]bool, error) {
	names := map[string]bool{}
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
		for _, m := range inCode.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list metric names: %w", err)
	}
	return names, nil
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

// Exists reports whether name is a metric of known, or a series of one of
// its histograms (_bucket, _sum, _count).
func Exists(known map[string]bool, name string) bool {
	if known[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
			return true
		}
	}
	return false
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
