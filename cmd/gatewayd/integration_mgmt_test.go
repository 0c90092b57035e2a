package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
	"github.com/edgeguard/edgeguard/internal/netlab"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

// These tests drive the management plane with the real gatewayd and the
// real gatewayctl binaries over loopback (and, as root, over a Unix socket
// into a network namespace where XDP runs).

const mgmtTestToken = "egt_integration-test-token"

var (
	ctlOnce sync.Once
	ctlBin  string
	ctlErr  error
)

// gatewayctlBin builds gatewayctl next to the gatewayd test binary.
func gatewayctlBin(t *testing.T) string {
	t.Helper()
	ctlOnce.Do(func() {
		ctlBin = filepath.Join(filepath.Dir(gatewaydBin), "gatewayctl")
		out, err := exec.Command("go", "build", "-o", ctlBin, "../gatewayctl").CombinedOutput()
		if err != nil {
			ctlErr = fmt.Errorf("build gatewayctl: %v\n%s", err, out)
		}
	})
	if ctlErr != nil {
		t.Fatal(ctlErr)
	}
	return ctlBin
}

// runCtl runs gatewayctl with the test token in its environment and
// returns the exit code and combined output.
func runCtl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runCtlToken(t, mgmtTestToken, args...)
}

// runCtlToken runs gatewayctl with token ("" for none) in EDGEGUARD_TOKEN.
func runCtlToken(t *testing.T, token string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(gatewayctlBin(t), args...)
	cmd.Env = append(os.Environ(), "EDGEGUARD_TOKEN="+token, "EDGEGUARD_CTL_CONFIG=")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gatewayctl %v: %v", args, err)
	}
	return code, string(out)
}

// mgmtConfig is a gateway config with a token, a state directory, nothing
// public, and the user-space source filter (no XDP).
func mgmtConfig(upstream, stateDir, extra string) string {
	return `
listeners: [{name: public, address: "127.0.0.1:0"}]
management:
  address: 127.0.0.1:0
  public: none
  tokens: [{name: test, hash: ` + api.HashToken(mgmtTestToken) + `}]
  state_dir: ` + stateDir + `
` + extra + `
access_log: {path: "off"}
server: {shutdown_grace: 5s}
upstreams: [{name: api, targets: [` + upstream + `]}]
routes: [{name: r, path: /, upstream: api}]
xdp: {mode: "off"}
`
}

// mgmtGet makes a management call with an optional Authorization header.
func mgmtGet(t *testing.T, g *gateway, path, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.mgmt+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// requestFrom sends a request to the data listener from a loopback source
// address and reports whether it was served (the user-space filter resets
// connections from blocked sources before reading them).
func requestFrom(t *testing.T, g *gateway, src string) bool {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", g.data)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

type blocklistInfo struct {
	Version        uint64 `json:"version"`
	Entries        int    `json:"entries"`
	AppliedVersion uint64 `json:"applied_version"`
	Restore        *struct {
		Deltas   int      `json:"deltas"`
		SetAside []string `json:"set_aside"`
	} `json:"restore"`
}

func infoOf(t *testing.T, g *gateway) blocklistInfo {
	t.Helper()
	status, body := mgmtGet(t, g, api.PathBlocklist, "Bearer "+mgmtTestToken)
	var in blocklistInfo
	if status != 200 || json.Unmarshal([]byte(body), &in) != nil {
		t.Fatalf("blocklist info: %d %s", status, body)
	}
	return in
}

func TestMgmtAuthRequired(t *testing.T) {
	up := startUpstream(t, "api", nil)
	g := startGateway(t, mgmtConfig(up.addr(), t.TempDir(), ""))
	for _, path := range []string{"/metrics", "/status", "/healthz", api.PathBlocklist, api.PathBans} {
		for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + api.HashToken(mgmtTestToken)} {
			if status, _ := mgmtGet(t, g, path, auth); status != 401 {
				t.Errorf("GET %s with %q: %d, want 401", path, auth, status)
			}
		}
		if status, _ := mgmtGet(t, g, path, "Bearer "+mgmtTestToken); status != 200 {
			t.Errorf("GET %s with the token: %d", path, status)
		}
	}
	if code, out := runCtlToken(t, "", "--target", g.mgmt, "blocklist", "add", "192.0.2.0/24"); code != 1 || !strings.Contains(out, "unauthorized") {
		t.Errorf("gatewayctl without a token: exit %d\n%s", code, out)
	}
	if code, out := runCtl(t, "--target", g.mgmt, "--token", "wrong", "blocklist", "add", "192.0.2.0/24"); code != 1 || !strings.Contains(out, "invalid token") {
		t.Errorf("gatewayctl with a wrong token: exit %d\n%s", code, out)
	}
	// The data listener never serves management routes: the path goes
	// to the upstream like any other.
	if r := g.do(t, "GET", api.PathBlocklist, "Authorization", "Bearer "+mgmtTestToken); strings.Contains(r.body, "applied_version") || r.headers["X-Upstream"] != "api" {
		t.Errorf("data listener answered %s itself: %d %s", api.PathBlocklist, r.status, r.body)
	}
	if in := infoOf(t, g); in.Version != 0 {
		t.Errorf("a refused call changed the list: %+v", in)
	}
}

func TestMgmtMTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := certtest.NewCA(t, "fleet CA"), certtest.NewCA(t, "other CA")
	serverCert, serverKey := ca.Server(t).WriteFiles(t, dir, "server")
	opsCert, opsKey := ca.Client(t, certtest.Names{CommonName: "ops"}).WriteFiles(t, dir, "ops")
	intruderCert, intruderKey := other.Client(t, certtest.Names{CommonName: "intruder"}).WriteFiles(t, dir, "intruder")
	caFile := ca.WriteFile(t, dir, "ca")
	up := startUpstream(t, "api", nil)
	g := startGateway(t, mgmtConfig(up.addr(), filepath.Join(dir, "state"),
		"  tls_cert_file: "+serverCert+"\n  tls_key_file: "+serverKey+"\n  client_ca_file: "+caFile+"\n"))
	base := []string{"--target", "https://" + g.mgmt, "--ca", caFile}
	if code, out := runCtlToken(t, "", append(base, "--cert", opsCert, "--key", opsKey, "blocklist", "add", "192.0.2.0/24")...); code != 0 {
		t.Fatalf("client certificate of the CA: exit %d\n%s", code, out)
	}
	if code, out := runCtlToken(t, "", append(base, "--cert", intruderCert, "--key", intruderKey, "blocklist", "add", "198.51.100.0/24")...); code != 3 || !strings.Contains(out, "certificate") {
		t.Errorf("client certificate of another CA: exit %d\n%s", code, out)
	}
	if code, out := runCtlToken(t, "", append(base, "blocklist", "add", "198.51.100.0/24")...); code != 1 || !strings.Contains(out, "unauthorized") {
		t.Errorf("no certificate, no token: exit %d\n%s", code, out)
	}
	// TLS without a client certificate, with the token, works.
	if code, out := runCtl(t, append(base, "blocklist", "test", "192.0.2.7")...); code != 0 || !strings.Contains(out, "192.0.2.0/24") {
		t.Errorf("token over TLS: exit %d\n%s", code, out)
	}
	if code, out := runCtl(t, append(base, "blocklist", "test", "198.51.100.7")...); code != 4 {
		t.Errorf("a refused call changed the list: exit %d\n%s", code, out)
	}
	// A reload whose management certificate does not load is refused, and
	// the running certificate keeps serving.
	writeConfig(t, serverCert, "not a certificate\n")
	if code, out := runCtl(t, append(base, "reload")...); code != 1 || !strings.Contains(out, "management.tls_cert_file") {
		t.Errorf("reload with a broken management certificate: exit %d\n%s", code, out)
	}
	if code, out := runCtl(t, append(base, "blocklist", "test", "192.0.2.7")...); code != 0 {
		t.Errorf("after the refused reload: exit %d\n%s", code, out)
	}
}

func TestMgmtVersionsBadLinesAndRestart(t *testing.T) {
	up := startUpstream(t, "api", nil)
	state := t.TempDir()
	doc := mgmtConfig(up.addr(), state, "")
	g := startGateway(t, doc)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.netset")
	writeConfig(t, good, "# FireHOL style\n127.0.0.2\n10.0.0.0/8\n10.0.0.0/8\n2001:db8::/32\n")
	if code, out := runCtl(t, "--target", g.mgmt, "blocklist", "push", good, "--version", "5"); code != 0 || !strings.Contains(out, "v5") {
		t.Fatalf("push v5: exit %d\n%s", code, out)
	}
	if requestFrom(t, g, "127.0.0.2") || !requestFrom(t, g, "127.0.0.3") {
		t.Fatal("after the push 127.0.0.2 must be refused and 127.0.0.3 served")
	}

	older := filepath.Join(dir, "older.txt")
	writeConfig(t, older, "127.0.0.3\n")
	if code, out := runCtl(t, "--target", g.mgmt, "blocklist", "push", older, "--version", "3"); code != 1 || !strings.Contains(out, "stale") {
		t.Errorf("older push: exit %d\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.txt")
	writeConfig(t, bad, "127.0.0.3\n10.0.0.0/33\n192.0.2.1/24\nnot-an-ip\n")
	code, out := runCtl(t, "--target", g.mgmt, "blocklist", "push", bad, "--version", "6", "--no-check")
	if code != 1 || !strings.Contains(out, "3 bad lines") || !strings.Contains(out, "line 2") || !strings.Contains(out, "line 3") || !strings.Contains(out, "line 4") {
		t.Errorf("push with bad lines: exit %d\n%s", code, out)
	}
	if in := infoOf(t, g); in.Version != 5 || in.Entries != 3 {
		t.Errorf("refused pushes changed the list: %+v", in)
	}
	if !requestFrom(t, g, "127.0.0.3") {
		t.Error("a refused push took effect")
	}

	if code, out := runCtl(t, "--target", g.mgmt, "blocklist", "add", "127.0.0.4", "192.0.2.0/24"); code != 0 || !strings.Contains(out, "v6") {
		t.Fatalf("delta: exit %d\n%s", code, out)
	}
	if code, out := runCtl(t, "--target", g.mgmt, "blocklist", "remove", "10.0.0.0/8"); code != 0 || !strings.Contains(out, "v7") {
		t.Fatalf("delta: exit %d\n%s", code, out)
	}

	// Restart: the state comes back before the data listener serves.
	g.signal(syscall.SIGTERM)
	select {
	case err := <-g.exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gatewayd did not exit")
	}
	g2 := startGateway(t, doc)
	in := infoOf(t, g2)
	if in.Version != 7 || in.AppliedVersion != 7 || in.Entries != 4 || in.Restore == nil || in.Restore.Deltas != 2 {
		t.Fatalf("after restart: %+v %+v", in, in.Restore)
	}
	if requestFrom(t, g2, "127.0.0.2") || requestFrom(t, g2, "127.0.0.4") || !requestFrom(t, g2, "127.0.0.3") {
		t.Error("restored list not enforced")
	}
	g2.waitLog("blocklist restored", `"version":7`)
	if code, out := runCtl(t, "--target", g2.mgmt, "blocklist", "test", "127.0.0.4"); code != 0 || !strings.Contains(out, "127.0.0.4/32") {
		t.Errorf("test after restart: exit %d\n%s", code, out)
	}
}

func TestMgmtFleetPush(t *testing.T) {
	up := startUpstream(t, "api", nil)
	var targets []string
	var gws []*gateway
	for range 3 {
		g := startGateway(t, mgmtConfig(up.addr(), t.TempDir(), ""))
		gws = append(gws, g)
		targets = append(targets, g.mgmt)
	}
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts.txt")
	writeConfig(t, hosts, "# edge fleet\n"+strings.Join(targets, "\n")+"\n")
	var list strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&list, "10.%d.%d.0/24\n", i/256, i%256)
	}
	list.WriteString("127.0.0.2\n")
	file := filepath.Join(dir, "list.txt")
	writeConfig(t, file, list.String())
	code, out := runCtl(t, "--targets", hosts, "blocklist", "push", file, "--version", "42")
	if code != 0 {
		t.Fatalf("fleet push: exit %d\n%s", code, out)
	}
	for _, tg := range targets {
		if !strings.Contains(out, tg) {
			t.Errorf("no row for %s:\n%s", tg, out)
		}
	}
	if n := strings.Count(out, " ok "); n != 3 {
		t.Errorf("%d ok rows, want 3:\n%s", n, out)
	}
	for i, g := range gws {
		if in := infoOf(t, g); in.Version != 42 || in.Entries != 5001 {
			t.Errorf("gateway %d: %+v", i, in)
		}
		if requestFrom(t, g, "127.0.0.2") {
			t.Errorf("gateway %d still serves 127.0.0.2", i)
		}
	}
	// One host down: the others still take the change, the table says
	// which failed, and the exit code says a target was unreachable.
	gws[1].signal(syscall.SIGKILL)
	<-gws[1].exited
	code, out = runCtl(t, "--targets", hosts, "blocklist", "add", "127.0.0.5")
	if code != 3 || strings.Count(out, " ok ") != 2 || !strings.Contains(out, "unreachable") {
		t.Errorf("fleet delta with a host down: exit %d\n%s", code, out)
	}
}

// TestMgmtXDPDropsPushedCIDR runs gatewayd with XDP on a veth inside a
// namespace, pushes a CIDR with gatewayctl over the Unix socket, and checks
// at the TCP level that sources in the CIDR are now dropped while another
// source still connects.
func TestMgmtXDPDropsPushedCIDR(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2", "10.200.0.5"}, nil) // skips without root
	pin := "/sys/fs/bpf/edgeguard-test-mgmt-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { _ = os.RemoveAll(pin) })
	dir := t.TempDir()
	sock := filepath.Join(dir, "mgmt.sock")
	doc := `
listeners: [{name: public, address: "10.200.0.1:8080"}]
management:
  address: 127.0.0.1:0
  unix_socket: ` + sock + `
  public: none
  tokens: [{name: test, hash: ` + api.HashToken(mgmtTestToken) + `}]
  state_dir: ` + filepath.Join(dir, "state") + `
access_log: {path: "off"}
upstreams: [{name: demo, targets: [builtin:demo]}]
routes: [{name: demo, path: /, upstream: demo}]
xdp:
  mode: auto
  interfaces: [` + p.SrvIf + `]
  pin_path: ` + pin + `
`
	g := startGatewayWith(t, doc, "nsenter", "--net=/run/netns/"+p.Srv.Name)
	target := "unix:" + sock
	code, out := runCtl(t, "--target", target, "status")
	if code != 0 || !strings.Contains(out, p.SrvIf+":native") {
		t.Fatalf("status over the socket: exit %d\n%s\n%s", code, out, g.logs())
	}
	blocked, other := netip.MustParseAddr("10.200.0.5"), netip.MustParseAddr("10.200.0.2")
	if !p.Connect(t, blocked, 8080) || !p.Connect(t, other, 8080) {
		t.Fatal("both sources must connect before the push")
	}
	file := filepath.Join(dir, "drop.txt")
	writeConfig(t, file, "; Spamhaus DROP style\n10.200.0.4/30 ; test\n")
	start := time.Now()
	code, out = runCtl(t, "--target", target, "blocklist", "push", file, "--version", "1")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("push: exit %d\n%s", code, out)
	}
	if p.Connect(t, blocked, 8080) {
		t.Error("10.200.0.5 connects after 10.200.0.4/30 was pushed")
	}
	if !p.Connect(t, other, 8080) {
		t.Error("10.200.0.2 is outside the pushed CIDR but cannot connect")
	}
	code, out = runCtl(t, "--target", target, "blocklist", "test", "10.200.0.5")
	if code != 0 || !strings.Contains(out, "10.200.0.4/30") {
		t.Errorf("test: exit %d\n%s", code, out)
	}
	// The drop was counted by XDP, and removing the entry restores access.
	code, out = runCtl(t, "--target", target, "--json", "status")
	var st []struct {
		Result api.Status `json:"result"`
	}
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || len(st) != 1 || st[0].Result.Enforcer.Counters["drop_blocklist"] == 0 {
		t.Errorf("no XDP drop counted: exit %d %v\n%s", code, err, out)
	}
	if code, out := runCtl(t, "--target", target, "blocklist", "remove", "10.200.0.4/30"); code != 0 {
		t.Fatalf("remove: exit %d\n%s", code, out)
	}
	if !p.Connect(t, blocked, 8080) {
		t.Error("10.200.0.5 still dropped after the entry was removed")
	}
	t.Logf("gatewayctl push -> XDP, one CIDR: %s (process start included)", took)
}

// Certificates for the mTLS test.

// TestMgmtBansSurviveCrash: a ban gatewayctl got acknowledged is enforced
// again after gatewayd is killed (no clean shutdown) and restarted, with
// its original expiry; an unban is kept the same way.
func TestMgmtBansSurviveCrash(t *testing.T) {
	up := startUpstream(t, "api", nil)
	doc := mgmtConfig(up.addr(), t.TempDir(), "")
	g := startGateway(t, doc)
	for _, ip := range []string{"127.0.0.5", "127.0.0.6", "2001:db8:5::/48"} {
		if code, out := runCtl(t, "--target", g.mgmt, "ban", ip, "--for", "10m"); code != 0 {
			t.Fatalf("ban %s: exit %d\n%s", ip, code, out)
		}
	}
	if code, out := runCtl(t, "--target", g.mgmt, "unban", "127.0.0.6"); code != 0 {
		t.Fatalf("unban: exit %d\n%s", code, out)
	}
	if requestFrom(t, g, "127.0.0.5") || !requestFrom(t, g, "127.0.0.6") {
		t.Fatal("before the crash: 127.0.0.5 must be refused, 127.0.0.6 served")
	}
	_, before := runCtl(t, "--target", g.mgmt, "bans", "--json")

	g.signal(syscall.SIGKILL)
	<-g.exited
	g2 := startGateway(t, doc)
	g2.waitLog("bans restored", `"restored":2`)
	if requestFrom(t, g2, "127.0.0.5") || !requestFrom(t, g2, "127.0.0.6") {
		t.Error("after the crash: the acknowledged ban and unban were not both kept")
	}
	code, after := runCtl(t, "--target", g2.mgmt, "bans", "--json")
	type bans []struct { // one row per target
		Result struct {
			Bans []struct {
				IP    string    `json:"ip"`
				Until time.Time `json:"until"`
			} `json:"bans"`
		} `json:"result"`
	}
	var b1, b2 bans
	if code != 0 || json.Unmarshal([]byte(before), &b1) != nil || json.Unmarshal([]byte(after), &b2) != nil || len(b1) != 1 || len(b2) != 1 {
		t.Fatalf("bans --json: exit %d\nbefore: %s\nafter: %s", code, before, after)
	}
	l1, l2 := b1[0].Result.Bans, b2[0].Result.Bans
	byIP := func(l []struct {
		IP    string    `json:"ip"`
		Until time.Time `json:"until"`
	}) map[string]time.Time {
		m := map[string]time.Time{}
		for _, b := range l {
			m[b.IP] = b.Until
		}
		return m
	}
	m1, m2 := byIP(l1), byIP(l2)
	if len(m1) != 2 || len(m2) != 2 || !m2["127.0.0.5"].Equal(m1["127.0.0.5"]) || !m2["2001:db8:5::/48"].Equal(m1["2001:db8:5::/48"]) || m2["127.0.0.5"].IsZero() {
		t.Errorf("bans before the crash %+v, after %+v", l1, l2)
	}
}

// TestBanEndsOpenKeepAliveConnections: without XDP, a source banned or
// blocklisted through the management API loses the keep-alive connection
// it already holds at its next request (as XDP's drops would end it),
// while another source's open connection is still served.
func TestBanEndsOpenKeepAliveConnections(t *testing.T) {
	up := startUpstream(t, "api", nil)
	g := startGateway(t, mgmtConfig(up.addr(), t.TempDir(), ""))
	open := func(src string) (net.Conn, *bufio.Reader) {
		t.Helper()
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", g.data)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	// get sends one keep-alive request and reports the status, 0 when the
	// connection failed.
	get := func(c net.Conn, r *bufio.Reader) int {
		if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
			return 0
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	banned, bc := open("127.0.0.7")
	listed, lc := open("127.0.0.8")
	bystander, yc := open("127.0.0.9")
	for _, c := range []struct {
		c net.Conn
		r *bufio.Reader
	}{{banned, bc}, {listed, lc}, {bystander, yc}} {
		if st := get(c.c, c.r); st != 200 {
			t.Fatalf("before the ban: %d", st)
		}
	}
	if code, out := runCtl(t, "--target", g.mgmt, "ban", "127.0.0.7", "--for", "10m"); code != 0 {
		t.Fatalf("ban: exit %d\n%s", code, out)
	}
	if st := get(banned, bc); st != 0 {
		t.Errorf("banned source's open connection served: %d", st)
	}
	if code, out := runCtl(t, "--target", g.mgmt, "blocklist", "add", "127.0.0.8/32"); code != 0 {
		t.Fatalf("blocklist add: exit %d\n%s", code, out)
	}
	if st := get(listed, lc); st != 0 {
		t.Errorf("blocklisted source's open connection served: %d", st)
	}
	if st := get(bystander, yc); st != 200 {
		t.Errorf("another source's open connection after the ban: %d, want 200", st)
	}
}

// TestBanOfAllowlistedSource: banning a source the allowlist covers is
// recorded (it applies once the allowlist changes) but says it has no
// effect now, rather than a bare "banned".
func TestBanOfAllowlistedSource(t *testing.T) {
	up := startUpstream(t, "api", nil)
	doc := strings.Replace(mgmtConfig(up.addr(), t.TempDir(), ""), `xdp: {mode: "off"}`, `xdp: {mode: "off", allowlist: [127.0.0.0/29]}`, 1)
	g := startGateway(t, doc)
	code, out := runCtl(t, "--target", g.mgmt, "ban", "127.0.0.5", "--for", "5m")
	if code != 0 || !strings.Contains(out, "banned") || !strings.Contains(out, "no effect while xdp.allowlist holds 127.0.0.0/29") {
		t.Errorf("ban of an allowlisted source: exit %d\n%s", code, out)
	}
	code, out = runCtl(t, "--target", g.mgmt, "ban", "127.0.0.9", "--for", "5m")
	if code != 0 || strings.Contains(out, "no effect") {
		t.Errorf("ban of another source: exit %d\n%s", code, out)
	}
	// The list says it too, for the ban it concerns only.
	code, out = runCtl(t, "--target", g.mgmt, "bans")
	var five, nine string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(line, "127.0.0.5"):
			five = line
		case strings.Contains(line, "127.0.0.9"):
			nine = line
		}
	}
	if code != 0 || !strings.Contains(five, "no effect while xdp.allowlist holds 127.0.0.0/29") || nine == "" || strings.Contains(nine, "no effect") {
		t.Errorf("bans: exit %d\n%s", code, out)
	}
}

// TestOneGatewayPerStateDir: a second gatewayd on the same state_dir (other
// ports) refuses to start, naming the first one's pid: both would have
// acknowledged changes that the other then overwrote.
func TestOneGatewayPerStateDir(t *testing.T) {
	up := startUpstream(t, "api", nil)
	state := t.TempDir()
	first := startGateway(t, mgmtConfig(up.addr(), state, ""))
	path := filepath.Join(t.TempDir(), "second.yaml")
	writeConfig(t, path, mgmtConfig(up.addr(), state, ""))
	out, err := exec.Command(gatewaydBin, "--config", path).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 ||
		!strings.Contains(string(out), "is in use by another gatewayd (pid "+strconv.Itoa(first.cmd.Process.Pid)+")") {
		t.Fatalf("second gatewayd on the same state_dir: %v\n%s", err, out)
	}
	if code, out := runCtl(t, "--target", first.mgmt, "blocklist", "add", "192.0.2.0/24"); code != 0 {
		t.Errorf("the first gatewayd after the refused second: exit %d\n%s", code, out)
	}
}
