package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"
)

// notifySink is a fake systemd notification socket that, like systemd,
// learns each sender's pid from its credentials (SO_PASSCRED).
type notifySink struct {
	t    *testing.T
	msgs chan notification
}

type notification struct {
	pid  int
	text string
}

func newNotifySink(t *testing.T) *notifySink {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) }); err != nil || serr != nil {
		t.Fatalf("SO_PASSCRED: %v %v", err, serr)
	}
	n := &notifySink{t: t, msgs: make(chan notification, 1024)}
	go func() {
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(unix.SizeofUcred))
		for {
			k, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			m := notification{text: string(buf[:k])}
			if scms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(scms) == 1 {
				if cred, err := unix.ParseUnixCredentials(&scms[0]); err == nil {
					m.pid = int(cred.Pid)
				}
			}
			n.msgs <- m
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sock)
	return n
}

// next returns the next message containing want.
func (n *notifySink) next(want string) string {
	n.t.Helper()
	return n.nextFrom(want).text
}

// nextFrom returns the next message containing want and who sent it.
func (n *notifySink) nextFrom(want string) notification {
	n.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-n.msgs:
			if strings.Contains(m.text, want) {
				return m
			}
		case <-deadline:
			n.t.Fatalf("no %q notification", want)
		}
	}
}

// sinceFrom returns the messages pid sent since the last call (as far as
// they arrived), dropping the others'.
func (n *notifySink) sinceFrom(pid int) []string {
	var out []string
	for {
		select {
		case m := <-n.msgs:
			if m.pid == pid {
				out = append(out, m.text)
			}
		default:
			return out
		}
	}
}

// load sends keep-alive GETs from a few clients until stop is closed, at
// most max requests in all, and counts what failed. Like every HTTP client
// (RFC 9112 §9.3.1) the client sends an idempotent request again on a new
// connection when the server closed an idle one as the request went out.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(addr string, clients int, max int64) *load {
	l := &load{stop: make(chan struct{})}
	var sent atomic.Int64
	for range clients {
		c := &fasthttp.HostClient{Addr: addr, MaxConns: 1, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
		l.wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + "/load")
			for sent.Add(1) <= max {
				select {
				case <-l.stop:
					return
				default:
				}
				err := c.Do(req, resp)
				if err == nil && resp.StatusCode() == 200 {
					l.ok.Add(1)
					continue
				}
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.errs) < 5 {
					l.errs = append(l.errs, fmt.Sprintf("status %d, error %v", resp.StatusCode(), err))
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}

// processGone reports whether pid has exited (a zombie waiting for its
// parent counts as exited).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// stopSuccessor makes sure the gatewayd that took over from g (the one
// whose log says "took over ... pid") is stopped when the test ends.
func stopSuccessor(t *testing.T, g *gateway) int {
	t.Helper()
	m := regexp.MustCompile(`"msg":"took over from the previous gatewayd","pid":(\d+)`).FindAllStringSubmatch(g.logs(), -1)
	if m == nil {
		t.Fatalf("no successor pid in the log:\n%s", g.logs())
	}
	pid, _ := strconv.Atoi(m[len(m)-1][1])
	t.Cleanup(func() {
		// A test that stopped the successor itself may get here while it
		// is still in the last steps of its exit (its stderr closed, not
		// yet a zombie), and g.exited is spent: wait on the process.
		if waitGone(pid, 2*time.Second) {
			return
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone(pid, 10*time.Second) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("successor pid %d did not stop on SIGTERM", pid)
		}
	})
	return pid
}

// waitGone reports whether pid exits within d.
func waitGone(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if processGone(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// TestUpgradeUnderLoad upgrades gatewayd twice (SIGUSR2) while clients keep
// sending keep-alive requests: the new process takes over the listening
// sockets, becomes systemd's main process (MAINPID=, sent by the old main;
// afterwards only the new one notifies, watchdog pings included), the old
// one drains and exits, and no request fails. A successor that cannot start (a broken
// config file) changes nothing: the old process goes on serving, its
// management API included.
func TestUpgradeUnderLoad(t *testing.T) {
	notify := newNotifySink(t)
	t.Setenv("WATCHDOG_USEC", "100000") // a ping every 50 ms, from the main process only
	up := startUpstream(t, "api", nil)
	g := startGateway(t, mgmtConfig(up.addr(), t.TempDir(), ""))
	notify.next("READY=1")
	good, err := os.ReadFile(g.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	mgmtAddr := g.mgmt
	status := func() {
		t.Helper()
		if code, body := mgmtGet(t, g, "/status", "Bearer "+mgmtTestToken); code != 200 {
			t.Fatalf("management /status at %s: %d %s", mgmtAddr, code, body)
		}
	}

	l := startLoad(g.data, 4, 200000)
	defer func() {
		select {
		case <-l.stop:
		default:
			l.end()
		}
	}()
	waitFor(t, "load to start", func() bool { return l.ok.Load() > 100 })

	// A successor that fails: the running process keeps everything.
	writeConfig(t, g.cfgPath, string(good)+"\nnot_a_key: 1\n")
	g.signal(syscall.SIGUSR2)
	g.waitLog("upgrade failed; this gatewayd goes on serving", "not_a_key")
	notify.next("upgrade failed")
	status()
	writeConfig(t, g.cfgPath, string(good))

	pid := g.cmd.Process.Pid
	for round := 1; round <= 2; round++ {
		before := l.ok.Load()
		if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(g.logs())
			}
		})
		m := notify.nextFrom("MAINPID=")
		next, err := strconv.Atoi(strings.TrimPrefix(strings.Split(m.text, "\n")[0], "MAINPID="))
		if err != nil || next == pid || m.pid != pid {
			t.Fatalf("round %d: notification %q from pid %d: want the new main pid from the old main %d", round, m.text, m.pid, pid)
		}
		t.Cleanup(func() { _ = syscall.Kill(next, syscall.SIGKILL) })
		// From here on only the new main process speaks to systemd
		// (NotifyAccess=main): it says READY=1 and takes over the watchdog.
		for _, want := range []string{"READY=1", "WATCHDOG=1"} {
			if m := notify.nextFrom(want); m.pid != next {
				t.Errorf("round %d: %q from pid %d after MAINPID=%d", round, want, m.pid, next)
			}
		}
		waitFor(t, fmt.Sprintf("round %d: old gatewayd (pid %d) to exit", round, pid), func() bool { return processGone(pid) })
		if late := notify.sinceFrom(pid); len(late) > 0 {
			t.Errorf("round %d: the old main process (pid %d) notified after MAINPID=: %q", round, pid, late)
		}
		pid = next
		waitFor(t, "requests served by the successor", func() bool { return l.ok.Load() > before+200 })
		status() // the management socket was handed over too
	}
	l.end()
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during the upgrades: %v", n, n+l.ok.Load(), l.errs)
	}
	t.Logf("%d requests, none failed", l.ok.Load())

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.exited: // stderr closes when the last gatewayd exits
	case <-time.After(10 * time.Second):
		t.Fatal("the last gatewayd did not exit")
	}
	// Its stderr closes during exit, a moment before it is gone.
	if !waitGone(pid, 5*time.Second) {
		t.Errorf("pid %d still running", pid)
	}
}

// TestUpgradeToHungSuccessorKeepsManagementReads: while an upgrade waits
// for a successor that never gets ready, the management API still answers
// health checks and status (a load balancer would otherwise see the node
// down for up to two minutes) and refuses changes with 503, the successor
// being about to own the state directory; SIGTERM ends it all.
func TestUpgradeToHungSuccessorKeepsManagementReads(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gatewayd")
	exe, err := os.ReadFile(gatewaydBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, "api", nil)
	g := startGatewayBin(t, bin, mgmtConfig(up.addr(), t.TempDir(), ""))
	// The binary at gatewayd's path now hangs instead of serving.
	hung := filepath.Join(dir, "hung")
	if err := os.WriteFile(hung, []byte("#!/bin/sh\nexec sleep 20\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(hung, bin); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGUSR2)
	g.waitLog("upgrade: starting the new gatewayd")
	time.Sleep(300 * time.Millisecond) // the successor runs (and hangs)
	for _, path := range []string{"/healthz", "/readyz", "/status"} {
		if code, body := mgmtGet(t, g, path, "Bearer "+mgmtTestToken); code != 200 {
			t.Errorf("GET %s during the upgrade: %d %s", path, code, body)
		}
	}
	code, out := runCtl(t, "--target", g.mgmt, "--timeout", "3s", "ban", "198.51.100.77", "--for", "1m")
	if code == 0 || !strings.Contains(out, "upgrade in progress") {
		t.Errorf("a change during the upgrade: exit %d\n%s", code, out)
	}
	if resp := g.do(t, "GET", "/x"); resp.status != 200 {
		t.Errorf("data plane during the upgrade: %d", resp.status)
	}
	g.signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("gatewayd did not exit on SIGTERM during the upgrade")
	}
}
