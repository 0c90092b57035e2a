package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/policy"
	"github.com/edgeguard/edgeguard/policy/blocklist"
	"github.com/edgeguard/edgeguard/policy/config"
	"github.com/edgeguard/edgeguard/policy/mgmt"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

const testToken = "egt_test-token-for-gatewayctl"

// startDaemon runs the real management server over a real store and the
// user-space enforcer on loopback, and returns its address.
func startDaemon(t *testing.T) string {
	t.Helper()
	return startDaemonToken(t, testToken)
}

// startDaemonToken is startDaemon accepting token.
func startDaemonToken(t *testing.T, token string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "gatewayd.yaml")
	doc := `
management:
  address: 127.0.0.1:0
  tokens: [{name: ctl, hash: ` + api.HashToken(token) + `}]
  state_dir: ` + filepath.Join(dir, "state") + `
access_log: {path: "off"}
upstreams: [{name: api, targets: ["127.0.0.1:1"]}]
routes: [{name: r, path: /, upstream: api}]
xdp: {mode: "off", allowlist: ["198.51.100.77"]}
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() (*config.Loaded, error) { return config.Load(path) }
	l, err := load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	f := connfilter.New()
	enf := &policy.Enforcement{Enforcer: f, Listener: f}
	h, err := policy.NewHolder(load, policy.Options{Enforcer: enf}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	st, err := blocklist.Open(blocklist.Options{Dir: l.Config.Management.StateDir, Applier: enf, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	s, err := mgmt.Start(mgmt.Options{Config: l.Config.Management, Policies: h, Log: log, Enforcement: enf, Blocklist: st, BanDefault: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()); st.Close() })
	return s.Addr()
}

// ctl runs gatewayctl in process and returns its exit code and output.
func ctl(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseArgs(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		pos     []string
		targets []string
		err     string
	}{
		{"flags after arguments", []string{"ban", "192.0.2.1", "--for", "10m"}, []string{"ban", "192.0.2.1"}, nil, ""},
		{"flags everywhere", []string{"--target", "a:1,b:2", "blocklist", "--json", "push", "f.txt", "--version", "7"}, []string{"blocklist", "push", "f.txt"}, []string{"a:1", "b:2"}, ""},
		{"repeated target", []string{"--target", "a:1", "--target", "b:2", "status"}, []string{"status"}, []string{"a:1", "b:2"}, ""},
		{"double dash", []string{"blocklist", "add", "--", "--for"}, []string{"blocklist", "add", "--for"}, nil, ""},
		{"flag of another command", []string{"status", "--for", "1m"}, nil, nil, `--for is a flag of "ban"`},
		{"version flag outside push", []string{"blocklist", "add", "10.0.0.0/8", "--version", "3"}, nil, nil, `--version is a flag of "blocklist push"`},
		{"unknown flag", []string{"status", "--nope"}, nil, nil, "not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, pos, err := parseArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pos, tc.pos) || !slices.Equal(o.targets, tc.targets) {
				t.Fatalf("pos %q targets %q", pos, o.targets)
			}
		})
	}
}

func TestReadSettings(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ctl.conf", "# fleet\ntarget = https://10.0.0.5:9901\ntarget 10.0.0.6:9901\ntoken_file = tok\nca_file = /etc/ca.pem\ntls = true\ntimeout = 30s\nparallel = 4\n")
	s, err := readSettings(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.targets) != 2 || s.tokenFile != filepath.Join(dir, "tok") || s.ca != "/etc/ca.pem" || !s.tls || s.timeout != 30*time.Second || s.parallel != 4 {
		t.Errorf("settings = %+v", s)
	}
	for _, bad := range []string{"nope = 1\n", "timeout = soon\n", "target\n"} {
		if _, err := readSettings(writeFile(t, dir, "bad.conf", bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestExitCodes(t *testing.T) {
	addr := startDaemon(t)
	dir := t.TempDir()
	list := writeFile(t, dir, "list.txt", "# feed\n10.0.0.0/8\n192.0.2.0/24 ; x\n")
	bad := writeFile(t, dir, "bad.txt", "10.0.0.0/8\nnope\n")
	jsonList := writeFile(t, dir, "list.json", `{"version": 50, "entries": ["198.51.100.0/24"]}`)
	jsonLater := writeFile(t, dir, "later.json", `{"entries": ["198.51.100.0/24"], "version": 100}`)
	jsonZero := writeFile(t, dir, "zero.json", `{"version": 0, "entries": ["198.51.100.0/24"]}`)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	t.Setenv("EDGEGUARD_TOKEN", testToken)
	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"push", []string{"--target", addr, "blocklist", "push", list, "--version", "10"}, exitOK, "v10"},
		{"same push again", []string{"--target", addr, "blocklist", "push", list, "--version", "10"}, exitOK, "unchanged"},
		{"stale push", []string{"--target", addr, "blocklist", "push", list, "--version", "9"}, exitRefused, "stale"},
		{"bad file is never sent", []string{"--target", addr, "blocklist", "push", bad}, exitUsage, ""},
		{"bad file sent anyway is refused", []string{"--target", addr, "blocklist", "push", bad, "--no-check", "--version", "11"}, exitRefused, "line 2"},
		{"json with its own version", []string{"--target", addr, "blocklist", "push", jsonList}, exitOK, "v50"},
		{"add", []string{"--target", addr, "blocklist", "add", "203.0.113.0/24"}, exitOK, "v51"},
		{"remove", []string{"--target", addr, "blocklist", "remove", "203.0.113.0/24"}, exitOK, "v52"},
		{"bad CIDR", []string{"--target", addr, "blocklist", "add", "203.0.113.1/24"}, exitUsage, ""},
		{"test blocked", []string{"--target", addr, "blocklist", "test", "198.51.100.7"}, exitOK, "198.51.100.0/24"},
		{"test not blocked", []string{"--target", addr, "blocklist", "test", "203.0.113.9"}, exitNotBlocked, "false"},
		// The allowlist overrides the blocklist in the filter, and so here.
		{"test allowlisted", []string{"--target", addr, "blocklist", "test", "198.51.100.77"}, exitNotBlocked, "allowlisted 198.51.100.77/32 (overrides 198.51.100.0/24)"},
		{"ban for nothing", []string{"--target", addr, "ban", "203.0.113.9", "--for", "0s"}, exitUsage, ""},
		{"ban for less than nothing", []string{"--target", addr, "ban", "203.0.113.9", "--for", "-5m"}, exitUsage, ""},
		{"ban", []string{"--target", addr, "ban", "203.0.113.9", "--for", "5m"}, exitOK, "banned"},
		{"test banned", []string{"--target", addr, "blocklist", "test", "203.0.113.9"}, exitOK, "ban until"},
		{"bans", []string{"--target", addr, "bans"}, exitOK, "203.0.113.9"},
		{"unban", []string{"--target", addr, "unban", "203.0.113.9"}, exitOK, "unbanned"},
		{"status", []string{"--target", addr, "status"}, exitOK, "userspace"},
		{"reload", []string{"--target", addr, "reload"}, exitOK, "unchanged"},
		{"info", []string{"--target", addr, "blocklist", "info"}, exitOK, "52"},
		{"wrong token", []string{"--target", addr, "--token", "nope", "status"}, exitRefused, "unauthorized"},
		{"unreachable", []string{"--target", deadAddr, "status"}, exitUnreachable, "unreachable"},
		{"one of a fleet unreachable", []string{"--target", addr + "," + deadAddr, "blocklist", "info"}, exitUnreachable, "unreachable"},
		{"unknown command", []string{"frobnicate"}, exitUsage, ""},
		{"empty target", []string{"--target", "", "status"}, exitUsage, ""},
		{"no parallelism", []string{"--target", addr, "--parallel", "0", "status"}, exitUsage, ""},
		{"negative timeout", []string{"--target", addr, "--timeout", "-1s", "status"}, exitUsage, ""},
		{"target of commas", []string{"--target", " , ", "blocklist", "add", "203.0.113.1"}, exitUsage, ""},
		{"missing argument", []string{"--target", addr, "ban"}, exitUsage, ""},
		// Unchecked, a JSON file's version is still the one sent.
		{"unchecked json keeps its version", []string{"--target", addr, "blocklist", "push", jsonLater, "--no-check"}, exitOK, "v100"},
		{"version 0", []string{"--target", addr, "blocklist", "push", list, "--version", "0"}, exitUsage, ""},
		{"json version 0", []string{"--target", addr, "blocklist", "push", jsonZero}, exitUsage, ""},
		{"json version 0 unchecked", []string{"--target", addr, "blocklist", "push", jsonZero, "--no-check"}, exitUsage, ""},
		{"nothing moved by them", []string{"--target", addr, "blocklist", "info"}, exitOK, "100"},
		{"test with a zone", []string{"--target", addr, "blocklist", "test", "fe80::1%eth0"}, exitUsage, ""},
		{"export as JSON", []string{"--target", addr, "--json", "blocklist", "export"}, exitUsage, ""},
		{"help", []string{"help"}, exitOK, "Exit codes"},
		{"help flag", []string{"-h"}, exitOK, "Exit codes"},
		{"no command", nil, exitUsage, ""},
		{"flags but no command", []string{"--target", addr}, exitUsage, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := ctl(t, "", tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
		})
	}
}

func TestJSONOutput(t *testing.T) {
	addr := startDaemon(t)
	t.Setenv("EDGEGUARD_TOKEN", testToken)
	code, out, _ := ctl(t, "10.0.0.0/8\n", "--target", addr, "--json", "blocklist", "push", "-", "--version", "3")
	var res []struct {
		Target string           `json:"target"`
		OK     bool             `json:"ok"`
		Result blocklist.Result `json:"result"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || len(res) != 1 || !res[0].OK || res[0].Result.Version != 3 {
		t.Fatalf("exit %d, output %s", code, out)
	}
}

func TestTokenCommands(t *testing.T) {
	code, out, errOut := ctl(t, "", "token", "new", "--name", "fleet")
	if code != exitOK {
		t.Fatal(code)
	}
	// stdout is the token alone: "token new > ops.token" makes a token file.
	tok := strings.TrimSuffix(out, "\n")
	if !strings.HasPrefix(tok, "egt_") || len(tok) < 40 || strings.ContainsAny(tok, " \n") || !strings.Contains(errOut, "{name: fleet, hash: "+api.HashToken(tok)) {
		t.Fatalf("token new:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
	// The snippet printed on stderr is a valid management section.
	_, snippet, _ := strings.Cut(errOut, "management:\n")
	doc := "management:\n  address: 127.0.0.1:9901\n" + snippet + "upstreams: [{name: a, targets: [\"127.0.0.1:1\"]}]\nroutes: [{name: r, path: /, upstream: a}]\n"
	if l, err := config.Parse([]byte(doc), "yaml", "snippet"); err != nil || len(l.Config.Management.ActiveTokens()) != 1 {
		t.Fatalf("snippet does not load: %v\n%s", err, doc)
	}
	code, out, _ = ctl(t, tok+"\n", "token", "hash")
	if code != exitOK || strings.TrimSpace(out) != api.HashToken(tok) {
		t.Fatalf("token hash: %d %q", code, out)
	}
}

// TestFirstHour follows a new operator: a token file made by "token new >",
// a token file with more than the token, adding entries already there,
// lifting a ban that does not exist, asking for help.
func TestFirstHour(t *testing.T) {
	dir := t.TempDir()
	code, tok, _ := ctl(t, "", "token", "new")
	if code != exitOK {
		t.Fatal(code)
	}
	tokenFile := writeFile(t, dir, "ops.token", tok) // what "gatewayctl token new > ops.token" writes
	t.Setenv("EDGEGUARD_TOKEN", "")
	// A daemon that accepts that token.
	addr := startDaemonToken(t, strings.TrimSpace(tok))
	if code, out, errOut := ctl(t, "", "--target", addr, "--token-file", tokenFile, "status"); code != exitOK {
		t.Fatalf("status with the new token file: exit %d\n%s%s", code, out, errOut)
	}
	cases := []struct {
		name    string
		content string
		want    string
	}{
		{"old token new output", "token: egt_abc\n# for gatewayd.yaml\nmanagement:\n", "3 lines: want the token alone on one line"},
		{"token and hash", "egt_abc\nsha256:0123\n", "2 lines"},
		{"space inside", "Bearer egt_abc\n", "white space"},
		{"empty", "\n\n", "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, dir, "bad.token", tc.content)
			code, out, errOut := ctl(t, "", "--target", addr, "--token-file", f, "status")
			if code != exitUsage || !strings.Contains(errOut, "read token "+f+": "+tc.want) || strings.Contains(out+errOut, "unreachable") {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, exitUsage, tc.want, out, errOut)
			}
		})
	}
	run := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := ctl(t, "", append([]string{"--target", addr, "--token-file", tokenFile}, args...)...)
		if code != want {
			t.Fatalf("%q: exit %d, want %d\n%s%s", args, code, want, out, errOut)
		}
		return out
	}
	run(exitOK, "blocklist", "add", "203.0.113.0/24")
	if out := run(exitOK, "blocklist", "add", "203.0.113.0/24", "198.51.100.0/24"); !strings.Contains(out, "already present: 203.0.113.0/24;") || !strings.Contains(out, "+1 -0") {
		t.Errorf("add of a present entry:\n%s", out)
	}
	if out := run(exitOK, "blocklist", "add", "203.0.113.0/24"); !strings.Contains(out, "unchanged") || !strings.Contains(out, "nothing changed: already present: 203.0.113.0/24") {
		t.Errorf("add of only present entries:\n%s", out)
	}
	if out := run(exitOK, "unban", "192.0.2.77"); !strings.Contains(out, "not banned") {
		t.Errorf("unban of an unbanned source:\n%s", out)
	}
	run(exitOK, "ban", "192.0.2.77")
	// A second ban replaces the first, and says what it replaced.
	if out := run(exitOK, "ban", "192.0.2.77", "--for", "1m"); !strings.Contains(out, "(was ") {
		t.Errorf("ban of a banned source:\n%s", out)
	}
	if out := run(exitOK, "unban", "192.0.2.77"); !strings.Contains(out, "unbanned") || strings.Contains(out, "not banned") {
		t.Errorf("unban of a banned source:\n%s", out)
	}
	// The rate limiter bans IPv6 clients by /64: unbanning the client's
	// own address names the network that still holds it.
	run(exitOK, "ban", "2001:db8:cafe:1::/64")
	if out := run(exitOK, "unban", "2001:db8:cafe:1::99"); !strings.Contains(out, "not banned (still banned by 2001:db8:cafe:1::/64: unban that network)") {
		t.Errorf("unban of an address in a banned network:\n%s", out)
	}
	if out := run(exitOK, "unban", "2001:db8:cafe:1::/64"); !strings.Contains(out, "unbanned") || strings.Contains(out, "not banned") {
		t.Errorf("unban of the banned network:\n%s", out)
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"status", "-h"}, {"help"}} {
		if code, out, _ := ctl(t, "", args...); code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
}
