package bpf

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/internal/privileged"
)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testPinPath returns a fresh pin directory on bpffs, removed at cleanup.
func testPinPath(t testing.TB) string {
	t.Helper()
	p := "/sys/fs/bpf/edgeguard-test-" + randHex(4)
	t.Cleanup(func() { os.RemoveAll(p) })
	return p
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// openTest opens an unattached XDP with a test pin path, detached at cleanup.
func openTest(t testing.TB) *XDP {
	t.Helper()
	privileged.Require(t)
	x, err := Open(Options{PinPath: testPinPath(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { x.Detach() })
	return x
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// netns is a network namespace created for one test.
type netns struct {
	name string
}

func newNetns(t testing.TB, tag string) *netns {
	t.Helper()
	n := &netns{name: "eg-" + tag + "-" + randHex(3)}
	run(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
	run(t, "ip", "-n", n.name, "link", "set", "lo", "up")
	return n
}

func (n *netns) ip(t testing.TB, args ...string) {
	t.Helper()
	run(t, "ip", append([]string{"-n", n.name}, args...)...)
}

// do runs f on an OS thread that has entered the namespace. Sockets and
// links created in f stay in the namespace. Nothing in f may start
// goroutines that need the namespace.
func (n *netns) do(t testing.TB, f func()) {
	t.Helper()
	if err := enterNetns(n.name, f); err != nil {
		t.Fatal(err)
	}
}

func enterNetns(name string, f func()) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return fmt.Errorf("open current netns: %w", err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + name)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter netns %s: %w", name, err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			panic("restore netns: " + err.Error()) // the thread is unusable
		}
	}()
	f()
	return nil
}

// vethPair is a server namespace and a client namespace joined by a veth
// pair, with static neighbour entries so that no ARP/ND exchange depends on
// the filter.
type vethPair struct {
	srv, cli       *netns
	srvIf, cliIf   string
	srvV4, srvV6   netip.Addr
	cliV4s, cliV6s []netip.Addr
}

const (
	srvMAC = "02:00:00:00:01:01"
	cliMAC = "02:00:00:00:01:02"
)

func newVethPair(t testing.TB, cliV4, cliV6 []string) *vethPair {
	t.Helper()
	privileged.Require(t)
	tag := randHex(2)
	p := &vethPair{
		srv: newNetns(t, "s"), cli: newNetns(t, "c"),
		srvIf: "egs" + tag, cliIf: "egc" + tag,
		srvV4: netip.MustParseAddr("10.200.0.1"), srvV6: netip.MustParseAddr("fd00:200::1"),
	}
	run(t, "ip", "link", "add", p.srvIf, "netns", p.srv.name, "address", srvMAC, "type", "veth",
		"peer", "name", p.cliIf, "netns", p.cli.name, "address", cliMAC)
	p.srv.ip(t, "addr", "add", "10.200.0.1/24", "dev", p.srvIf)
	p.srv.ip(t, "addr", "add", "fd00:200::1/64", "dev", p.srvIf, "nodad")
	p.cli.ip(t, "neigh", "replace", "10.200.0.1", "lladdr", srvMAC, "dev", p.cliIf, "nud", "permanent")
	p.cli.ip(t, "neigh", "replace", "fd00:200::1", "lladdr", srvMAC, "dev", p.cliIf, "nud", "permanent")
	for _, a := range cliV4 {
		p.cli.ip(t, "addr", "add", a+"/24", "dev", p.cliIf)
		p.srv.ip(t, "neigh", "replace", a, "lladdr", cliMAC, "dev", p.srvIf, "nud", "permanent")
		p.cliV4s = append(p.cliV4s, netip.MustParseAddr(a))
	}
	for _, a := range cliV6 {
		p.cli.ip(t, "addr", "add", a+"/64", "dev", p.cliIf, "nodad")
		p.srv.ip(t, "neigh", "replace", a, "lladdr", cliMAC, "dev", p.srvIf, "nud", "permanent")
		p.cliV6s = append(p.cliV6s, netip.MustParseAddr(a))
	}
	p.srv.ip(t, "link", "set", p.srvIf, "up")
	p.cli.ip(t, "link", "set", p.cliIf, "up")
	return p
}

// listen starts a TCP server in the server namespace that accepts and
// closes connections; it returns the port.
func (p *vethPair) listen(t testing.TB) int {
	t.Helper()
	var ln net.Listener
	var err error
	p.srv.do(t, func() { ln, err = net.Listen("tcp", ":0") })
	if err != nil {
		t.Fatalf("listen in %s: %v", p.srv.name, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// connectTimeout bounds one connection attempt; a dropped SYN is only
// retransmitted after 1 s, so every failed attempt sends exactly one SYN.
const connectTimeout = 300 * time.Millisecond

// connect dials the server from src inside the client namespace and reports
// whether the handshake completed.
func (p *vethPair) connect(t testing.TB, src netip.Addr, port int) bool {
	t.Helper()
	dst := p.srvV4
	if src.Is6() {
		dst = p.srvV6
	}
	var c net.Conn
	var err error
	p.cli.do(t, func() {
		d := net.Dialer{Timeout: connectTimeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
		c, err = d.Dial("tcp", netip.AddrPortFrom(dst, uint16(port)).String())
	})
	if err == nil {
		c.Close()
		return true
	}
	var nerr net.Error
	if !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Fatalf("connect from %v: unexpected error %v", src, err)
	}
	return false
}
