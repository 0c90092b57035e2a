package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTune(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "gw.yaml")
	doc := "xdp: {interfaces: [lo, nosuch0]}\nupstreams: [{name: a, targets: [\"127.0.0.1:1\"]}]\nroutes: [{name: r, path: /, upstream: a}]\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := tune([]string{cfg}, &out, &errb); code != 0 {
		t.Fatalf("tune: exit %d\n%s", code, errb.String())
	}
	for _, want := range []string{
		"net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies", "net.core.rmem_max",
		"net.core.wmem_max", "RLIMIT_NOFILE", "lo XDP", "lo rx queues", "nosuch0", "does not exist",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("tune output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := tune([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "usage: gatewayd tune") {
		t.Errorf("tune -h: exit %d\n%s", code, out.String())
	}
	if code := tune([]string{filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errb); code != 1 {
		t.Errorf("tune of a missing file: exit %d", code)
	}
}
