// Package load drives wrk, the load generator of the benchmark suite, with
// one Lua script (bench.lua) that sets the method, headers, body and
// per-request tokens, and reports wrk's own counts and latency percentiles.
package load

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed bench.lua
var script []byte

// Spec is one load run.
type Spec struct {
	URL         string
	Method      string   // "" = GET
	Headers     []string // "Name: value"
	BodyFile    string   // request body, "" = none
	TokensFile  string   // one token per request, round-robin
	Connections int
	Duration    time.Duration
	CPU         int // wrk is pinned here; -1 = not pinned
}

// Result is what wrk measured.
type Result struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // non-2xx/3xx answers
	Timeout    int64   `json:"timeout"`
	P50        float64 `json:"p50"`
	P90        float64 `json:"p90"`
	P99        float64 `json:"p99"`
	P999       float64 `json:"p999"`
	Max        float64 `json:"max"`
	// CPUSeconds is wrk's own user+system time (from its rusage).
	CPUSeconds float64 `json:"-"`
}

// Errors counts socket errors and non-2xx/3xx answers.
func (r Result) Errors() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

// Seconds is the wall time of the run.
func (r Result) Seconds() float64 { return float64(r.DurationUS) / 1e6 }

// Runner runs wrk with the suite's script, written once into dir.
type Runner struct {
	script string
	// Started is called with the wrk process once it runs, so the caller
	// can sample its CPU time.
	Started func(pid int)
}

// NewRunner writes the script into dir.
func NewRunner(dir string) (*Runner, error) {
	path := filepath.Join(dir, "bench.lua")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		return nil, fmt.Errorf("write wrk script: %w", err)
	}
	return &Runner{script: path}, nil
}

// Command is the command line Run executes, for the report.
func (r *Runner) Command(s Spec) []string {
	var args []string
	if s.CPU >= 0 {
		args = append(args, "taskset", "-c", strconv.Itoa(s.CPU))
	}
	secs := int(s.Duration.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return append(args, "wrk", "-t1", "-c"+strconv.Itoa(s.Connections), "-d"+strconv.Itoa(secs)+"s",
		"--timeout", "5s", "-s", r.script, s.URL)
}

// Env is the environment the script reads.
func (s Spec) Env() []string {
	return []string{
		"WRK_HEADERS=" + strings.Join(s.Headers, "\n"),
		"WRK_METHOD=" + s.Method,
		"WRK_BODY_FILE=" + s.BodyFile,
		"WRK_TOKENS=" + s.TokensFile,
	}
}

// Run runs wrk and parses its report.
func (r *Runner) Run(ctx context.Context, s Spec) (Result, error) {
	argv := r.Command(s)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env()...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("run wrk: %w", err)
	}
	if r.Started != nil {
		r.Started(cmd.Process.Pid)
	}
	if err := cmd.Wait(); err != nil {
		return Result{}, fmt.Errorf("run wrk %s: %w: %s", s.URL, err, strings.TrimSpace(errb.String()))
	}
	res, err := Parse(out.Bytes())
	if st := cmd.ProcessState; st != nil {
		res.CPUSeconds = (st.UserTime() + st.SystemTime()).Seconds()
	}
	return res, err
}

// Parse reads the WRKJSON line the script prints.
func Parse(out []byte) (Result, error) {
	i := bytes.Index(out, []byte("WRKJSON "))
	if i < 0 {
		return Result{}, fmt.Errorf("parse wrk output: no WRKJSON line in %q", tail(out))
	}
	line := out[i+len("WRKJSON "):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	var res Result
	if err := json.Unmarshal(line, &res); err != nil {
		return Result{}, fmt.Errorf("parse wrk output: %w", err)
	}
	return res, nil
}

func tail(b []byte) string {
	if len(b) > 300 {
		b = b[len(b)-300:]
	}
	return string(b)
}
