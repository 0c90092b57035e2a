package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParseArgs: an unknown subcommand or a stray argument is a usage error
// naming it (exit 2), never a start of the daemon with the demo config.
func TestParseArgs(t *testing.T) {
	t.Setenv("EDGEGUARD_CONFIG", "")
	cases := []struct {
		name       string
		args       []string
		wantPath   string
		wantCode   int
		wantExit   bool
		wantStdout string
		wantStderr string
	}{
		{"no arguments runs the default", nil, "", 0, false, "", ""},
		{"config flag", []string{"--config", "x.yaml"}, "x.yaml", 0, false, "", ""},
		{"config flag with =", []string{"-config=x.yaml"}, "x.yaml", 0, false, "", ""},
		{"version subcommand", []string{"version"}, "", 0, true, "gatewayd dev", ""},
		{"version flag", []string{"--version"}, "", 0, true, "gatewayd dev", ""},
		{"version with an argument", []string{"version", "x"}, "", 2, true, "", `gatewayd version: unexpected argument "x"`},
		{"typo of check-config", []string{"chek-config", "x.yaml"}, "", 2, true, "", `gatewayd: unknown command "chek-config"`},
		{"extra argument", []string{"--config", "x.yaml", "extra"}, "", 2, true, "", `gatewayd: unknown argument "extra"`},
		{"unknown flag", []string{"--confg", "x.yaml"}, "", 2, true, "", "flag provided but not defined: -confg"},
		{"help flag", []string{"-h"}, "", 0, true, "gatewayd check-config FILE", ""},
		{"help word", []string{"help"}, "", 0, true, "gatewayd check-config FILE", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			path, code, exit := parseArgs(tc.args, &stdout, &stderr)
			if path != tc.wantPath || code != tc.wantCode || exit != tc.wantExit {
				t.Errorf("parseArgs(%q) = %q, %d, %v; want %q, %d, %v", tc.args, path, code, exit, tc.wantPath, tc.wantCode, tc.wantExit)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", stdout.String(), stderr.String(), tc.wantStdout, tc.wantStderr)
			}
			if code == 2 && !strings.Contains(stderr.String(), "usage:") {
				t.Errorf("usage error without the usage: %q", stderr.String())
			}
		})
	}
}

// TestBinaryRefusesUnknownCommand: the built binary exits 2 at once
// instead of starting the demo listeners.
func TestBinaryRefusesUnknownCommand(t *testing.T) {
	for _, args := range [][]string{{"chek-config", "x.yaml"}, {"--config", "x.yaml", "extra"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, gatewaydBin, args...).CombinedOutput()
		cancel()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "unknown") {
			t.Errorf("gatewayd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.Command(gatewaydBin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "gatewayd ") {
		t.Errorf("gatewayd version: %v\n%s", err, out)
	}
}

// TestCheckConfigQAFindings: check-config names each problem the QA found
// (the same checks run on start and reload: config.Load).
func TestCheckConfigQAFindings(t *testing.T) {
	base := "upstreams: [{name: api, targets: [\"127.0.0.1:9000\"]}]\nroutes: [{name: r, path: /, upstream: api}]\n"
	cases := []struct{ name, doc, want string }{
		{"duration without unit", base + "server: {request_head_timeout: 10}\n", "server.request_head_timeout: 10 has no unit; write 10s, 500ms, 1m"},
		{"case variant keys", base + "xdp: {mode: \"off\"}\nXDP: {mode: native}\n", `XDP: "xdp" (line 3) and "XDP" (line 4) differ only in case`},
		{"unknown key", base + "managment: {address: x}\n", "managment: unknown key"},
		{"unknown method", strings.Replace(base, "path: /,", "path: /, methods: [GIT],", 1), `routes[0].methods[0]: unknown HTTP method "GIT"`},
		{"int overflow", base + "server: {max_header_bytes: 99999999999999999999999}\n", "server.max_header_bytes: 99999999999999999999999 is out of range"},
		{"bad duration unit", base + "server: {read_timeout: 10x}\n", `server.read_timeout: time: unknown unit (got "10x")`},
		{"size with a unit", base + "server: {max_header_bytes: 10MB}\n", `server.max_header_bytes: cannot parse value as 'int': strconv.ParseInt: invalid syntax (got "10MB")`},
		{"case variants and an unknown key", base + "xdp: {mode: \"off\"}\nXDP: {mode: native}\nmanagment: {address: x}\n", "managment: unknown key"},
		{"management certificate missing", base + "management: {address: \"127.0.0.1:9901\", tls_cert_file: /nonexistent/m.crt, tls_key_file: /nonexistent/m.key}\n",
			"load management.tls_cert_file/tls_key_file: open /nonexistent/m.crt"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			writeConfig(t, path, tc.doc)
			out, err := exec.Command(gatewaydBin, "check-config", path).CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
				t.Fatalf("want exit 1 naming %q: %v\n%s", tc.want, err, out)
			}
			if n := strings.Count(string(out), "managment"); n > 1 {
				t.Errorf("unknown key reported %d times:\n%s", n, out)
			}
		})
	}
}
