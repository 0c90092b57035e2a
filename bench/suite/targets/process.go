package targets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgeguard/edgeguard/bench/suite/cpu"
)

// Process is a started gateway (or the upstream).
type Process struct {
	Name string
	Addr string // host:port of its data listener
	cmd  *exec.Cmd
	log  string
}

// PID is the main process's id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// PIDs are the process and its children (nginx's workers).
func (p *Process) PIDs() []int {
	pids := []int{p.PID()}
	return append(pids, cpu.Children(p.PID())...)
}

// Stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (p *Process) Stop() error {
	if p == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		return fmt.Errorf("stop %s: killed after 5 s", p.Name)
	}
}

// start runs argv pinned to cpu (-1: not pinned) with its output in
// logPath, and waits until addr accepts connections.
func start(ctx context.Context, name string, cpu int, env []string, logPath, addr string, argv ...string) (*Process, error) {
	if cpu >= 0 {
		argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Addr: addr, cmd: cmd, log: logPath}
	exited := make(chan struct{})
	go func() { _, _ = cmd.Process.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("start %s: exited: %s", name, lastLines(logPath))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("start %s: %s not listening after 20 s: %s", name, addr, lastLines(logPath))
		}
	}
}

func lastLines(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// ErrMissing says a peer gateway is not installed.
var ErrMissing = errors.New("not installed")

// Upstream starts the suite's upstream binary.
func Upstream(ctx context.Context, bin, dir, addr string, cpu int) (*Process, error) {
	return start(ctx, "upstream", cpu, []string{"GOMAXPROCS=1"}, filepath.Join(dir, "upstream.log"), addr, bin, "-addr", addr)
}
