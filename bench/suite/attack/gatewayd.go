package attack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edgeguard/edgeguard/policy/mgmt/client"
)

// gatewayd is a gatewayd process running inside a lab namespace, driven
// the way an operator drives it: a config file, signals, and the
// management API on a Unix socket (root may change the blocklist there
// without a token).
type gatewayd struct {
	cmd    *exec.Cmd
	mgmt   *client.Client
	exited chan error

	mu   sync.Mutex
	logs []string // the last lines of its log, for error messages
}

// startGatewayd writes doc as dir/gatewayd.yaml and starts bin inside
// namespace ns. doc may use {{SOCKET}}, {{STATE}} and {{PIN}}, which are
// replaced by the management socket, a state directory and pin, a BPF pin
// path that the caller removes. It returns when the management listener
// is up.
func startGatewayd(ctx context.Context, bin, dir, ns, doc, pin string) (*gatewayd, error) {
	sock := filepath.Join(dir, "mgmt.sock")
	if len(sock) > 100 { // sun_path holds 108 bytes
		d, err := os.MkdirTemp("", "egb")
		if err != nil {
			return nil, fmt.Errorf("start gatewayd: %w", err)
		}
		sock = filepath.Join(d, "mgmt.sock")
	}
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, fmt.Errorf("start gatewayd: %w", err)
	}
	doc = strings.NewReplacer("{{SOCKET}}", sock, "{{STATE}}", state, "{{PIN}}", pin).Replace(doc)
	cfg := filepath.Join(dir, "gatewayd.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		return nil, fmt.Errorf("start gatewayd: %w", err)
	}
	target, err := client.ParseTarget("unix:"+sock, false)
	if err != nil {
		return nil, fmt.Errorf("start gatewayd: %w", err)
	}
	mc, err := client.New(target, client.Options{Timeout: 2 * time.Minute})
	if err != nil {
		return nil, fmt.Errorf("start gatewayd: %w", err)
	}
	g := &gatewayd{mgmt: mc, exited: make(chan error, 1)}
	g.cmd = exec.Command("nsenter", "--net=/run/netns/"+ns, bin, "--config", cfg)
	// nsenter execs gatewayd, which therefore dies with this process even
	// when it is killed before its cleanup runs.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	g.cmd.Stdout = io.Discard
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start gatewayd: %w", err)
	}
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start gatewayd: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			g.mu.Lock()
			if len(g.logs) >= 50 {
				g.logs = g.logs[1:]
			}
			g.logs = append(g.logs, line)
			g.mu.Unlock()
			var rec struct{ Msg string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "management listener started" {
				once.Do(func() { close(ready) })
			}
		}
		g.exited <- g.cmd.Wait()
	}()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	select {
	case <-ready:
	case err := <-g.exited:
		return nil, fmt.Errorf("start gatewayd: exited: %v\n%s", err, g.Logs())
	case <-timer.C:
		g.Stop()
		return nil, fmt.Errorf("start gatewayd: not ready within 20s\n%s", g.Logs())
	case <-ctx.Done():
		g.Stop()
		return nil, fmt.Errorf("start gatewayd: %w", ctx.Err())
	}
	// The listener may log before the socket accepts; wait for it.
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("unix", sock, time.Second)
		if err == nil {
			c.Close()
			return g, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.Stop()
	return nil, fmt.Errorf("start gatewayd: management socket %s never accepted", sock)
}

// Logs returns the last lines gatewayd logged.
func (g *gatewayd) Logs() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.logs, "\n")
}

// Stop ends gatewayd (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (g *gatewayd) Stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
		return
	case <-time.After(10 * time.Second):
	}
	_ = g.cmd.Process.Kill()
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
	}
}

// counters returns the XDP verdict counters (packets per verdict) from
// gatewayd's status, after checking that XDP runs in native mode.
func (g *gatewayd) counters(ctx context.Context) (map[string]uint64, error) {
	st, err := g.mgmt.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("read gatewayd status: %w", err)
	}
	if st.Enforcer.Mode != "native" || st.Enforcer.Fallback {
		return nil, fmt.Errorf("read gatewayd status: enforcer %q (fallback %v: %s), want native XDP", st.Enforcer.Mode, st.Enforcer.Fallback, st.Enforcer.Why)
	}
	if st.Enforcer.StatsError != "" {
		return nil, fmt.Errorf("read gatewayd status: stats: %s", st.Enforcer.StatsError)
	}
	return st.Enforcer.Counters, nil
}
