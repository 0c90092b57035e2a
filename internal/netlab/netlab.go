// Package netlab builds throwaway network labs out of network namespaces
// and veth pairs: small ones for privileged tests (Netns, VethPair), which
// a test creates and removes itself, and the one-machine edge topology of
// deploy/lab (Lab), which its tests reuse. Traffic never leaves the
// machine: it creates interfaces only inside namespaces of its own, never
// changes the host's, and removes only what it created.
package netlab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

// Run runs a command and fails the test if it fails.
func Run(t testing.TB, name string, args ...string) {
	t.Helper()
	if err := run(name, args...); err != nil {
		t.Fatal(err)
	}
}

// run runs a command; its error names the command and holds its output.
func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// addNetns creates the named network namespace with loopback up.
func addNetns(name string) error {
	if err := run("ip", "netns", "add", name); err != nil {
		return err
	}
	return run("ip", "-n", name, "link", "set", "lo", "up")
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Netns is a network namespace created for one test.
type Netns struct {
	Name string
}

// NewNetns creates a namespace named after tag that the test's cleanup
// deletes.
func NewNetns(t testing.TB, tag string) *Netns {
	t.Helper()
	n := &Netns{Name: "eg-" + tag + "-" + randHex(3)}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Name).Run() })
	if err := addNetns(n.Name); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *Netns) IP(t testing.TB, args ...string) {
	t.Helper()
	Run(t, "ip", append([]string{"-n", n.Name}, args...)...)
}

// Do runs f on an OS thread that has entered the namespace. Sockets and
// links created in f stay in the namespace. Nothing in f may start
// goroutines that need the namespace.
func (n *Netns) Do(t testing.TB, f func()) {
	t.Helper()
	if err := Enter(n.Name, f); err != nil {
		t.Fatal(err)
	}
}

// Enter runs f on an OS thread inside the named namespace (/run/netns/name).
func Enter(name string, f func()) error {
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

// VethPair is a server namespace and a client namespace joined by a veth
// pair, with static neighbour entries so that no ARP/ND exchange depends on
// the filter.
type VethPair struct {
	Srv, Cli       *Netns
	SrvIf, CliIf   string
	SrvV4, SrvV6   netip.Addr
	CliV4s, CliV6s []netip.Addr
}

const (
	srvMAC = "02:00:00:00:01:01"
	cliMAC = "02:00:00:00:01:02"
)

func NewVethPair(t testing.TB, cliV4, cliV6 []string) *VethPair {
	t.Helper()
	privileged.Require(t)
	tag := randHex(2)
	p := &VethPair{
		Srv: NewNetns(t, "s"), Cli: NewNetns(t, "c"),
		SrvIf: "egs" + tag, CliIf: "egc" + tag,
		SrvV4: netip.MustParseAddr("10.200.0.1"), SrvV6: netip.MustParseAddr("fd00:200::1"),
	}
	Run(t, "ip", "link", "add", p.SrvIf, "netns", p.Srv.Name, "address", srvMAC, "type", "veth",
		"peer", "name", p.CliIf, "netns", p.Cli.Name, "address", cliMAC)
	p.Srv.IP(t, "addr", "add", "10.200.0.1/24", "dev", p.SrvIf)
	p.Srv.IP(t, "addr", "add", "fd00:200::1/64", "dev", p.SrvIf, "nodad")
	p.Cli.IP(t, "neigh", "replace", "10.200.0.1", "lladdr", srvMAC, "dev", p.CliIf, "nud", "permanent")
	p.Cli.IP(t, "neigh", "replace", "fd00:200::1", "lladdr", srvMAC, "dev", p.CliIf, "nud", "permanent")
	for _, a := range cliV4 {
		p.Cli.IP(t, "addr", "add", a+"/24", "dev", p.CliIf)
		p.Srv.IP(t, "neigh", "replace", a, "lladdr", cliMAC, "dev", p.SrvIf, "nud", "permanent")
		p.CliV4s = append(p.CliV4s, netip.MustParseAddr(a))
	}
	for _, a := range cliV6 {
		p.Cli.IP(t, "addr", "add", a+"/64", "dev", p.CliIf, "nodad")
		p.Srv.IP(t, "neigh", "replace", a, "lladdr", cliMAC, "dev", p.SrvIf, "nud", "permanent")
		p.CliV6s = append(p.CliV6s, netip.MustParseAddr(a))
	}
	p.Srv.IP(t, "link", "set", p.SrvIf, "up")
	p.Cli.IP(t, "link", "set", p.CliIf, "up")
	return p
}

// Listen starts a TCP server in the server namespace that accepts and
// closes connections; it returns the port.
func (p *VethPair) Listen(t testing.TB) int {
	t.Helper()
	var ln net.Listener
	var err error
	p.Srv.Do(t, func() { ln, err = net.Listen("tcp", ":0") })
	if err != nil {
		t.Fatalf("listen in %s: %v", p.Srv.Name, err)
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

// ConnectTimeout bounds one connection attempt; a dropped SYN is only
// retransmitted after 1 s, so every failed attempt sends exactly one SYN.
const ConnectTimeout = 300 * time.Millisecond

// Connect dials the server from src inside the client namespace and reports
// whether the handshake completed.
func (p *VethPair) Connect(t testing.TB, src netip.Addr, port int) bool {
	t.Helper()
	dst := p.SrvV4
	if src.Is6() {
		dst = p.SrvV6
	}
	var c net.Conn
	var err error
	p.Cli.Do(t, func() {
		d := net.Dialer{Timeout: ConnectTimeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
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
