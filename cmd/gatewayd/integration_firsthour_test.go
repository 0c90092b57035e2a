package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

// TestFirstHour follows a new operator through the first hour: the
// loopback config without credentials, the first token, a blocklist push
// refused for want of a state directory, the state directory added by a
// reload (restart pending), and the restart that applies it.
func TestFirstHour(t *testing.T) {
	up := startUpstream(t, "api", nil)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	base := `
listeners: [{name: public, address: "127.0.0.1:0"}]
access_log: {path: "off"}
server: {shutdown_grace: 5s}
upstreams: [{name: api, targets: [` + up.addr() + `]}]
routes: [{name: r, path: /, upstream: api}]
xdp: {mode: "off"}
`
	g := startGateway(t, "management: {address: \"127.0.0.1:0\"}\n"+base)
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/status"} {
		if code, _ := mgmtGet(t, g, path, ""); code != 200 {
			t.Errorf("no credentials: GET %s = %d, want 200", path, code)
		}
	}

	// The first token: gatewayctl token new > ops.token.
	cmd := exec.Command(gatewayctlBin(t), "token", "new", "--name", "ops")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	tok, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "ops.token")
	if err := os.WriteFile(tokenFile, tok, 0o600); err != nil {
		t.Fatal(err)
	}
	hash := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(stderr.String())
	if hash != api.HashToken(strings.TrimSpace(string(tok))) {
		t.Fatalf("token new: stdout %q, stderr %q", tok, stderr.String())
	}
	mgmtWith := func(extra string) string {
		return "management:\n  address: 127.0.0.1:0\n  tokens: [{name: ops, hash: \"" + hash + "\"}]\n" + extra + base
	}
	writeConfig(t, g.cfgPath, mgmtWith(""))
	g.waitLog("management paths now need authentication", "/metrics", "/status")
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 401, "/status": 401} {
		if code, _ := mgmtGet(t, g, path, ""); code != want {
			t.Errorf("first token: GET %s = %d, want %d (health stays public for load balancers)", path, code, want)
		}
	}
	ctl := func(args ...string) (int, string) {
		t.Helper()
		return runCtlToken(t, "", append([]string{"--target", g.mgmt, "--token-file", tokenFile}, args...)...)
	}
	if code, out := ctl("status"); code != 0 {
		t.Fatalf("status with the new token file: exit %d\n%s", code, out)
	}
	code, out := ctl("blocklist", "add", "192.0.2.0/24")
	if code != 1 || !strings.Contains(out, "no state directory") {
		t.Fatalf("push without state_dir: exit %d\n%s", code, out)
	}

	// state_dir is restart-only: the reload names it, calls say restart pending.
	writeConfig(t, g.cfgPath, mgmtWith("  state_dir: "+state+"\n"))
	g.waitLog("take effect only after a restart", "management.state_dir")
	if code, out := ctl("reload"); code != 0 || !strings.Contains(out, "restart pending: management.state_dir") {
		t.Errorf("reload: exit %d\n%s", code, out)
	}
	if code, out := ctl("blocklist", "add", "192.0.2.0/24"); code != 1 || !strings.Contains(out, "restart pending: management.state_dir") {
		t.Errorf("push after the reload: exit %d\n%s", code, out)
	}
	if code, out := ctl("status"); code != 0 || !strings.Contains(out, "restart pending: management.state_dir") {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	// The restart applies it.
	g.signal(15)
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("gatewayd did not stop")
	}
	doc, _ := readFile(g.cfgPath)
	g2 := startGateway(t, doc)
	g = g2
	if code, out := ctl("blocklist", "add", "192.0.2.0/24"); code != 0 || !strings.Contains(out, "+1 -0") {
		t.Errorf("push after the restart: exit %d\n%s", code, out)
	}
	if code, out := ctl("blocklist", "add", "192.0.2.0/24"); code != 0 || !strings.Contains(out, "already present: 192.0.2.0/24") {
		t.Errorf("push of a present entry: exit %d\n%s", code, out)
	}
	if code, out := ctl("unban", "198.51.100.1"); code != 0 || !strings.Contains(out, "not banned") {
		t.Errorf("unban of an unbanned source: exit %d\n%s", code, out)
	}
	if code, out := ctl("status"); code != 0 || strings.Contains(out, "restart pending") {
		t.Errorf("status after the restart: exit %d\n%s", code, out)
	}
}

// TestCheckConfigFirstRun: check-config reports every problem of a file in
// one run, explains a wrong extension, reads relative paths from the file's
// directory, and -h is not an error.
func TestCheckConfigFirstRun(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(gatewaydBin, args...)
		cmd.Dir = t.TempDir() // never the config's directory
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeConfig(t, bad, `
listeners: [{name: public, address: "127.0.0.1:8080"}]
managment:
  address: 127.0.0.1:9901
xdp: {mode: turbo, interfacs: null}
upstreams: [{name: api, targets: ["127.0.0.1:9000"], balance: random}]
routes: [{name: r, path: /, upstream: nope}]
`)
	code, out := run("check-config", bad)
	for _, want := range []string{"managment: unknown key", "xdp.interfacs: unknown key", "xdp.mode", "upstreams[0].balance", `routes[0].upstream: unknown upstream "nope"`} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config output lacks %q", want)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	conf := filepath.Join(dir, "gatewayd.conf")
	writeConfig(t, conf, "routes: []\n")
	if code, out := run("check-config", conf); code != 1 || !strings.Contains(out, `unsupported file extension ".conf"`) || !strings.Contains(out, ".yaml") {
		t.Errorf("wrong extension: exit %d\n%s", code, out)
	}
	// Relative key files next to the config, checked from elsewhere.
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, filepath.Join(dir, "secrets", "hs.secret"), strings.Repeat("s", 40))
	good := filepath.Join(dir, "good.yaml")
	writeConfig(t, good, `
auth:
  jwt:
    issuers: [{name: corp, issuer: "https://idp/", audiences: [api], algorithms: [HS256], keys: [{secret_file: secrets/hs.secret}]}]
upstreams: [{name: api, targets: ["127.0.0.1:9000"]}]
routes: [{name: r, path: /, upstream: api, auth: {methods: [jwt]}}]
`)
	if code, out := run("check-config", good); code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("relative secret_file: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"check-config", "-h"}} {
		if code, out := run(args...); code != 0 {
			t.Errorf("gatewayd %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// TestREADMEVersionExample: a push with an explicit version as the README
// shows it is accepted after a push with the default version (now, in Unix
// milliseconds): the example follows the default scheme.
func TestREADMEVersionExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`gatewayctl blocklist push \S+ --version (\S+)`).FindAllStringSubmatch(string(b), -1)
	if len(m) == 0 {
		t.Fatal("no blocklist push --version example in README.md")
	}
	for _, v := range m {
		arg := v[1]
		if arg == "$(date" { // "$(date +%s%3N)": now in milliseconds, the default scheme
			continue
		}
		n, err := strconv.ParseUint(arg, 10, 64)
		if err != nil || n < uint64(time.Now().UnixMilli()) {
			t.Errorf("README: blocklist push --version %s: a default push (now in Unix milliseconds) made before it would make it stale", arg)
		}
	}
}
