package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTuneCommand runs `gatewayd tune` as an operator would; the report
// itself is tested in internal/tune.
func TestTuneCommand(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "gw.yaml")
	writeConfig(t, cfg, "xdp: {interfaces: [lo, nosuch0]}\nupstreams: [{name: a, targets: [\"127.0.0.1:1\"]}]\nroutes: [{name: r, path: /, upstream: a}]\n")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"config", []string{cfg}, 0, "nosuch0"},
		{"help", []string{"-h"}, 0, "usage: gatewayd tune"},
		{"missing file", []string{filepath.Join(t.TempDir(), "missing.yaml")}, 1, "missing.yaml"},
		{"two files", []string{cfg, cfg}, 2, "usage: gatewayd tune"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(gatewaydBin, append([]string{"tune"}, tc.args...)...).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q?\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}
