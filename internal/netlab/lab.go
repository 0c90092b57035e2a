package netlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edgeguard/edgeguard/internal/atomicfile"
)

// The lab's addresses. The client namespace has ClientIP and the extra
// sources of ExtraClients (for bans and floods); the gateway namespace
// faces it on DataIfname (XDP) and the operators on MgmtIfname; the
// upstream namespace serves the application.
var (
	ClientIP     = netip.MustParseAddr("10.77.1.2")
	ExtraClients = []netip.Addr{netip.MustParseAddr("10.77.1.3"), netip.MustParseAddr("10.77.1.4"), netip.MustParseAddr("10.77.1.5")}
	DataIP       = netip.MustParseAddr("10.77.1.1")
	MgmtIP       = netip.MustParseAddr("10.77.9.1")
	OpsIP        = netip.MustParseAddr("10.77.9.2")
	UpstreamIP   = netip.MustParseAddr("10.77.2.2")
	upstreamGW   = netip.MustParseAddr("10.77.2.1")
)

const (
	DataPort     = 8080
	MgmtPort     = 9901
	UpstreamPort = 8081
	DataIfname   = "data0"
	MgmtIfname   = "mgmt0"
)

// Lab is the one-machine edge topology of deploy/lab:
//
//	NAME-client  cli0 10.77.1.2-5 ── data0 10.77.1.1 (XDP)  NAME-gw  up0 10.77.2.1 ── srv0 10.77.2.2  NAME-upstream
//	                                 mgmt0 10.77.9.1 ── ops0 10.77.9.2  NAME-ops
//
// gatewayd runs in NAME-gw with XDP on data0 and the management listener
// bound to mgmt0; gatewayctl runs in NAME-ops. Everything the lab makes is
// named after Name (namespaces NAME-*, pin directory /sys/fs/bpf/NAME) or
// lives in Dir, so that Down finds and removes all of it, and labs of other
// names (tests running at once) never collide.
type Lab struct {
	Name string // lowercase letters, digits and '-', at most 16 characters
	Dir  string // configuration, token, state and logs
	// Gatewayd and Gatewayctl are the binaries to run.
	Gatewayd, Gatewayctl string
	// Upstream is the command that serves HTTP on its last argument's
	// address (appended by Up), run in the upstream namespace.
	Upstream []string
	Log      io.Writer // progress; nil: none
}

var labName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

// Namespaces returns the lab's namespaces: client, gateway, ops, upstream.
func (l *Lab) Namespaces() []string {
	return []string{l.Name + "-client", l.Name + "-gw", l.Name + "-ops", l.Name + "-upstream"}
}

func (l *Lab) ns(role string) string { return l.Name + "-" + role }

// PinPath is where the lab's gatewayd pins its XDP objects.
func (l *Lab) PinPath() string { return "/sys/fs/bpf/" + l.Name }

// ConfigPath, TokenPath and CtlConfigPath are the files Up writes.
func (l *Lab) ConfigPath() string    { return filepath.Join(l.Dir, "gatewayd.yaml") }
func (l *Lab) TokenPath() string     { return filepath.Join(l.Dir, "ops.token") }
func (l *Lab) CtlConfigPath() string { return filepath.Join(l.Dir, "gatewayctl.conf") }
func (l *Lab) GatewayLog() string    { return filepath.Join(l.Dir, "gatewayd.log") }

func (l *Lab) logf(format string, args ...any) {
	if l.Log != nil {
		fmt.Fprintf(l.Log, format+"\n", args...)
	}
}

func (l *Lab) validate() error {
	if !labName.MatchString(l.Name) {
		return fmt.Errorf("lab name %q: want a lowercase letter, then letters, digits or '-', 16 at most", l.Name)
	}
	if l.Dir == "" || !filepath.IsAbs(l.Dir) {
		return fmt.Errorf("lab %s: directory %q: want an absolute path", l.Name, l.Dir)
	}
	return nil
}

// Up builds the topology and starts the upstream and gatewayd, ready to
// serve. On any failure it removes what it made (Down) and returns the
// first error. A lab of the same name must not exist.
func (l *Lab) Up(ctx context.Context) (err error) {
	if err := l.validate(); err != nil {
		return err
	}
	for _, ns := range l.Namespaces() {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			return fmt.Errorf("lab %s is up already (namespace %s exists): run down first", l.Name, ns)
		}
	}
	if _, err := os.Stat(l.Dir); err == nil {
		return fmt.Errorf("lab %s: directory %s exists: run down first, or choose another", l.Name, l.Dir)
	}
	defer func() {
		if err != nil {
			l.logf("lab up failed, removing what it made: %v", err)
			if derr := l.Down(); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}()
	if err := os.MkdirAll(filepath.Join(l.Dir, "state"), 0o700); err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	for _, ns := range l.Namespaces() {
		if err := addNetns(ns); err != nil {
			return fmt.Errorf("lab up: %w", err)
		}
	}
	type veth struct{ aNS, a, aAddr, bNS, b, bAddr string }
	for _, v := range []veth{
		{l.ns("gw"), DataIfname, DataIP.String() + "/24", l.ns("client"), "cli0", ClientIP.String() + "/24"},
		{l.ns("gw"), MgmtIfname, MgmtIP.String() + "/24", l.ns("ops"), "ops0", OpsIP.String() + "/24"},
		{l.ns("gw"), "up0", upstreamGW.String() + "/24", l.ns("upstream"), "srv0", UpstreamIP.String() + "/24"},
	} {
		steps := [][]string{
			{"link", "add", v.a, "netns", v.aNS, "type", "veth", "peer", "name", v.b, "netns", v.bNS},
			{"-n", v.aNS, "addr", "add", v.aAddr, "dev", v.a},
			{"-n", v.bNS, "addr", "add", v.bAddr, "dev", v.b},
			{"-n", v.aNS, "link", "set", v.a, "up"},
			{"-n", v.bNS, "link", "set", v.b, "up"},
		}
		for _, s := range steps {
			if err := run("ip", s...); err != nil {
				return fmt.Errorf("lab up: %w", err)
			}
		}
	}
	for _, a := range ExtraClients {
		if err := run("ip", "-n", l.ns("client"), "addr", "add", a.String()+"/24", "dev", "cli0"); err != nil {
			return fmt.Errorf("lab up: %w", err)
		}
	}
	l.logf("namespaces %s and their veth pairs are up", strings.Join(l.Namespaces(), ", "))

	if err := l.writeFiles(); err != nil {
		return err
	}
	up := netip.AddrPortFrom(UpstreamIP, UpstreamPort).String()
	if _, err := l.start("upstream", "upstream.log", append(slices.Clone(l.Upstream), up)...); err != nil {
		return err
	}
	gw, err := l.start("gw", "gatewayd.log", l.Gatewayd, "--config", l.ConfigPath())
	if err != nil {
		return err
	}
	if err := l.waitReady(ctx, gw); err != nil {
		return err
	}
	l.logf("gatewayd is ready: data %s:%d (XDP on %s), management %s:%d (on %s)", DataIP, DataPort, DataIfname, MgmtIP, MgmtPort, MgmtIfname)
	return nil
}

func (l *Lab) writeFiles() error {
	// The token and its hash come from gatewayctl, as an operator makes them.
	out, err := exec.Command(l.Gatewayctl, "token", "new", "--name", "lab").Output()
	if err != nil {
		return fmt.Errorf("lab up: gatewayctl token new: %w", err)
	}
	token := strings.TrimSpace(string(out))
	if token == "" || strings.ContainsAny(token, " \n") {
		return fmt.Errorf("lab up: gatewayctl token new printed %q, want one token", token)
	}
	hash := exec.Command(l.Gatewayctl, "token", "hash")
	hash.Stdin = strings.NewReader(token)
	if out, err = hash.Output(); err != nil {
		return fmt.Errorf("lab up: gatewayctl token hash: %w", err)
	}
	cfg := fmt.Sprintf(`# gatewayd in lab %[1]s (written by deploy/lab up; removed by down)
listeners: [{name: public, address: "%[2]s:%[3]d"}]
management:
  address: "%[4]s:%[5]d"
  bind_device: %[6]s
  insecure_plaintext: true   # the management network is a veth pair inside this machine; use TLS on a real one
  tokens: [{name: lab, hash: %[7]s}]
  state_dir: %[8]s
access_log: {path: %[9]s}
server: {shutdown_grace: 5s}
upstreams:
  - name: app
    targets: ["%[10]s:%[11]d"]
routes: [{name: app, path: /, upstream: app}]
xdp:
  interfaces: [%[12]s]
  pin_path: %[13]s
  burst: {enabled: true, syn_rate: 50, syn_burst: 100, ban_duration: 2m}
`, l.Name, DataIP, DataPort, MgmtIP, MgmtPort, MgmtIfname, strings.TrimSpace(string(out)), filepath.Join(l.Dir, "state"),
		filepath.Join(l.Dir, "access.log"), UpstreamIP, UpstreamPort, DataIfname, l.PinPath())
	ctl := fmt.Sprintf("# gatewayctl --config %s, run in %s\ntarget = %s:%d\ntoken_file = %s\ntimeout = 10s\n",
		l.CtlConfigPath(), l.ns("ops"), MgmtIP, MgmtPort, l.TokenPath())
	for _, f := range []struct{ path, body string }{
		{l.TokenPath(), token + "\n"}, {l.ConfigPath(), cfg}, {l.CtlConfigPath(), ctl},
	} {
		if err := atomicfile.Write(f.path, func(w io.Writer) error { _, err := io.WriteString(w, f.body); return err }); err != nil {
			return fmt.Errorf("lab up: %w", err)
		}
	}
	return nil
}

// start runs argv in the role's namespace as a daemon of its own session,
// its output in Dir/logName. The channel it returns is closed when the
// process exits.
func (l *Lab) start(role, logName string, argv ...string) (<-chan struct{}, error) {
	out, err := os.OpenFile(filepath.Join(l.Dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab up: start %s: %w", argv[0], err)
	}
	defer out.Close()
	cmd := l.Command(role, argv...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab up: start %s in %s: %w", argv[0], l.ns(role), err)
	}
	exited := make(chan struct{})
	go func() { // reaped here while this process lives; Down finds it by namespace
		_ = cmd.Wait()
		close(exited)
	}()
	l.logf("started %s in %s (pid %d, log %s)", filepath.Base(argv[0]), l.ns(role), cmd.Process.Pid, out.Name())
	return exited, nil
}

// Command returns argv to run in the role's namespace (client, gw, ops or
// upstream). nsenter --net (unlike ip netns exec) keeps /sys and with it
// /sys/fs/bpf.
func (l *Lab) Command(role string, argv ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=/run/netns/" + l.ns(role), "--"}, argv...)...)
}

// Ctl returns gatewayctl with args, run in the ops namespace against the
// lab's management listener with its token.
func (l *Lab) Ctl(args ...string) *exec.Cmd {
	return l.Command("ops", append([]string{l.Gatewayctl, "--config", l.CtlConfigPath()}, args...)...)
}

func (l *Lab) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		status, _, err := l.MgmtGet("/readyz")
		if err == nil && status == 200 {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("lab up: gatewayd exited during start:\n%s", tail(l.GatewayLog(), 20))
		case <-ctx.Done():
			return fmt.Errorf("lab up: gatewayd not ready within 20s (last: %d %v):\n%s", status, err, tail(l.GatewayLog(), 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dial opens a TCP connection from the role's namespace (from src unless
// invalid) within timeout.
func (l *Lab) dial(role string, src netip.Addr, dst netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	var err error
	if eerr := Enter(l.ns(role), func() {
		d := net.Dialer{Timeout: timeout}
		if src.IsValid() {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		c, err = d.Dial("tcp", dst.String())
	}); eerr != nil {
		return nil, eerr
	}
	return c, err
}

// httpGet makes one GET over a connection from role/src and returns the
// status and body.
func (l *Lab) httpGet(role string, src netip.Addr, dst netip.AddrPort, path, auth string, timeout time.Duration) (int, string, error) {
	c, err := l.dial(role, src, dst, timeout)
	if err != nil {
		return 0, "", fmt.Errorf("connect to %s from %s: %w", dst, l.ns(role), err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + dst.Addr().String() + "\r\nConnection: close\r\n"
	if auth != "" {
		req += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return 0, "", fmt.Errorf("GET %s%s: %w", dst, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s%s: %w", dst, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Get sends GET path through the gateway from src in the client namespace
// (ClientIP when src is invalid).
func (l *Lab) Get(src netip.Addr, path string, timeout time.Duration) (int, string, error) {
	if !src.IsValid() {
		src = ClientIP
	}
	return l.httpGet("client", src, netip.AddrPortFrom(DataIP, DataPort), path, "", timeout)
}

// MgmtGet calls the management API from the ops namespace with the lab's
// token.
func (l *Lab) MgmtGet(path string) (int, string, error) {
	tok, err := os.ReadFile(l.TokenPath())
	if err != nil {
		return 0, "", fmt.Errorf("read lab token: %w", err)
	}
	return l.httpGet("ops", netip.Addr{}, netip.AddrPortFrom(MgmtIP, MgmtPort), path, "Bearer "+strings.TrimSpace(string(tok)), 5*time.Second)
}

// FloodResult counts a flood's connection attempts.
type FloodResult struct{ Connected, TimedOut, Refused int }

// Flood starts count TCP connection attempts from src in the client
// namespace to the data listener, rate per second, each bounded by
// ConnectTimeout (a dropped SYN is not retried within it) and closed at once
// when it connects. Attempts overlap, at most floodInFlight at a time, so a
// dropped source does not slow the flood down.
func (l *Lab) Flood(ctx context.Context, src netip.Addr, count, rate int) (FloodResult, error) {
	if count <= 0 || rate <= 0 {
		return FloodResult{}, fmt.Errorf("flood: count %d and rate %d must be > 0", count, rate)
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	dst := netip.AddrPortFrom(DataIP, DataPort)
	var (
		mu    sync.Mutex
		r     FloodResult
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, floodInFlight)
	)
	for i := 0; i < count && ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			c, err := l.dial("client", src, dst, ConnectTimeout)
			var nerr net.Error
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				r.Connected++
				c.Close()
			case errors.As(err, &nerr) && nerr.Timeout():
				r.TimedOut++
			case errors.Is(err, syscall.ECONNREFUSED):
				r.Refused++
			case len(errs) < 3:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return r, fmt.Errorf("flood from %s: %w", src, errors.Join(errs...))
	}
	return r, ctx.Err()
}

// floodInFlight bounds a flood's overlapping connection attempts.
const floodInFlight = 256

var xdpCounter = regexp.MustCompile(`(?m)^edgeguard_xdp_packets_total\{verdict="([a-z_]+)"\} (\d+)$`)

// Counters reads the XDP packet counters by verdict from the metrics.
func (l *Lab) Counters() (map[string]int64, error) {
	status, body, err := l.MgmtGet("/metrics")
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, fmt.Errorf("GET /metrics: status %d", status)
	}
	out := map[string]int64{}
	for _, m := range xdpCounter.FindAllStringSubmatch(body, -1) {
		out[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
	}
	return out, nil
}

// pidsIn lists the processes in the named network namespace.
func (l *Lab) pidsIn(ns string) []int {
	var want syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &want); err != nil {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Status describes what of the lab exists.
type Status struct {
	Namespaces map[string][]int // namespace -> processes in it; absent: no such namespace
	XDP        string           // data0's XDP attachment as ip shows it ("" when none)
	PinPath    bool             // the pin directory exists
	Dir        bool             // the lab directory exists
}

// Up reports whether the whole lab exists.
func (s Status) Up() bool { return len(s.Namespaces) == 4 && s.Dir }

// Empty reports whether nothing of the lab is left.
func (s Status) Empty() bool { return len(s.Namespaces) == 0 && !s.PinPath && !s.Dir }

var xdpLine = regexp.MustCompile(`(?m)^\s*(prog/xdp\S*) id (\d+)`)

// Status looks at what of the lab exists.
func (l *Lab) Status() (Status, error) {
	if err := l.validate(); err != nil {
		return Status{}, err
	}
	st := Status{Namespaces: map[string][]int{}}
	for _, ns := range l.Namespaces() {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			st.Namespaces[ns] = l.pidsIn(ns)
		}
	}
	if _, ok := st.Namespaces[l.ns("gw")]; ok {
		out, _ := exec.Command("ip", "-d", "-n", l.ns("gw"), "link", "show", DataIfname).CombinedOutput()
		if m := xdpLine.FindStringSubmatch(string(out)); m != nil {
			st.XDP = m[1] + " id " + m[2]
		}
	}
	_, err := os.Stat(l.PinPath())
	st.PinPath = err == nil
	_, err = os.Stat(l.Dir)
	st.Dir = err == nil
	return st, nil
}

// Down stops every process in the lab's namespaces, deletes the
// namespaces (and with them the veth pairs and the XDP attachment), the
// pin directory and the lab directory. It is idempotent: what does not
// exist is skipped.
func (l *Lab) Down() error {
	if err := l.validate(); err != nil {
		return err
	}
	var errs []error
	var pids []int
	for _, ns := range l.Namespaces() {
		pids = append(pids, l.pidsIn(ns)...)
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			l.logf("killed pid %d (no exit 10s after SIGTERM)", pid)
		}
	}
	if len(pids) > 0 {
		l.logf("stopped %d processes", len(pids))
	}
	for _, ns := range l.Namespaces() {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		if err := run("ip", "netns", "del", ns); err != nil {
			errs = append(errs, fmt.Errorf("lab down: %w", err))
			continue
		}
		l.logf("deleted namespace %s", ns)
	}
	for _, dir := range []string{l.PinPath(), l.Dir} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("lab down: remove %s: %w", dir, err))
			continue
		}
		l.logf("removed %s", dir)
	}
	// The default parent (/run/edgeguard-lab) goes when its last lab does.
	if parent := filepath.Dir(l.Dir); filepath.Base(parent) == "edgeguard-lab" {
		_ = os.Remove(parent) // fails, harmlessly, while another lab is up
	}
	return errors.Join(errs...)
}

// GatewaydPid returns the pid of the gatewayd serving in the lab (the newest
// when an upgrade is under way), 0 when none runs.
func (l *Lab) GatewaydPid() int {
	newest := 0
	for _, pid := range l.pidsIn(l.ns("gw")) {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if strings.TrimSpace(string(comm)) == "gatewayd" && alive(pid) && pid > newest {
			newest = pid
		}
	}
	return newest
}

// Upgrade asks the lab's gatewayd to hand over to the binary at its path
// (SIGUSR2) and waits until the old process has exited and the new one is
// ready. It returns both process ids.
func (l *Lab) Upgrade(ctx context.Context) (oldPid, newPid int, err error) {
	oldPid = l.GatewaydPid()
	if oldPid == 0 {
		return 0, 0, fmt.Errorf("upgrade: no gatewayd runs in %s", l.ns("gw"))
	}
	if err := syscall.Kill(oldPid, syscall.SIGUSR2); err != nil {
		return oldPid, 0, fmt.Errorf("upgrade: signal gatewayd (pid %d): %w", oldPid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for alive(oldPid) {
		select {
		case <-ctx.Done():
			return oldPid, 0, fmt.Errorf("upgrade: gatewayd pid %d still runs after 30s (a failed upgrade leaves it serving):\n%s",
				oldPid, tail(l.GatewayLog(), 10))
		case <-time.After(50 * time.Millisecond):
		}
	}
	newPid = l.GatewaydPid()
	if status, _, err := l.MgmtGet("/readyz"); err != nil || status != 200 || newPid == 0 {
		return oldPid, newPid, fmt.Errorf("upgrade: new gatewayd (pid %d) not ready: %d %v", newPid, status, err)
	}
	return oldPid, newPid, nil
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}
