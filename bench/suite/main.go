// Command suite is edgeguard's benchmark suite: it measures gatewayd
// against HAProxy and nginx on this machine, scenario by scenario, after
// proving each gateway does the scenario's job; drops a spoofed flood with
// edgeguard's XDP program and with nftables; shows the graduated limiter's
// answers over time; gathers the Go micro-benchmarks; and writes a
// Markdown report, results.json and plots.
//
//	go run ./bench/suite [-quick] [-out DIR] [-rounds N] [-duration D] [-checks-only]
//
// `make bench-suite` and `make bench-suite QUICK=1` run it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/edgeguard/edgeguard/bench/suite/report"
	"github.com/edgeguard/edgeguard/bench/suite/results"
)

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "quick mode: one short round, short attack runs and micro-benchmarks (under 2 minutes)")
	flag.StringVar(&o.out, "out", "", "output directory (default bench/results/<date-time>)")
	flag.IntVar(&o.rounds, "rounds", 0, "rounds of the HTTP comparison (default 7; quick 1)")
	flag.DurationVar(&o.duration, "duration", 0, "length of one load run (default 5s; quick 2s)")
	flag.IntVar(&o.conns, "connections", 64, "keep-alive connections wrk opens")
	flag.BoolVar(&o.checksOnly, "checks-only", false, "start every gateway, run the correctness checks, measure nothing; exit 1 if a check fails")
	flag.BoolVar(&o.noAttack, "no-attack", false, "skip the XDP flood and throttling scenarios")
	flag.BoolVar(&o.noMicro, "no-micro", false, "skip the Go micro-benchmarks")
	flag.BoolVar(&o.noInstall, "no-install", false, "do not apt-get install missing peers")
	flag.StringVar(&o.scenarios, "scenarios", "", "comma-separated HTTP scenarios to measure (default: all), e.g. plain for more rounds of the plain proxy")
	flag.Parse()
	if o.rounds == 0 {
		o.rounds = 7
		if o.quick {
			o.rounds = 1
		}
	}
	if o.duration == 0 {
		o.duration = 5 * time.Second
		if o.quick {
			o.duration = 2 * time.Second
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-suite:", err)
		os.Exit(1)
	}
}

type options struct {
	quick, checksOnly, noAttack, noMicro, noInstall bool
	out, scenarios                                  string
	rounds, conns                                   int
	duration                                        time.Duration
}

// suite carries one run's state.
type suite struct {
	o    options
	root string // repository root
	work string // scratch: binaries, configs, logs
	run  *results.Run
	t0   time.Time
}

func (s *suite) progress(format string, args ...any) {
	fmt.Printf("[%6.1fs] %s\n", time.Since(s.t0).Seconds(), fmt.Sprintf(format, args...))
}

func (s *suite) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.run.Notes = append(s.run.Notes, msg)
	s.progress("note: %s", msg)
}

func (s *suite) command(argv ...string) {
	s.run.Commands = append(s.run.Commands, strings.Join(argv, " "))
}

func run(ctx context.Context, o options) error {
	s := &suite{o: o, t0: time.Now()}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	s.root = root
	if o.out == "" {
		o.out = filepath.Join(root, "bench", "results", time.Now().UTC().Format("2006-01-02T150405Z"))
	}
	s.o = o
	if s.work, err = os.MkdirTemp("", "edgeguard-bench-"); err != nil {
		return fmt.Errorf("make work directory: %w", err)
	}
	defer os.RemoveAll(s.work)
	s.run = &results.Run{Started: time.Now().UTC(), Quick: o.quick, Machine: machine(), Versions: map[string]string{}}
	s.progress("benchmark suite (quick=%v), output in %s", o.quick, o.out)

	bins, err := s.build(ctx)
	if err != nil {
		return err
	}
	s.ensurePeers(ctx)

	failed, err := s.http(ctx, bins)
	if err != nil {
		return err
	}
	if o.checksOnly {
		s.run.Finished = time.Now().UTC()
		if err := s.write(); err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%d correctness checks failed (see %s)", failed, filepath.Join(o.out, "report.md"))
		}
		return nil
	}
	if !o.noAttack {
		s.attacks(ctx, bins)
	}
	if !o.noMicro && ctx.Err() == nil {
		s.micro(ctx)
	}
	s.run.Finished = time.Now().UTC()
	return s.write()
}

type binaries struct{ gatewayd, upstream string }

func (s *suite) build(ctx context.Context) (binaries, error) {
	b := binaries{gatewayd: filepath.Join(s.work, "gatewayd"), upstream: filepath.Join(s.work, "upstream")}
	for _, x := range []struct{ out, pkg string }{{b.gatewayd, "./cmd/gatewayd"}, {b.upstream, "./bench/upstream"}} {
		argv := []string{"go", "build", "-tags=no_fs_access,coraza.disabled_operators.validateSchema", "-trimpath",
			"-ldflags=-X main.version=" + gitVersion(s.root), "-o", x.out, x.pkg}
		s.progress("building %s", x.pkg)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = s.root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("build %s: %w: %s", x.pkg, err, out)
		}
		s.command(argv...)
	}
	return b, nil
}

// ensurePeers installs HAProxy and nginx with apt-get when they are
// missing and the suite may; when it cannot, the rest still runs.
func (s *suite) ensurePeers(ctx context.Context) {
	var missing []string
	for bin, pkg := range map[string]string{"haproxy": "haproxy", "nginx": "nginx-light", "wrk": "wrk"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	if s.o.noInstall || os.Geteuid() != 0 {
		s.note("not installed, so not measured: %s (install them with apt-get, or run the suite as root)", strings.Join(missing, ", "))
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		s.note("not installed and no apt-get to install them: %s", strings.Join(missing, ", "))
		return
	}
	s.progress("installing %s with apt-get", strings.Join(missing, ", "))
	argv := append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, missing...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		upd := exec.CommandContext(ctx, "apt-get", "update", "-q")
		if _, uerr := upd.CombinedOutput(); uerr == nil {
			out, err = exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		}
		if err != nil {
			s.note("apt-get install %s failed, those peers are not measured: %v: %s", strings.Join(missing, " "), err, lastLine(out))
			return
		}
	}
	s.command(argv...)
}

func (s *suite) write() error {
	if err := report.Write(s.o.out, s.run); err != nil {
		return err
	}
	s.progress("report: %s", filepath.Join(s.o.out, "report.md"))
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("find repository root: run the suite inside the edgeguard repository")
	}
	return filepath.Dir(mod), nil
}

func machine() results.Machine {
	m := results.Machine{Cores: runtime.NumCPU()}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Release[:])
	}
	return m
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

func gitVersion(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "dev"
	}
	return strings.TrimSpace(string(out))
}
