package micro

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgeguard/edgeguard/bench/suite/results"
)

// Parse reads the standard output of `go test -bench` and returns one
// result per benchmark line, in the order printed. procs is the
// GOMAXPROCS the benchmarks ran with: the "-procs" suffix the testing
// package appends to each name (when procs != 1) is removed. The package
// of each result is taken from the preceding "pkg:" line.
//
// Besides ns/op, B/op and allocs/op, every other value-unit pair (MB/s
// from b.SetBytes, metrics from b.ReportMetric) goes into Extra under its
// unit. A benchmark that reported ns/op as 0 through ReportMetric has no
// ns/op pair and gets NsPerOp 0.
//
// A benchmark that writes to stdout while it runs splits its line: the
// name alone first, the numbers on a later line. Parse joins the two.
func Parse(out []byte, procs int) ([]results.MicroBench, error) {
	var (
		res     []results.MicroBench
		pkg     string
		pending string // a name printed alone, waiting for its numbers
	)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			pending = ""
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "---" { // "--- BENCH:", "--- SKIP:", "--- FAIL:"
			pending = ""
			continue
		}
		name := ""
		switch {
		case isBenchName(f[0]) && len(f) == 1:
			pending = f[0]
			continue
		case isBenchName(f[0]):
			name, f = f[0], f[1:]
		case pending != "" && isCount(f[0]):
			name = pending
		default:
			continue
		}
		pending = ""
		if !isCount(f[0]) {
			// A line that starts with a benchmark's name but carries no
			// iteration count is prose (a log line), not a result.
			continue
		}
		if len(f)%2 != 1 {
			return res, fmt.Errorf("parse benchmark output: line %d: odd value-unit pairs in %q", n, line)
		}
		mb := results.MicroBench{Package: pkg, Name: trimProcs(name, procs)}
		for i := 1; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return res, fmt.Errorf("parse benchmark output: line %d: value %q: %w", n, f[i], err)
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				mb.NsPerOp = v
			case "B/op":
				mb.BytesPerOp = v
			case "allocs/op":
				mb.AllocsPerOp = v
			default:
				if mb.Extra == nil {
					mb.Extra = make(map[string]float64)
				}
				mb.Extra[unit] = v
			}
		}
		res = append(res, mb)
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("parse benchmark output: %w", err)
	}
	return res, nil
}

// isBenchName reports whether s looks like a benchmark's name as the
// testing package prints it: "Benchmark" and an upper-case letter or
// digit, or "Benchmark" alone, or a sub-benchmark path.
func isBenchName(s string) bool {
	rest, ok := strings.CutPrefix(s, "Benchmark")
	if !ok {
		return false
	}
	if rest == "" || rest[0] == '/' || rest[0] == '-' {
		return true
	}
	c := rest[0]
	return c == '_' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isCount(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// trimProcs removes the "-procs" suffix the testing package appends to a
// benchmark's name when GOMAXPROCS is not 1.
func trimProcs(name string, procs int) string {
	if procs == 1 {
		return name
	}
	return strings.TrimSuffix(name, "-"+strconv.Itoa(procs))
}
