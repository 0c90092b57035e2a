package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/internal/netlab"
)

// TestUpgradeKeepsDropping upgrades gatewayd (SIGUSR2) with XDP on a veth
// while a blocklisted source and an allowed one each send a UDP datagram
// every millisecond to the gateway's namespace: not one blocklisted datagram
// reaches the gateway's stack before, during or after the hand-over, the
// allowed ones keep arriving, and the new process adopts the pinned program
// link and maps (the program is swapped in place, never detached). The
// management Unix socket is handed over too.
func TestUpgradeKeepsDropping(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2", "10.200.0.3"}, nil)
	pin := "/sys/fs/bpf/edgeguard-test-upgrade-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { _ = os.RemoveAll(pin) })
	sock := filepath.Join(t.TempDir(), "mgmt.sock")
	doc := `
listeners: [{name: public, address: "10.200.0.1:8080"}]
management: {address: "off", unix_socket: "` + sock + `", state_dir: "` + t.TempDir() + `"}
access_log: {path: "off"}
server: {shutdown_grace: 5s}
upstreams: [{name: demo, targets: [builtin:demo]}]
routes: [{name: demo, path: /, upstream: demo}]
xdp: {interfaces: [` + p.SrvIf + `], pin_path: ` + pin + `}
`
	g := startGatewayWith(t, doc, "nsenter", "--net=/run/netns/"+p.Srv.Name)
	if code, out := runCtlToken(t, "", "--target", "unix:"+sock, "blocklist", "add", "10.200.0.2"); code != 0 {
		t.Fatalf("blocklist add: exit %d\n%s", code, out)
	}

	// The gateway's namespace counts datagrams per source.
	var rx net.PacketConn
	var err error
	p.Srv.Do(t, func() { rx, err = net.ListenPacket("udp4", "10.200.0.1:9999") })
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	var got sync.Map // source address -> *atomic.Int64
	count := func(src string) int64 {
		v, _ := got.LoadOrStore(src, new(atomic.Int64))
		return v.(*atomic.Int64).Load()
	}
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := rx.ReadFrom(buf)
			if err != nil {
				return
			}
			v, _ := got.LoadOrStore(from.(*net.UDPAddr).AddrPort().Addr().String(), new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}
	}()
	// The client namespace sends from both sources, one datagram each per
	// millisecond, for at most 20 s.
	var senders []*net.UDPConn
	for _, src := range []string{"10.200.0.2", "10.200.0.3"} {
		var c *net.UDPConn
		p.Cli.Do(t, func() {
			c, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(src+":0")),
				net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.200.0.1:9999")))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		senders = append(senders, c)
	}
	var sent atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, c := range senders {
				_, _ = c.Write([]byte("probe"))
			}
			sent.Add(1)
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	}()
	waitFor(t, "allowed datagrams to arrive", func() bool { return count("10.200.0.3") > 100 })

	old := g.cmd.Process.Pid
	allowedBefore := count("10.200.0.3")
	g.signal(syscall.SIGUSR2)
	g.waitLog("took over from the previous gatewayd")
	successor := stopSuccessor(t, g)
	waitFor(t, "the old gatewayd to exit", func() bool { return processGone(old) })
	afterExit := sent.Load()
	waitFor(t, "datagrams after the old gatewayd exited", func() bool { return sent.Load() > afterExit+200 })
	close(stop)
	<-done
	time.Sleep(50 * time.Millisecond) // the last datagrams in flight

	if n := count("10.200.0.2"); n != 0 {
		t.Errorf("%d datagrams from the blocklisted source reached the gateway (of %d sent)", n, sent.Load())
	}
	if count("10.200.0.3") < allowedBefore+200 {
		t.Errorf("allowed source: %d datagrams before the upgrade, %d in all: traffic stopped during the hand-over",
			allowedBefore, count("10.200.0.3"))
	}
	logs := g.logs()
	takeover := logs[strings.Index(logs, "taking over from the running gatewayd"):]
	if !strings.Contains(takeover, "re-used pinned xdp link; program updated in place") || strings.Contains(takeover, `"msg":"attached xdp"`) {
		t.Errorf("the successor did not adopt the pinned link in place:\n%s", takeover)
	}
	// The pinned counters went on: every blocklisted datagram was counted.
	metrics := unixGet(t, sock, "/metrics")
	m := regexp.MustCompile(`edgeguard_xdp_packets_total\{verdict="drop_blocklist"\} (\d+)`).FindStringSubmatch(metrics)
	if m == nil {
		t.Fatalf("no drop_blocklist counter in the metrics:\n%s", metrics)
	}
	if drops, _ := strconv.ParseInt(m[1], 10, 64); drops < sent.Load() {
		t.Errorf("drop_blocklist counter %v, want >= %d datagrams sent", m, sent.Load())
	}
	// The successor owns the Unix socket it took over: its path goes when
	// it stops, as if it had bound it itself.
	if err := syscall.Kill(successor, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the successor did not exit")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("management socket %s left behind: %v", sock, err)
	}
	t.Logf("%d datagrams from each source; %d allowed ones arrived, no blocklisted one", sent.Load(), count("10.200.0.3"))
}

// unixGet makes a management call over a Unix socket (root: no token).
func unixGet(t *testing.T, sock, path string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://mgmt" + path)
	if err != nil {
		t.Fatalf("GET %s over %s: %v", path, sock, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}
