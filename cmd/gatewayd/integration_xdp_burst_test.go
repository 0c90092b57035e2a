package main

import (
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/internal/netlab"
)

// TestXDPBurstBanPersisted runs gatewayd with XDP in a namespace and a
// client that opens connections far faster than xdp.burst.syn_rate: the
// kernel bans it after the burst, gatewayd logs, counts and persists the
// ban, a restarted gatewayd (pinned maps) still drops it, and after a
// "reboot" (program detached, pins removed: empty maps) the ban comes back
// from bans.state. A second client at a normal rate is never touched.
func TestXDPBurstBanPersisted(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2", "10.200.0.3"}, nil)
	pin := "/sys/fs/bpf/edgeguard-test-burst-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { _ = os.RemoveAll(pin) })
	state := t.TempDir()
	doc := `
listeners: [{name: public, address: "10.200.0.1:8080"}]
management: {address: "127.0.0.1:9901", state_dir: "` + state + `"}
access_log: {path: "off"}
security_events: {path: "` + filepath.Join(state, "events.jsonl") + `"}
upstreams: [{name: demo, targets: [builtin:demo]}]
routes: [{name: demo, path: /, upstream: demo}]
xdp:
  interfaces: [` + p.SrvIf + `]
  pin_path: ` + pin + `
  burst: {syn_rate: 1, syn_burst: 5, ban_duration: 1h}
`
	start := func() *gateway { return startGatewayWith(t, doc, "nsenter", "--net=/run/netns/"+p.Srv.Name) }
	stop := func(g *gateway) {
		t.Helper()
		g.signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(10 * time.Second):
			t.Fatal("gatewayd did not exit")
		}
	}
	flooder, good := netip.MustParseAddr("10.200.0.2"), netip.MustParseAddr("10.200.0.3")
	const port = 8080

	g := start()
	ok := 0
	for ok < 20 && p.Connect(t, flooder, port) {
		ok++
	}
	if ok != 5 {
		t.Fatalf("the flooder opened %d connections before being dropped, want the burst of 5", ok)
	}
	g.waitLog("burst offender banned", "10.200.0.2", `"bucket":"syn"`)
	waitEvent(t, filepath.Join(state, "events.jsonl"), map[string]any{"type": "burst_ban", "client_ip": "10.200.0.2",
		"source": "10.200.0.2", "reason": "syn_burst", "result": "ok", "count": 1})
	if !p.Connect(t, good, port) {
		t.Fatal("the well-behaved client was dropped")
	}
	metrics := nsMgmtGet(t, p.Srv, "/metrics")
	for _, want := range []string{`edgeguard_xdp_burst_bans_total{bucket="syn"} 1`, `edgeguard_xdp_packets_total{verdict="drop_burst"} 1`,
		`edgeguard_xdp_burst_kernel_bans_total 1`} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(state, "bans.state"))
		if strings.Contains(string(b), "10.200.0.2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bans.state never listed the flooder:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop(g)

	// Restart: the pinned ban map still drops the flooder.
	g = start()
	if p.Connect(t, flooder, port) {
		t.Fatal("the flooder connected after a restart")
	}
	if !p.Connect(t, good, port) {
		t.Fatal("the well-behaved client was dropped after a restart")
	}
	stop(g)

	// Reboot: nothing in the kernel, the ban comes from bans.state. The
	// pins held the last references to the link and the maps: removing
	// them detaches the program and frees the maps.
	if err := os.RemoveAll(pin); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, _ := exec.Command("ip", "-n", p.Srv.Name, "link", "show", p.SrvIf).CombinedOutput()
		if !strings.Contains(string(out), "xdp") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("program still attached with its pins removed:\n%s", out)
		}
	}
	g = start()
	g.waitLog("bans restored", `"restored":1`)
	if p.Connect(t, flooder, port) {
		t.Fatal("the flooder connected after a reboot: the ban was not restored from bans.state")
	}
	if !p.Connect(t, good, port) {
		t.Fatal("the well-behaved client was dropped after a reboot")
	}
	stop(g)
}

// nsMgmtGet reads a path from the management listener inside ns.
func nsMgmtGet(t *testing.T, ns *netlab.Netns, path string) string {
	t.Helper()
	var c net.Conn
	var err error
	ns.Do(t, func() { c, err = net.DialTimeout("tcp", "127.0.0.1:9901", 2*time.Second) })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}
