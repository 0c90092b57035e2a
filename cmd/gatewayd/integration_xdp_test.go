package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/internal/netlab"
)

type enforcerStatus struct {
	Enforcer struct {
		Mode     string `json:"mode"`
		Fallback bool   `json:"fallback"`
		Why      string `json:"fallback_reason"`
	} `json:"enforcer"`
}

// TestUserspaceFallbackReported checks that without XDP the daemon runs and
// says, in status and metrics, that the user-space filter is active.
func TestUserspaceFallbackReported(t *testing.T) {
	up := startUpstream(t, "api", nil)
	g := startGateway(t, baseConfig("  - name: api\n    targets: ["+up.addr()+"]\n", "  - name: r\n    path: /\n    upstream: api\n"))
	if r := g.do(t, "GET", "/"); r.status != 200 {
		t.Fatalf("proxying with the fallback filter: %d", r.status)
	}
	_, body, err := fasthttp.Get(nil, "http://"+g.mgmt+"/status")
	if err != nil {
		t.Fatal(err)
	}
	var st enforcerStatus
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if !st.Enforcer.Fallback || st.Enforcer.Mode != "userspace" || !strings.Contains(st.Enforcer.Why, "xdp.interfaces") {
		t.Errorf("status enforcer = %+v, want the user-space fallback with its reason", st.Enforcer)
	}
	if !strings.Contains(g.metrics(t), "edgeguard_enforcer_fallback_active 1") {
		t.Error("metric edgeguard_enforcer_fallback_active 1 missing")
	}
}

// TestXDPInNamespace runs gatewayd inside a network namespace with XDP on
// its veth: the program attaches in native mode, traffic from the client
// namespace is proxied and counted by XDP, and the program stays attached
// after gatewayd exits (pinned), so filtering survives a restart.
func TestXDPInNamespace(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2"}, nil)
	pin := "/sys/fs/bpf/edgeguard-test-gw-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { _ = os.RemoveAll(pin) })
	doc := `
listeners: [{name: public, address: "10.200.0.1:8080"}]
management: {address: "127.0.0.1:9901"}
access_log: {path: "off"}
upstreams:
  - name: demo
    targets: [builtin:demo]
routes:
  - name: demo
    path: /
    upstream: demo
xdp:
  mode: auto
  interfaces: [` + p.SrvIf + `]
  pin_path: ` + pin + `
`
	g := startGatewayWith(t, doc, "nsenter", "--net=/run/netns/"+p.Srv.Name)

	get := func(ns *netlab.Netns, addr, path string) (int, string) {
		t.Helper()
		var c net.Conn
		var err error
		ns.Do(t, func() { c, err = net.DialTimeout("tcp", addr, 2*time.Second) })
		if err != nil {
			t.Fatalf("dial %s from %s: %v", addr, ns.Name, err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("GET %s%s: %v", addr, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	status, body := get(p.Srv, "127.0.0.1:9901", "/status")
	var st enforcerStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil || status != 200 {
		t.Fatalf("status %d %q: %v", status, body, err)
	}
	if st.Enforcer.Mode != "native" || st.Enforcer.Fallback {
		t.Fatalf("enforcer = %+v, want native XDP\n%s", st.Enforcer, g.logs())
	}
	for i := 0; i < 3; i++ {
		if status, body := get(p.Cli, "10.200.0.1:8080", "/hello"); status != 200 || !strings.Contains(body, "demo upstream") {
			t.Fatalf("request from the client namespace: %d %q", status, body)
		}
	}
	_, metrics := get(p.Srv, "127.0.0.1:9901", "/metrics")
	m := regexp.MustCompile(`edgeguard_xdp_packets_total\{verdict="pass"\} (\d+)`).FindStringSubmatch(metrics)
	if m == nil || m[1] == "0" {
		t.Errorf("XDP pass counter missing or zero: %v", m)
	}

	g.signal(syscall.SIGTERM)
	select {
	case err := <-g.exited:
		if err != nil {
			t.Fatalf("gatewayd exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gatewayd did not exit")
	}
	out, err := exec.Command("ip", "-n", p.Srv.Name, "link", "show", p.SrvIf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "xdp") {
		t.Errorf("XDP program should stay attached after gatewayd exits:\n%s", out)
	}
}
