// Package redistest starts a throwaway redis-server for tests: on a
// loopback port, in the test's temp dir, without persistence, killed at
// cleanup. Tests never use a system Redis. Where redis-server is missing
// the test is skipped, unless EDGEGUARD_REQUIRE_PRIVILEGED=1 (set by
// .ci/run, which installs it), where it fails.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/internal/privileged"
)

// Server is one redis-server process; Stop and Start kill and restart it
// on the same port, to test outages.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string // redis-server's arguments
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a redis-server for t, with extra redis-server arguments
// (e.g. "--requirepass", "secret").
func Start(t testing.TB, extra ...string) *Server { return start(t, extra...) }

func start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return startOn(t, freePort(t), extra...)
}

// startOn is start on a given port.
func startOn(t testing.TB, port int, extra ...string) *Server {
	t.Helper()
	return launchOn(t, port, func(dir string, port int) []string {
		return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", dir, "--protected-mode", "no", "--loglevel", "warning",
			// DEBUG SLEEP stalls the server: tests of a slow Redis need it.
			"--enable-debug-command", "yes"}, extra...)
	})
}

// StartSentinel starts a Sentinel watching master under the name
// "mymaster" (quorum 1).
func StartSentinel(t testing.TB, master *Server) *Server {
	t.Helper()
	return launch(t, func(dir string, port int) []string {
		conf := filepath.Join(dir, "sentinel.conf")
		doc := fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 1\nsentinel down-after-milliseconds mymaster 1000\n", master.port)
		if err := os.WriteFile(conf, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{conf, "--sentinel", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no", "--dir", dir}
	})
}

func launch(t testing.TB, argv func(dir string, port int) []string) *Server {
	t.Helper()
	return launchOn(t, freePort(t), argv)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// clusterPort returns a free port whose cluster bus port (port + 10000,
// which Redis Cluster opens beside it) exists and is free too: an
// ephemeral port above 55535 has none, and redis-server exits at start.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := freePort(t)
		if p+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		bus.Close()
		return p
	}
	t.Fatal("no free port with a free cluster bus port")
	return 0
}

func launchOn(t testing.TB, port int, argv func(dir string, port int) []string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(privileged.EnvRequire) == "1" {
			t.Fatalf("redis-server not installed (apt-get install redis-server): %v", err)
		}
		t.Skip("redis-server not installed")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: port}
	s.args = argv(s.dir, port)
	t.Cleanup(s.Stop)
	s.Restart()
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Restart starts the server again after Stop (empty: nothing persists).
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: already running")
	}
	cmd := exec.Command(s.bin, s.args...)
	out, err := os.Create(fmt.Sprintf("%s/redis-%d.log", s.dir, time.Now().UnixNano()))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(s.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 16)
			_, err = c.Write([]byte("PING\r\n"))
			var n int
			if err == nil {
				n, err = c.Read(buf)
			}
			c.Close()
			// A server with a password answers, refusing: it is up too.
			if err == nil && (string(buf[:n]) == "+PONG\r\n" || strings.HasPrefix(string(buf[:n]), "-NOAUTH")) {
				return
			}
		}
		select {
		case <-s.done:
			s.cmd = nil
			s.t.Fatalf("redis-server exited at start (logs in %s)", s.dir)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s: not answering: %v", s.Addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: an outage, not a shutdown).
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// StartCluster starts a Redis Cluster of n masters (no replicas) and waits
// until it serves every slot. It needs redis-cli (Debian: redis-tools, a
// dependency of redis-server).
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	var nodes []*Server
	var addrs []string
	for range n {
		s := startOn(t, clusterPort(t), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		nodes = append(nodes, s)
		addrs = append(addrs, s.Addr())
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not installed: %v", err)
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ok := true
		for _, a := range addrs {
			host, port, _ := net.SplitHostPort(a)
			out, err := exec.Command(cli, "-h", host, "-p", port, "cluster", "info").Output()
			ok = ok && err == nil && strings.Contains(string(out), "cluster_state:ok")
		}
		if ok {
			return nodes
		}
		if time.Now().After(deadline) {
			t.Fatal("redis cluster not ready within 10s")
		}
	}
}
