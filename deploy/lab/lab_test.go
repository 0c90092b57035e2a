package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/internal/netlab"
	"github.com/edgeguard/edgeguard/internal/privileged"
)

// The lab's tests run the real lab, gatewayd and gatewayctl binaries as an
// operator would, each lab under a name of its own.

var (
	binDir string
	labs   int // labs made by this test process, for unique names
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lab-test")
	if err != nil {
		panic(err)
	}
	binDir = dir
	for pkg, out := range map[string]string{"../../cmd/gatewayd": "gatewayd", "../../cmd/gatewayctl": "gatewayctl", ".": "lab"} {
		if b, err := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type lab struct {
	t   *testing.T
	l   *netlab.Lab
	bin string
}

// newLab names a lab for this test and removes it at the end, whatever
// happened.
func newLab(t *testing.T, bin string) *lab {
	privileged.Require(t)
	labs++
	name := "eglt" + strconv.Itoa(os.Getpid()%100000) + "-" + strconv.Itoa(labs)
	l := &lab{t: t, bin: bin, l: &netlab.Lab{Name: name, Dir: filepath.Join(t.TempDir(), "lab"),
		Gatewayd: filepath.Join(bin, "gatewayd"), Gatewayctl: filepath.Join(bin, "gatewayctl")}}
	t.Cleanup(func() { _ = l.l.Down() })
	return l
}

// run runs the lab command and returns its exit code and output.
func (l *lab) run(args ...string) (int, string) {
	l.t.Helper()
	argv := append([]string{"--name", l.l.Name, "--dir", l.l.Dir, "--bin", l.bin}, args...)
	out, err := exec.Command(filepath.Join(binDir, "lab"), argv...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		l.t.Fatalf("lab %v: %v", args, err)
	}
	return 0, string(out)
}

func (l *lab) must(args ...string) string {
	l.t.Helper()
	code, out := l.run(args...)
	if code != 0 {
		l.t.Fatalf("lab %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// TestLab brings the lab up, sends a request through the gateway from the
// client namespace, pushes a blocklist from the management side that makes
// one client's packets drop at XDP (the other client still passes),
// upgrades gatewayd in place, and takes the lab down leaving nothing behind:
// no namespace, process, pin or file.
func TestLab(t *testing.T) {
	l := newLab(t, binDir)
	if out := l.must("up"); !strings.Contains(out, "gatewayd is ready") {
		t.Fatalf("lab up:\n%s", out)
	}
	if code, out := l.run("up"); code == 0 || !strings.Contains(out, "up already") {
		t.Errorf("second lab up: exit %d\n%s", code, out)
	}
	if out := l.must("curl", "/hello"); !strings.Contains(out, "200 lab upstream: GET /hello from 10.77.1.2") {
		t.Errorf("request through the gateway: %s", out)
	}
	st, err := l.l.Status()
	if err != nil || !st.Up() || !strings.HasPrefix(st.XDP, "prog/xdp") {
		t.Fatalf("status after up: %+v %v", st, err)
	}

	list := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(list, []byte("# lab test\n10.77.1.3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := l.must("ctl", "blocklist", "push", list); !strings.Contains(out, "ok") {
		t.Errorf("blocklist push: %s", out)
	}
	before, err := l.l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if code, out := l.run("curl", "--from", "10.77.1.3", "--timeout", "300ms", "/"); code == 0 || !strings.Contains(out, "timeout") {
		t.Errorf("blocklisted client: exit %d %s, want a timeout (dropped)", code, out)
	}
	// The counters in the metrics may be up to 500 ms old.
	var after map[string]int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if after, err = l.l.Counters(); err != nil {
			t.Fatal(err)
		}
		if after["drop_blocklist"] > before["drop_blocklist"] {
			break
		}
	}
	if after["drop_blocklist"] <= before["drop_blocklist"] {
		t.Errorf("drop_blocklist %d -> %d: XDP did not drop the blocklisted client", before["drop_blocklist"], after["drop_blocklist"])
	}
	if out := l.must("curl", "/still"); !strings.HasPrefix(out, "200 ") {
		t.Errorf("the other client after the push: %s", out)
	}
	// A flood past xdp.burst (100 at once) is banned in the kernel.
	out := l.must("flood", "--count", "200", "--rate", "400")
	var connected, dropped int
	if _, err := fmt.Sscanf(out, "flood from 10.77.1.5: %d connected, %d timed out", &connected, &dropped); err != nil ||
		connected < 100 || connected > 150 || dropped == 0 {
		t.Errorf("flood: %q (%v): want the burst of 100 (plus refill) connected, the rest dropped", out, err)
	}
	if out := l.must("ctl", "bans"); !strings.Contains(out, "10.77.1.5") {
		t.Errorf("the flooder is not banned:\n%s", out)
	}
	if out := l.must("watch", "--count", "1", "--every", "600ms"); !strings.Contains(out, "drop_burst") {
		t.Errorf("lab watch: %s", out)
	}
	if out := l.must("upgrade"); !strings.Contains(out, "which serves") {
		t.Errorf("lab upgrade: %s", out)
	}
	if code, _ := l.run("curl", "--from", "10.77.1.3", "--timeout", "300ms", "/"); code == 0 {
		t.Error("the blocklist did not survive the upgrade")
	}
	if out := l.must("curl", "/after"); !strings.HasPrefix(out, "200 ") {
		t.Errorf("request after the upgrade: %s", out)
	}

	var pids []int
	for _, p := range st.Namespaces {
		pids = append(pids, p...)
	}
	pids = append(pids, l.l.GatewaydPid())
	l.must("down")
	assertGone(t, l.l, pids)
	if out := l.must("down"); strings.Contains(out, "deleted") {
		t.Errorf("second down did something: %s", out)
	}
	if out := l.must("status"); !strings.Contains(out, "nothing left") {
		t.Errorf("status after down: %s", out)
	}
}

// TestLabUpFailure: when gatewayd cannot start, up removes everything it
// made and says why.
func TestLabUpFailure(t *testing.T) {
	bad := t.TempDir()
	for name, script := range map[string]string{"gatewayd": "echo gatewayd refuses to start >&2; exit 1", "gatewayctl": `case "$2" in new) echo egt_fake ;; hash) echo sha256:00 ;; esac`} {
		if err := os.WriteFile(filepath.Join(bad, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l := newLab(t, bad)
	code, out := l.run("up")
	if code == 0 || !strings.Contains(out, "gatewayd refuses to start") || !strings.Contains(out, "removing what it made") {
		t.Fatalf("lab up with a failing gatewayd: exit %d\n%s", code, out)
	}
	assertGone(t, l.l, nil)
}

func assertGone(t *testing.T, l *netlab.Lab, pids []int) {
	t.Helper()
	st, err := l.Status()
	if err != nil || !st.Empty() {
		t.Errorf("left behind: %+v %v", st, err)
	}
	out, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	if strings.Contains(string(out), l.Name+"-") {
		t.Errorf("namespaces left:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, pid := range pids {
		for ctx.Err() == nil && syscall.Kill(pid, 0) == nil && !zombie(pid) {
			time.Sleep(20 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil && !zombie(pid) {
			t.Errorf("process %d still runs", pid)
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
}
