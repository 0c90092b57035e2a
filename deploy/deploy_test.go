// Package deploy_test checks what deploy/ ships: the example configurations
// pass gatewayd check-config, the systemd unit passes systemd-analyze verify
// and installs and uninstalls with make, and gatewayd runs (XDP attach
// included) with exactly the unit's capabilities and nothing else.
package deploy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
	"github.com/edgeguard/edgeguard/internal/netlab"
	"github.com/edgeguard/edgeguard/internal/privileged"
)

var binDir string // gatewayd and gatewayctl, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deploy-test")
	if err != nil {
		panic(err)
	}
	binDir = dir
	out, err := exec.Command("go", "build", "-o", dir+"/", "../cmd/gatewayd", "../cmd/gatewayctl").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func gatewayd() string { return filepath.Join(binDir, "gatewayd") }

// TestExampleConfigs: every example passes check-config where it would be
// installed (relative paths next to it), with the files it names.
func TestExampleConfigs(t *testing.T) {
	examples, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(examples) < 3 {
		t.Fatalf("examples: %v %v", examples, err)
	}
	for _, ex := range examples {
		t.Run(filepath.Base(ex), func(t *testing.T) {
			etc := t.TempDir()
			b, err := os.ReadFile(ex)
			if err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(etc, "gatewayd.yaml")
			if err := os.WriteFile(cfg, b, 0o600); err != nil {
				t.Fatal(err)
			}
			// The certificates an edge host keeps in /etc/edgeguard/tls.
			if err := os.Mkdir(filepath.Join(etc, "tls"), 0o700); err != nil {
				t.Fatal(err)
			}
			ca := certtest.NewCA(t, "example CA")
			ca.Server(t).WriteFiles(t, filepath.Join(etc, "tls"), "server")
			ca.Server(t).WriteFiles(t, filepath.Join(etc, "tls"), "mgmt")
			cmd := exec.Command(gatewayd(), "check-config", cfg)
			cmd.Dir = t.TempDir() // relative paths follow the file, not the working directory
			cmd.Env = append(os.Environ(), "EDGEGUARD_CONFIG=")
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "OK") {
				t.Fatalf("check-config %s: %v\n%s", ex, err, out)
			}
		})
	}
}

// TestInstallUninstall installs into a DESTDIR, verifies the installed unit
// with systemd-analyze where it is available, and uninstalls.
func TestInstallUninstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dest := t.TempDir()
	makeIn := func(target string, vars ...string) string {
		t.Helper()
		// -o build: the binaries TestMain built are installed, not rebuilt.
		args := append([]string{"-C", "..", "-o", "build", target, "DESTDIR=" + dest, "PREFIX=/usr/local", "BIN=" + binDir}, vars...)
		out, err := exec.Command("make", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
		return string(out)
	}
	makeIn("install")
	for _, f := range []string{
		"usr/local/bin/gatewayd", "usr/local/bin/gatewayctl", "usr/local/lib/systemd/system/edgeguard.service",
		"usr/local/lib/sysusers.d/edgeguard.conf", "usr/local/share/doc/edgeguard/examples/edge-host.yaml",
		"etc/edgeguard/gatewayd.yaml", "var/lib/edgeguard",
	} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if st, err := os.Stat(filepath.Join(dest, "var/lib/edgeguard")); err == nil && st.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, want 0700", st.Mode().Perm())
	}
	unit := filepath.Join(dest, "usr/local/lib/systemd/system/edgeguard.service")
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		// Verify the installed unit with its commands where DESTDIR put them.
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		local := filepath.Join(dir, "edgeguard.service")
		if err := os.WriteFile(local, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/", dest+"/usr/local/bin/")), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", "--man=no", local).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	} else {
		t.Log("systemd-analyze not installed: unit not verified (apt-get install systemd)")
	}
	// A changed configuration survives uninstall; everything else goes.
	cfg := filepath.Join(dest, "etc/edgeguard/gatewayd.yaml")
	if err := os.WriteFile(cfg, []byte("# mine\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	out := makeIn("uninstall")
	if !strings.Contains(out, "kept /etc/edgeguard") {
		t.Errorf("uninstall does not say what it kept:\n%s", out)
	}
	var left []string
	_ = filepath.Walk(dest, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			left = append(left, strings.TrimPrefix(p, dest))
		}
		return nil
	})
	if len(left) != 1 || left[0] != "/etc/edgeguard/gatewayd.yaml" {
		t.Errorf("after uninstall: %q, want only the changed config", left)
	}
	makeIn("uninstall", "PURGE=1")
	if _, err := os.Stat(filepath.Join(dest, "etc/edgeguard")); !os.IsNotExist(err) {
		t.Errorf("PURGE=1 left /etc/edgeguard: %v", err)
	}
}

// unitCaps returns the unit's AmbientCapabilities, which must equal its
// CapabilityBoundingSet.
func unitCaps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("systemd/edgeguard.service")
	if err != nil {
		t.Fatal(err)
	}
	get := func(key string) string {
		m := regexp.MustCompile(`(?m)^` + key + `=(.*)$`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("unit has no %s", key)
		}
		return m[1]
	}
	if a, c := get("AmbientCapabilities"), get("CapabilityBoundingSet"); a != c {
		t.Fatalf("AmbientCapabilities %q != CapabilityBoundingSet %q", a, c)
	}
	return strings.Fields(get("AmbientCapabilities"))
}

// capBits are the capability numbers of linux/capability.h the unit uses.
var capBits = map[string]uint{"CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21, "CAP_PERFMON": 38, "CAP_BPF": 39}

// TestSystemdCapabilities runs gatewayd as the unit does, as an
// unprivileged user with exactly the unit's capabilities (setpriv; ambient,
// inheritable and bounding sets, no new privileges), with a data listener
// on port 80 and XDP in native mode on a veth in a test namespace, the pin
// directory a bpffs the user owns (what the unit's ExecStartPre and
// BindPaths provide). It then drops each XDP capability in turn and expects
// the start to fail, so the list stays the least that works.
func TestSystemdCapabilities(t *testing.T) {
	privileged.Require(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal("setpriv (util-linux) is needed")
	}
	caps := unitCaps(t)
	p := netlab.NewVethPair(t, []string{"10.200.0.2"}, nil)
	const uid = 61234 // no such user: like DynamicUser, nothing else runs as it
	root := t.TempDir()
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil { // the user must reach its directories
			t.Fatal(err)
		}
	}
	pin := filepath.Join(root, "bpf")
	state := filepath.Join(root, "state")
	for _, d := range []string{pin, state} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("bpffs", pin, "bpf", 0, "mode=0700"); err != nil {
		t.Fatalf("mount bpffs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(pin, syscall.MNT_DETACH) })
	for _, d := range []string{pin, state} {
		if err := os.Chown(d, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(root, "gatewayd.yaml")
	doc := `
listeners: [{name: http, address: "10.200.0.1:80"}]
management: {address: "127.0.0.1:9901", state_dir: ` + state + `}
access_log: {path: "off"}
upstreams: [{name: demo, targets: [builtin:demo]}]
routes: [{name: demo, path: /, upstream: demo}]
xdp: {mode: native, interfaces: [` + p.SrvIf + `], pin_path: ` + pin + `}
`
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "gatewayd")
	if b, err := os.ReadFile(gatewayd()); err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatalf("copy gatewayd: %v", err)
	}

	var (
		laterMu sync.Mutex
		later   strings.Builder // what gatewayd logs once started
	)
	// start runs gatewayd with caps and returns its log once it is ready or
	// has exited, and the process (nil once exited).
	start := func(caps []string) (string, *os.Process) {
		t.Helper()
		set := "-all"
		for _, c := range caps {
			set += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
		}
		cmd := exec.Command("nsenter", "--net=/run/netns/"+p.Srv.Name, "setpriv",
			"--reuid", strconv.Itoa(uid), "--regid", strconv.Itoa(uid), "--clear-groups",
			"--inh-caps="+set, "--ambient-caps="+set, "--bounding-set="+set, "--no-new-privs",
			bin, "--config", cfg)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var log strings.Builder
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					_ = cmd.Wait()
					return log.String(), nil
				}
				log.WriteString(l + "\n")
				if strings.Contains(l, "management listener started") {
					go func() { // keep reading: a successor logs here too
						for l := range lines {
							laterMu.Lock()
							later.WriteString(l + "\n")
							laterMu.Unlock()
						}
					}()
					t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
					return log.String(), cmd.Process
				}
			case <-deadline:
				_ = cmd.Process.Kill()
				t.Fatalf("gatewayd neither started nor exited:\n%s", log.String())
			}
		}
	}

	log, proc := start(caps)
	if proc == nil {
		t.Fatalf("gatewayd with %v did not start:\n%s", caps, log)
	}
	if !strings.Contains(log, `"msg":"xdp ready","component":"xdp","mode":"native"`) {
		t.Errorf("XDP not attached in native mode:\n%s", log)
	}
	// The process holds exactly the unit's capabilities, as the unit user.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", proc.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, c := range caps {
		bit, ok := capBits[c]
		if !ok {
			t.Fatalf("test does not know %s", c)
		}
		want |= 1 << bit
	}
	for _, field := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb"} {
		m := regexp.MustCompile(`(?m)^` + field + `:\s*([0-9a-f]+)$`).FindSubmatch(status)
		if m == nil {
			t.Fatalf("no %s in /proc/PID/status", field)
		}
		if got, _ := strconv.ParseUint(string(m[1]), 16, 64); got != want {
			t.Errorf("%s = %#x, want %#x (%v)", field, got, want, caps)
		}
	}
	if m := regexp.MustCompile(`(?m)^Uid:\s*(\d+)`).FindSubmatch(status); m == nil || string(m[1]) != strconv.Itoa(uid) {
		t.Errorf("Uid line %q, want %d", m, uid)
	}
	// Served over the veth, through XDP.
	var code int
	p.Cli.Do(t, func() { code = httpGet(t, "10.200.0.1:80") })
	if code != 200 {
		t.Errorf("GET through the veth: %d", code)
	}

	// An upgrade (SIGUSR2) works with these capabilities alone: the new
	// process inherits them (ambient), reopens the pins and swaps its
	// program into the pinned link, and serves on the sockets handed over.
	if err := proc.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	// The successor is the pid the old process hands over to: it also
	// runs short-lived children of the same name (asking the new binary
	// its version), which a look at its children could catch instead.
	successor := 0
	handedOver := regexp.MustCompile(`"successor_pid":(\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for successor == 0 && time.Now().Before(deadline) {
		laterMu.Lock()
		m := handedOver.FindStringSubmatch(later.String())
		laterMu.Unlock()
		if m != nil {
			successor, _ = strconv.Atoi(m[1])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if successor == 0 {
		t.Fatal("no hand-over to a successor gatewayd after SIGUSR2")
	}
	t.Cleanup(func() { _ = syscall.Kill(successor, syscall.SIGKILL) })
	for exited := false; !exited && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var st syscall.WaitStatus
		pid, _ := syscall.Wait4(proc.Pid, &st, syscall.WNOHANG, nil)
		exited = pid == proc.Pid
	}
	laterMu.Lock()
	upgradeLog := later.String()
	laterMu.Unlock()
	if !strings.Contains(upgradeLog, "took over from the previous gatewayd") ||
		!strings.Contains(upgradeLog, "re-used pinned xdp link; program updated in place") {
		t.Errorf("upgrade under the unit's capabilities:\n%s", upgradeLog)
	}
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", successor)); err != nil {
		t.Errorf("successor: %v\n%s", err, upgradeLog)
	} else if m := regexp.MustCompile(`(?m)^CapEff:\s*([0-9a-f]+)$`).FindSubmatch(status); m == nil {
		t.Error("no CapEff of the successor")
	} else if got, _ := strconv.ParseUint(string(m[1]), 16, 64); got != want {
		t.Errorf("successor CapEff = %#x, want %#x", got, want)
	}
	p.Cli.Do(t, func() { code = httpGet(t, "10.200.0.1:80") })
	if code != 200 {
		t.Errorf("GET through the veth after the upgrade: %d", code)
	}
	_ = syscall.Kill(successor, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", successor)); err != nil {
			break
		}
	}
	time.Sleep(100 * time.Millisecond)

	for _, drop := range []string{"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"} {
		var fewer []string
		for _, c := range caps {
			if c != drop {
				fewer = append(fewer, c)
			}
		}
		clearPins(t, pin) // unpinning the link detaches the program
		log, proc := start(fewer)
		if proc != nil {
			t.Errorf("gatewayd started without %s: the unit grants more than it needs\n%s", drop, log)
			_ = proc.Kill()
		} else if !strings.Contains(log, "load XDP") {
			t.Errorf("without %s: failed for another reason:\n%s", drop, log)
		}
	}
}

// clearPins removes what a run pinned (the bpffs' own debug files stay).
func clearPins(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".debug") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func httpGet(t *testing.T, addr string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Errorf("dial %s: %v", addr, err)
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"); err != nil {
		return 0
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}
