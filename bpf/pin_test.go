package bpf

import (
	"github.com/edgeguard/edgeguard/bpf/enforce"

	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/internal/privileged"
)

// TestReopenPins closes an XDP (as a stopping daemon does) and opens it
// again: lists, bans and counters are still in force, a delta needs a
// replace first, and the re-opened maps take new lists.
func TestReopenPins(t *testing.T) {
	privileged.Require(t)
	pin := testPinPath(t)
	x, err := Open(Options{PinPath: pin, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if x.ReusedPins() {
		t.Fatal("fresh pin path reported as re-used")
	}
	if err := x.ReplaceBlocklist(prefixes("198.51.100.0/24", "2001:db8:bad::/48")); err != nil {
		t.Fatal(err)
	}
	if err := x.ReplaceAllowlist(prefixes("198.51.100.10/32")); err != nil {
		t.Fatal(err)
	}
	if err := x.Ban(enforce.Host(netip.MustParseAddr("192.0.2.33")), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	testRun(t, x, tcp("198.51.100.1"))
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	y, err := Open(Options{PinPath: pin, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { y.Detach() })
	if !y.ReusedPins() {
		t.Fatal("pins not re-used")
	}
	tests := []struct {
		name  string
		frame []byte
		want  uint32
	}{
		{"blocked v4", tcp("198.51.100.1"), ActionDrop},
		{"blocked v6", tcp("2001:db8:bad::1"), ActionDrop},
		{"allowed", tcp("198.51.100.10"), ActionPass},
		{"banned", tcp("192.0.2.33"), ActionDrop},
		{"other", tcp("192.0.2.34"), ActionPass},
	}
	for _, tc := range tests {
		if got := testRun(t, y, tc.frame); got != tc.want {
			t.Errorf("%s after reopen: action %d, want %d", tc.name, got, tc.want)
		}
	}
	st, err := y.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Verdicts[4].Packets != 3 { // 1 before close, 2 after
		t.Errorf("drop_blocklist counter = %d, want 3 (counters survive)", st.Verdicts[4].Packets)
	}
	bans, err := y.Bans()
	if err != nil || len(bans) != 1 || bans[0].Source != netip.MustParsePrefix("192.0.2.33/32") {
		t.Errorf("Bans after reopen = %v, %v", bans, err)
	}
	if err := y.ApplyBlocklistDelta(prefixes("203.0.113.0/24"), nil); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("delta before replace: err %v, want ErrNoBaseline", err)
	}
	if err := y.ReplaceBlocklist(prefixes("203.0.113.0/24")); err != nil {
		t.Fatal(err)
	}
	if err := y.ApplyBlocklistDelta(prefixes("192.0.2.0/24"), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src  string
		want uint32
	}{{"198.51.100.1", ActionPass}, {"203.0.113.1", ActionDrop}, {"192.0.2.200", ActionDrop}} {
		if got := testRun(t, y, tcp(tc.src)); got != tc.want {
			t.Errorf("%s after replace: action %d, want %d", tc.src, got, tc.want)
		}
	}

	if err := y.Detach(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pin); !os.IsNotExist(err) {
		t.Errorf("pin directory still there after Detach: %v", err)
	}
}

// TestIncompatiblePins: maps pinned for another inner layout are recreated.
func TestIncompatiblePins(t *testing.T) {
	privileged.Require(t)
	pin := testPinPath(t)
	x, err := Open(Options{PinPath: pin, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Ban(enforce.Host(netip.MustParseAddr("192.0.2.33")), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := x.objs.Layout.Put(uint32(0), uint64(12345)); err != nil {
		t.Fatal(err)
	}
	x.Close()
	y, err := Open(Options{PinPath: pin, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { y.Detach() })
	if y.ReusedPins() {
		t.Fatal("incompatible pins re-used")
	}
	if bans, _ := y.Bans(); len(bans) != 0 {
		t.Fatalf("recreated maps still hold bans: %v", bans)
	}
	if err := y.ApplyBlocklistDelta(prefixes("203.0.113.0/24"), nil); err != nil {
		t.Fatalf("delta on fresh maps: %v", err)
	}
}

// TestMountsBPFFS: a pin path outside any bpffs gets one mounted on it.
func TestMountsBPFFS(t *testing.T) {
	privileged.Require(t)
	pin := filepath.Join(t.TempDir(), "pins")
	t.Cleanup(func() { unix.Unmount(pin, unix.MNT_DETACH) })
	x, err := Open(Options{PinPath: pin, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Detach()
	if !onBPFFS(pin) {
		t.Fatal("pin path is not on bpffs")
	}
	if _, err := os.Stat(filepath.Join(pin, "stats")); err != nil {
		t.Fatalf("stats map not pinned: %v", err)
	}
}
