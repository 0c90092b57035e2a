package bpf

import (
	"github.com/edgeguard/edgeguard/internal/netlab"

	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// envHelper makes the test binary act as a short-lived loader: it opens XDP
// in a namespace, loads a blocklist and exits without cleaning up.
const envHelper = "EDGEGUARD_XDP_TEST_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(envHelper); spec != "" {
		if err := helperMain(spec); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperMain takes "netns|pin path|interface|cidr,cidr".
func helperMain(spec string) error {
	f := strings.Split(spec, "|")
	if len(f) != 4 {
		return fmt.Errorf("bad spec %q", spec)
	}
	var err error
	if nerr := netlab.Enter(f[0], func() {
		var x *XDP
		if x, err = Open(Options{Interfaces: []string{f[2]}, PinPath: f[1]}); err == nil {
			err = x.ReplaceBlocklist(prefixes(strings.Split(f[3], ",")...))
		}
	}); nerr != nil {
		return nerr
	}
	return err // exits with the program attached, pinned and loaded
}

func openIn(t *testing.T, ns *netlab.Netns, opts Options) *XDP {
	t.Helper()
	var x *XDP
	var err error
	opts.Logger = testLogger(t)
	ns.Do(t, func() { x, err = Open(opts) })
	if err != nil {
		t.Fatalf("Open in %s: %v", ns.Name, err)
	}
	return x
}

func delta(a, b enforce.Stats, r enforce.Reason) uint64 {
	return b.Verdicts[r].Packets - a.Verdicts[r].Packets
}

// TestVethEnforcement attaches the program to a veth in a namespace and
// checks real TCP connects: blocklisted sources fail, allowlisted ones
// inside a blocked CIDR succeed, a ban takes effect and expires, a delta
// unblocks, and the counters match the dropped SYNs exactly.
func TestVethEnforcement(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2", "10.200.0.3", "10.200.0.20"},
		[]string{"fd00:200::2", "fd00:200::3", "fd00:200::20"})
	port := p.Listen(t)
	x := openIn(t, p.Srv, Options{Interfaces: []string{p.SrvIf}, PinPath: testPinPath(t)})
	t.Cleanup(func() { x.Detach() })
	if x.Mode() != enforce.ModeNative {
		t.Errorf("mode on veth = %q, want native", x.Mode())
	}
	if err := x.ReplaceBlocklist(prefixes("10.200.0.0/28", "fd00:200::/124")); err != nil {
		t.Fatal(err)
	}
	if err := x.ReplaceAllowlist(prefixes("10.200.0.3/32", "fd00:200::3/128")); err != nil {
		t.Fatal(err)
	}

	before, _ := x.Stats()
	dropped := 0
	tests := []struct {
		name string
		src  string
		ok   bool
	}{
		{"ipv4 blocklisted", "10.200.0.2", false},
		{"ipv4 allowlisted inside blocked", "10.200.0.3", true},
		{"ipv4 unlisted", "10.200.0.20", true},
		{"ipv6 blocklisted", "fd00:200::2", false},
		{"ipv6 allowlisted inside blocked", "fd00:200::3", true},
		{"ipv6 unlisted", "fd00:200::20", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Connect(t, netip.MustParseAddr(tc.src), port); got != tc.ok {
				t.Fatalf("connect from %s succeeded=%v, want %v", tc.src, got, tc.ok)
			}
			if !tc.ok {
				dropped++
			}
		})
	}
	after, _ := x.Stats()
	if got := delta(before, after, enforce.ReasonDropBlocklist); got != uint64(dropped) {
		t.Errorf("drop_blocklist counted %d packets, want %d (one SYN per failed connect)", got, dropped)
	}
	if got := delta(before, after, enforce.ReasonPassAllowlist); got < 2*3 {
		t.Errorf("pass_allowlist counted %d packets, want at least 3 per allowlisted connection", got)
	}

	t.Run("ban takes effect and expires", func(t *testing.T) {
		for _, src := range []string{"10.200.0.20", "fd00:200::20"} {
			a := netip.MustParseAddr(src)
			before, _ := x.Stats()
			if err := x.Ban(enforce.Host(a), time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			fails := 0
			deadline := time.Now().Add(5 * time.Second)
			for !p.Connect(t, a, port) {
				fails++
				if time.Now().After(deadline) {
					t.Fatalf("%s still banned after 5s", src)
				}
			}
			if fails == 0 {
				t.Fatalf("ban on %s had no effect", src)
			}
			after, _ := x.Stats()
			if got := delta(before, after, enforce.ReasonDropBanned); got != uint64(fails) {
				t.Errorf("%s: drop_banned counted %d, want %d", src, got, fails)
			}
		}
	})

	t.Run("delta unblocks", func(t *testing.T) {
		if err := x.ApplyBlocklistDelta(nil, prefixes("10.200.0.0/28")); err != nil {
			t.Fatal(err)
		}
		if !p.Connect(t, netip.MustParseAddr("10.200.0.2"), port) {
			t.Fatal("10.200.0.2 still blocked after the delta removed its CIDR")
		}
		if p.Connect(t, netip.MustParseAddr("fd00:200::2"), port) {
			t.Fatal("fd00:200::2 unblocked by an IPv4 delta")
		}
	})
}

// TestPinSurvivesLoaderExit loads and pins from a process that then exits:
// packets keep being dropped, a new Open re-uses the pins and swaps in its
// program, and Detach removes the program from the interface.
func TestPinSurvivesLoaderExit(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2", "10.200.0.20"}, nil)
	port := p.Listen(t)
	pin := testPinPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+strings.Join([]string{p.Srv.Name, pin, p.SrvIf, "10.200.0.0/28"}, "|"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("loader process: %v\n%s", err, out)
	}

	blocked, free := netip.MustParseAddr("10.200.0.2"), netip.MustParseAddr("10.200.0.20")
	if p.Connect(t, blocked, port) {
		t.Fatal("blocked source connected after the loader exited")
	}
	if !p.Connect(t, free, port) {
		t.Fatal("unlisted source failed after the loader exited")
	}

	x := openIn(t, p.Srv, Options{Interfaces: []string{p.SrvIf}, PinPath: pin})
	t.Cleanup(func() { x.Detach() })
	if !x.ReusedPins() {
		t.Fatal("second Open did not re-use the pins")
	}
	if got := x.Attachments(); len(got) != 1 || got[0].Mode != ModeNative || got[0].Interface != p.SrvIf {
		t.Fatalf("Attachments = %+v", got)
	}
	if p.Connect(t, blocked, port) {
		t.Fatal("blocked source connected after the program was swapped")
	}
	st, _ := x.Stats()
	if st.Verdicts[enforce.ReasonDropBlocklist].Packets != 2 {
		t.Errorf("drop_blocklist = %d, want 2 (counters kept across processes)", st.Verdicts[enforce.ReasonDropBlocklist].Packets)
	}

	if err := x.Detach(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "-n", p.Srv.Name, "link", "show", p.SrvIf).CombinedOutput()
	if err != nil || strings.Contains(string(out), "xdp") {
		t.Fatalf("after Detach: %v\n%s", err, out)
	}
	if !p.Connect(t, blocked, port) {
		t.Fatal("blocked source still dropped after Detach")
	}
}

// TestAttachModes: auto falls back to generic where native is refused (lo),
// native-only fails there, generic is honoured, and interfaces dropped from
// the configuration are detached on the next Open.
func TestAttachModes(t *testing.T) {
	p := netlab.NewVethPair(t, nil, nil)
	pin := testPinPath(t)

	x := openIn(t, p.Srv, Options{Interfaces: []string{"lo", p.SrvIf}, PinPath: pin})
	if got := x.Attachments(); len(got) != 2 || got[0].Mode != ModeGeneric || got[1].Mode != ModeNative {
		t.Fatalf("auto on lo and veth: %+v", got)
	}
	if x.Mode() != enforce.ModeMixed {
		t.Errorf("Mode = %q, want mixed", x.Mode())
	}
	x.Close()

	// Re-open for the veth only, forcing generic: lo's link is detached,
	// the veth's native link is replaced by a generic one.
	y := openIn(t, p.Srv, Options{Interfaces: []string{p.SrvIf}, Mode: ModeGeneric, PinPath: pin})
	t.Cleanup(func() { y.Detach() })
	if y.Mode() != enforce.ModeGeneric {
		t.Errorf("Mode = %q, want generic", y.Mode())
	}
	out, _ := exec.Command("ip", "-n", p.Srv.Name, "link", "show", "lo").CombinedOutput()
	if strings.Contains(string(out), "xdp") {
		t.Errorf("lo still has xdp after it left the configuration:\n%s", out)
	}
	out, _ = exec.Command("ip", "-n", p.Srv.Name, "link", "show", p.SrvIf).CombinedOutput()
	if !strings.Contains(string(out), "xdpgeneric") {
		t.Errorf("veth not in generic mode:\n%s", out)
	}

	var err error
	p.Srv.Do(t, func() {
		_, err = Open(Options{Interfaces: []string{"lo"}, Mode: ModeNative, PinPath: testPinPath(t), Logger: testLogger(t)})
	})
	if err == nil {
		t.Fatal("native-only attach to lo succeeded")
	}
	p.Srv.Do(t, func() {
		_, err = Open(Options{Interfaces: []string{"lo", "nosuchif0"}, PinPath: testPinPath(t), Logger: testLogger(t)})
	})
	if err == nil {
		t.Fatal("attach to a missing interface succeeded")
	}
	out, _ = exec.Command("ip", "-n", p.Srv.Name, "link", "show", "lo").CombinedOutput()
	if strings.Contains(string(out), "xdp") {
		t.Errorf("a failed Open left its program on lo:\n%s", out)
	}
}

// TestUpgradeFiltersUntilActivate: an upgrade whose maps no longer fit
// recreates them empty; until the daemon has restored the lists and bans
// and calls Activate, the interface keeps the previous program, filtering
// with the previous maps, so no blocklisted or banned source gets through
// meanwhile. A start that fails before Activate leaves maps that the next
// Open recreates again; after Activate they are re-used.
func TestUpgradeFiltersUntilActivate(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2", "10.200.0.20", "10.200.0.33", "10.200.0.40"}, nil)
	port := p.Listen(t)
	pin := testPinPath(t)
	opts := Options{Interfaces: []string{p.SrvIf}, PinPath: pin}
	blocked, newlyBlocked := netip.MustParseAddr("10.200.0.2"), netip.MustParseAddr("10.200.0.20")
	banned, free := netip.MustParseAddr("10.200.0.33"), netip.MustParseAddr("10.200.0.40")

	old := openIn(t, p.Srv, opts)
	t.Cleanup(func() { old.Detach() })
	if err := old.ReplaceBlocklist(prefixes("10.200.0.0/28")); err != nil {
		t.Fatal(err)
	}
	if err := old.Ban(enforce.Host(banned), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The previous version's maps: another layout.
	if err := old.objs.Layout.Put(uint32(0), uint64(12345)); err != nil {
		t.Fatal(err)
	}
	old.Close()

	// restore plays the daemon's part: the state into the new maps.
	restore := func(x *XDP) {
		t.Helper()
		if err := x.ReplaceBlocklist(prefixes("10.200.0.0/28", "10.200.0.20/32")); err != nil {
			t.Fatal(err)
		}
		if err := x.Ban(enforce.Host(banned), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(stage string, want map[netip.Addr]bool) {
		t.Helper()
		for src, ok := range want {
			if got := p.Connect(t, src, port); got != ok {
				t.Errorf("%s: connect from %s succeeded=%v, want %v", stage, src, got, ok)
			}
		}
	}
	previous := map[netip.Addr]bool{blocked: false, banned: false, newlyBlocked: true, free: true}

	failed := openIn(t, p.Srv, opts)
	if failed.ReusedPins() || !failed.Pending() {
		t.Fatalf("Open over other maps: reused %v pending %v, want a fresh start pending activation", failed.ReusedPins(), failed.Pending())
	}
	check("recreated, not restored", previous)
	restore(failed)
	check("restored, not activated", previous)
	failed.Close() // the start fails before Activate

	x := openIn(t, p.Srv, opts)
	t.Cleanup(func() { x.Detach() })
	if x.ReusedPins() || !x.Pending() {
		t.Fatalf("Open over maps never activated: reused %v pending %v, want them recreated again", x.ReusedPins(), x.Pending())
	}
	check("second start, not restored", previous)
	restore(x)
	if err := x.Activate(); err != nil {
		t.Fatal(err)
	}
	if x.Pending() {
		t.Fatal("still pending after Activate")
	}
	check("activated", map[netip.Addr]bool{blocked: false, banned: false, newlyBlocked: false, free: true})
	x.Close()

	y := openIn(t, p.Srv, opts)
	t.Cleanup(func() { y.Detach() })
	if !y.ReusedPins() || y.Pending() {
		t.Fatalf("Open after Activate: reused %v pending %v, want the maps re-used", y.ReusedPins(), y.Pending())
	}
	check("restarted", map[netip.Addr]bool{blocked: false, banned: false, newlyBlocked: false, free: true})
}
