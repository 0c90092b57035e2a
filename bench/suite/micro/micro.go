// Package micro runs the Go micro-benchmarks of edgeguard's hot paths for
// the benchmark suite (the limiter, JWT per algorithm, validation, the WAF
// tiers, path normalization, the XDP program) and turns their output into
// results.MicroBench rows.
//
// It only runs `go test -bench` in the repository and parses what it
// prints; it never changes the repository, and a package that fails to
// build or to run is reported, not fatal to the run.
package micro

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/edgeguard/edgeguard/bench/suite/results"
)

// Tags are the build tags every go command of the repository needs (the
// Makefile sets them through GOFLAGS).
const Tags = "no_fs_access,coraza.disabled_operators.validateSchema"

// Bench is one `go test -bench` invocation.
type Bench struct {
	// Package is the directory relative to the repository root, e.g.
	// "bench/auth"; results carry it as their Package.
	Package string
	// Pattern is the -bench regular expression (sub-benchmark levels split
	// on '/', as go test does).
	Pattern string
	// Benchtime overrides the mode's -benchtime, for benchmarks whose one
	// iteration takes seconds (e.g. "3x").
	Benchtime string
	// Root marks benchmarks that need root (BPF): without it they are not
	// run, and a Failure says why.
	Root bool
}

// Full is the list of a complete run, with FullBenchtime as the default
// -benchtime.
var Full = []Bench{
	{Package: "bench/ratelimit", Pattern: "."},
	{Package: "dataplane/ratelimit", Pattern: "."},
	{Package: "bench/auth", Pattern: "^BenchmarkJWT$"},
	{Package: "dataplane/auth/jwtauth", Pattern: "^BenchmarkVerify(Cached|Uncached)$"},
	{Package: "dataplane/auth", Pattern: "^BenchmarkStageJWTCached$"},
	{Package: "dataplane/validate/schema", Pattern: "^BenchmarkValidate$"},
	{Package: "dataplane/validate/jsonbody", Pattern: "^BenchmarkRead$"},
	{Package: "dataplane/waf/inject", Pattern: "^BenchmarkInspect$"},
	{Package: "dataplane/waf/crs", Pattern: "^BenchmarkInspect$"},
	{Package: "dataplane/pathnorm", Pattern: "^BenchmarkNormalize"},
	{Package: "bench/xdp", Pattern: "^BenchmarkPacket$", Root: true},
	{Package: "bench/xdp", Pattern: "^BenchmarkReplace1M$", Benchtime: "5x", Root: true},
	{Package: "bench/blocklist", Pattern: "^BenchmarkPush1M$/^xdp$/^client$", Benchtime: "3x", Root: true},
}

// Quick is the short subset of a quick run, with QuickBenchtime as the
// default -benchtime.
var Quick = []Bench{
	{Package: "bench/ratelimit", Pattern: "^BenchmarkSingleThread$"},
	{Package: "bench/auth", Pattern: "^BenchmarkJWT$/^(HS256|RS256|ES256)$/^(cached|uncached)$"},
	{Package: "dataplane/validate/schema", Pattern: "^BenchmarkValidate$/^valid$/^edgeguard$"},
	{Package: "dataplane/waf/inject", Pattern: "^BenchmarkInspect$"},
	{Package: "dataplane/pathnorm", Pattern: "^BenchmarkNormalizeTypical$"},
	{Package: "bench/xdp", Pattern: "^BenchmarkPacket$/^(0|1M)$/^ipv4-(hit|miss)$", Root: true},
	{Package: "bench/xdp", Pattern: "^BenchmarkReplace1M$/^ipv6=25%$", Benchtime: "1x", Root: true},
}

// Default -benchtime of each mode.
const (
	FullBenchtime  = "1s"
	QuickBenchtime = "100ms"
)

// Failure is one invocation that did not give its results.
type Failure struct {
	Bench   Bench
	Command string
	Err     error
	// Output is the end of what the command printed.
	Output string
}

func (f Failure) Error() string {
	s := fmt.Sprintf("micro-benchmarks %s %s: %v", f.Bench.Package, f.Bench.Pattern, f.Err)
	if f.Output != "" {
		s += "\n" + f.Output
	}
	return s
}

// Failures are the invocations that failed. Run returns them as its error
// together with the results of the others.
type Failures []Failure

func (fs Failures) Error() string {
	msgs := make([]string, len(fs))
	for i, f := range fs {
		msgs[i] = f.Error()
	}
	return strings.Join(msgs, "\n")
}

// Notes gives one line per failure, for results.Run.Notes.
func (fs Failures) Notes() []string {
	notes := make([]string, len(fs))
	for i, f := range fs {
		notes[i] = fmt.Sprintf("micro-benchmarks %s %s not measured: %v", f.Bench.Package, f.Bench.Pattern, f.Err)
	}
	return notes
}

// Run runs the Full list (or Quick when quick is set) from repoRoot and
// returns the results in list order and the exact commands run.
//
// A package that fails to build or run, prints no result, or needs root
// that the process lacks does not stop the others: the error is then a
// Failures (test it with errors.As) and the results of the rest are still
// returned. Any other error (ctx done, no go command) is returned as is.
// progress, if not nil, is called before and after each command.
func Run(ctx context.Context, repoRoot string, quick bool, progress func(string)) ([]results.MicroBench, []string, error) {
	list, benchtime := Full, FullBenchtime
	if quick {
		list, benchtime = Quick, QuickBenchtime
	}
	return run(ctx, repoRoot, list, benchtime, os.Geteuid() == 0, progress)
}

func run(ctx context.Context, repoRoot string, list []Bench, benchtime string, root bool, progress func(string)) ([]results.MicroBench, []string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, nil, fmt.Errorf("run micro-benchmarks: %w", err)
	}
	var (
		all      []results.MicroBench
		commands []string
		failures Failures
	)
	procs := runtime.GOMAXPROCS(0)
	for _, b := range list {
		bt := benchtime
		if b.Benchtime != "" {
			bt = b.Benchtime
		}
		args := Args(b, bt)
		line := CommandLine(args)
		if b.Root && !root {
			failures = append(failures, Failure{Bench: b, Command: line, Err: errors.New("needs root")})
			progress("micro: skip " + b.Package + " " + b.Pattern + ": needs root")
			continue
		}
		progress("micro: " + line)
		commands = append(commands, line)
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir = repoRoot
		cmd.Env = env(os.Environ())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		runErr := cmd.Run()
		if ctx.Err() != nil {
			return all, commands, ctx.Err()
		}
		got, parseErr := Parse(out.Bytes(), procs)
		for i := range got {
			got[i].Package = b.Package
		}
		all = append(all, got...)
		switch {
		case runErr != nil:
			failures = append(failures, Failure{Bench: b, Command: line, Err: runErr, Output: tail(out.String(), 15)})
		case parseErr != nil:
			failures = append(failures, Failure{Bench: b, Command: line, Err: parseErr})
		case len(got) == 0:
			failures = append(failures, Failure{Bench: b, Command: line, Err: errors.New("no benchmark result"), Output: tail(out.String(), 15)})
		}
		progress(fmt.Sprintf("micro: %s: %d results", b.Package, len(got)))
	}
	if len(failures) > 0 {
		return all, commands, failures
	}
	return all, commands, nil
}

// Args are go's arguments for b at benchtime.
func Args(b Bench, benchtime string) []string {
	return []string{"test", "-tags=" + Tags, "-run", "^$", "-bench", b.Pattern, "-benchmem",
		"-count", "1", "-benchtime", benchtime, "-timeout", "30m", "./" + b.Package}
}

// CommandLine renders go's arguments as a shell command line.
func CommandLine(args []string) string {
	var sb strings.Builder
	sb.WriteString("go")
	for _, a := range args {
		sb.WriteByte(' ')
		if strings.ContainsAny(a, "^$|*()[]{}?\\ '\"%&;<>!#~") {
			sb.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		} else {
			sb.WriteString(a)
		}
	}
	return sb.String()
}

// env is the environment of a go test: the caller's, with the build tags
// in GOFLAGS too, for the go commands that benchmarks run themselves.
func env(environ []string) []string {
	for i, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
			if !strings.Contains(v, "-tags") {
				environ[i] = "GOFLAGS=" + strings.TrimSpace(v+" -tags="+Tags)
			}
			return environ
		}
	}
	return append(environ, "GOFLAGS=-tags="+Tags)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
