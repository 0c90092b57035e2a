package bpf

import (
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/bpf/xdptest"
)

// testBurst meters SYNs at 1/s with a burst of 5 and packets to port 443 at
// 1/s with a burst of 10: a test sends its packets within far less than a
// second, so exactly the burst passes.
var testBurst = enforce.Burst{
	On: true, SYNRate: 1, SYNBurst: 5, PacketRate: 1, PacketBurst: 10, Ports: []uint16{443},
	BanFor: time.Hour, IPv6Prefix: 64, MaxSources: 1024,
}

var (
	srv4 = netip.MustParseAddr("192.0.2.1")
	srv6 = netip.MustParseAddr("2001:db8:ffff::1")
)

func syn(src string) []byte {
	a := netip.MustParseAddr(src)
	if a.Is4() {
		return xdptest.TCPSeg(a, srv4, 8080, xdptest.FlagSYN) // an unmetered port: the SYN bucket alone
	}
	return xdptest.TCPSeg(a, srv6, 8080, xdptest.FlagSYN)
}

func udp(src string, port uint16) []byte {
	return xdptest.UDP(netip.MustParseAddr(src), srv4, port)
}

// runN runs frame n times and returns how many passed.
func runN(t *testing.T, x *XDP, frame []byte, n int) int {
	t.Helper()
	passed := 0
	for range n {
		if testRun(t, x, frame) == ActionPass {
			passed++
		}
	}
	return passed
}

func readBan(t *testing.T, x *XDP) enforce.BurstBan {
	t.Helper()
	x.events.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := x.ReadBurstBan()
	if err != nil {
		t.Fatalf("ReadBurstBan: %v", err)
	}
	return b
}

func banned(t *testing.T, x *XDP) map[string]bool {
	t.Helper()
	bans, err := x.Bans()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, b := range bans {
		out[enforce.FormatSource(b.Source)] = true
	}
	return out
}

// TestBurstMeter runs the meter through BPF_PROG_TEST_RUN: each bucket lets
// exactly its burst through, the next packet is dropped and the source
// banned by the program, reported on the ring buffer and listed by Bans;
// IPv6 sources are metered and banned per /64; allowlisted sources, other
// ports and non-SYN segments are never touched; the switch and a resize
// apply in place.
func TestBurstMeter(t *testing.T) {
	x := openTest(t)
	if err := x.ReplaceAllowlist(prefixes("192.0.2.99/32")); err != nil {
		t.Fatal(err)
	}
	if err := x.SetBurst(testBurst); err != nil {
		t.Fatal(err)
	}

	t.Run("syn burst then ban", func(t *testing.T) {
		before, _ := x.Stats()
		if got := runN(t, x, syn("192.0.2.50"), 5); got != 5 {
			t.Fatalf("%d of the first 5 SYNs passed", got)
		}
		if got := runN(t, x, syn("192.0.2.50"), 3); got != 0 {
			t.Fatalf("%d SYNs over the burst passed", got)
		}
		after, _ := x.Stats()
		if d := delta(before, after, enforce.ReasonDropBurst); d != 1 {
			t.Errorf("drop_burst counted %d, want 1 (the packet that went over)", d)
		}
		if d := delta(before, after, enforce.ReasonDropBanned); d != 2 {
			t.Errorf("drop_banned counted %d, want 2 (the packets after the ban)", d)
		}
		b := readBan(t, x)
		if b.Source != netip.MustParsePrefix("192.0.2.50/32") || b.Bucket != enforce.BucketSYN {
			t.Errorf("event %+v, want 192.0.2.50/32 syn", b)
		}
		if left := time.Until(b.Until); left < 59*time.Minute || left > time.Hour {
			t.Errorf("ban ends in %s, want ~1h", left)
		}
		if !banned(t, x)["192.0.2.50"] {
			t.Error("Bans does not list 192.0.2.50")
		}
		// A SYN+ACK (the source answering) and other sources are not metered.
		if got := runN(t, x, xdptest.TCPSeg(netip.MustParseAddr("192.0.2.51"), srv4, 8080, xdptest.FlagSYN|xdptest.FlagACK), 20); got != 20 {
			t.Errorf("%d of 20 SYN+ACKs passed", got)
		}
	})

	t.Run("packet burst then ban", func(t *testing.T) {
		if got := runN(t, x, udp("192.0.2.60", 53), 30); got != 30 {
			t.Fatalf("%d of 30 packets to an unmetered port passed", got)
		}
		ack := xdptest.TCPSeg(netip.MustParseAddr("192.0.2.61"), srv4, 443, xdptest.FlagACK)
		if got := runN(t, x, ack, 10); got != 10 {
			t.Fatalf("%d of 10 segments within the burst passed", got)
		}
		if got := runN(t, x, udp("192.0.2.61", 443), 5); got != 0 { // the same source, UDP: one bucket
			t.Fatalf("%d packets over the burst passed", got)
		}
		if b := readBan(t, x); b.Source != netip.MustParsePrefix("192.0.2.61/32") || b.Bucket != enforce.BucketPackets {
			t.Errorf("event %+v, want 192.0.2.61/32 packets", b)
		}
	})

	t.Run("ipv6 per network", func(t *testing.T) {
		n := 0
		for i := range 5 {
			n += runN(t, x, syn([]string{"2001:db8:5:6::1", "2001:db8:5:6::2"}[i%2]), 1)
		}
		if n != 5 {
			t.Fatalf("%d of 5 SYNs from one /64 passed", n)
		}
		if got := runN(t, x, syn("2001:db8:5:6:ffff::3"), 1); got != 0 {
			t.Fatal("a sixth SYN from the /64 passed")
		}
		if b := readBan(t, x); b.Source != netip.MustParsePrefix("2001:db8:5:6::/64") || b.Bucket != enforce.BucketSYN {
			t.Errorf("event %+v, want 2001:db8:5:6::/64 syn", b)
		}
		if got := runN(t, x, syn("2001:db8:5:6::77"), 1); got != 0 {
			t.Error("another address of the banned /64 passed")
		}
		if got := runN(t, x, syn("2001:db8:5:7::1"), 5); got != 5 {
			t.Errorf("%d of 5 SYNs from the next /64 passed", got)
		}
		if !banned(t, x)["2001:db8:5:6::/64"] {
			t.Errorf("Bans does not list the /64: %v", banned(t, x))
		}
		// The control plane learns of the ban and takes it over: the
		// entry and its expiry stay.
		if err := x.Ban(netip.MustParsePrefix("2001:db8:5:6::/64"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := runN(t, x, syn("2001:db8:5:6::1"), 1); got != 0 {
			t.Error("the /64 passed after user space re-banned it")
		}
	})

	t.Run("allowlisted never banned", func(t *testing.T) {
		if got := runN(t, x, syn("192.0.2.99"), 50); got != 50 {
			t.Fatalf("%d of 50 SYNs from an allowlisted source passed", got)
		}
		if banned(t, x)["192.0.2.99"] {
			t.Fatal("an allowlisted source was banned")
		}
	})

	t.Run("off", func(t *testing.T) {
		off := testBurst
		off.On = false
		if err := x.SetBurst(off); err != nil {
			t.Fatal(err)
		}
		if got := runN(t, x, syn("192.0.2.70"), 50); got != 50 {
			t.Fatalf("meter off: %d of 50 SYNs passed", got)
		}
		if got := runN(t, x, syn("192.0.2.50"), 1); got != 0 {
			t.Fatal("turning the meter off lifted a ban")
		}
	})

	t.Run("resize swaps the program in place", func(t *testing.T) {
		b := testBurst
		b.MaxSources = 128
		if err := x.SetBurst(b); err != nil {
			t.Fatal(err)
		}
		if x.meterSize != 128 {
			t.Fatalf("meter size %d", x.meterSize)
		}
		if got := runN(t, x, syn("192.0.2.50"), 1); got != 0 {
			t.Fatal("a ban was lost with the resize")
		}
		if got := runN(t, x, syn("192.0.2.80"), 8); got != 5 {
			t.Fatalf("after the resize %d of 8 SYNs passed, want 5", got)
		}
		readBan(t, x) // the ring buffer survived the swap
	})

	st, err := x.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.BurstBans != 4 || st.BurstBanFailures != 0 || st.BurstEventsLost != 0 {
		t.Errorf("burst stats: %d bans, %d failures, %d lost; want 4, 0, 0", st.BurstBans, st.BurstBanFailures, st.BurstEventsLost)
	}
	x.Close()
	if _, err := x.ReadBurstBan(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadBurstBan after Close: %v, want os.ErrClosed", err)
	}
}

func TestSetBurstRefusesInvalid(t *testing.T) {
	x := openTest(t)
	b := testBurst
	b.IPv6Prefix = 16
	if err := x.SetBurst(b); err == nil {
		t.Fatal("SetBurst accepted an IPv6 prefix of 16")
	}
}

// TestBurstMeterEviction fills a meter table of one set (MaxSources 4) with
// spoofed sources, each sending one SYN, while an offender is part way
// through its burst: the offender's buckets are the ones never evicted, so
// it is banned after the rest of its burst, not given a fresh one; also
// when its bucket has another rate than the spoofed sources' (the slots
// rank by when their last packet was due, not by the buckets' raw times).
func TestBurstMeterEviction(t *testing.T) {
	tests := []struct {
		name         string
		rate         float64 // the packet bucket's
		burst        int
		offender     []byte
		first, next  int
		wantNextPass int
	}{
		{name: "SYN offender", rate: 1, burst: 10, offender: syn("198.51.100.7"), first: 3, next: 5, wantNextPass: 2},
		// 10 ms a packet against the spoofed SYNs' 1 s: the offender's
		// packet bucket runs far less ahead than a fresh SYN bucket.
		{name: "packet offender", rate: 100, burst: 50, offender: udp("198.51.100.7", 443), first: 20, next: 60, wantNextPass: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := openTest(t)
			b := testBurst
			b.PacketRate, b.PacketBurst = tt.rate, tt.burst
			b.MaxSources = 4
			if err := x.SetBurst(b); err != nil {
				t.Fatal(err)
			}
			if n := x.objs.Meters.MaxEntries(); n != 1 {
				t.Fatalf("meter table of %d sets for 4 sources, want 1", n)
			}
			start := time.Now()
			if got := runN(t, x, tt.offender, tt.first); got != tt.first {
				t.Fatalf("%d of the offender's first %d packets passed", got, tt.first)
			}
			for i := range 50 {
				src := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
				if got := runN(t, x, xdptest.TCPSeg(src, srv4, 8080, xdptest.FlagSYN), 1); got != 1 {
					t.Fatalf("spoofed source %s: its one SYN was dropped", src)
				}
			}
			got := runN(t, x, tt.offender, tt.next)
			// The bucket refills in real time while the test runs (10 ms a
			// packet at rate 100): what refilled may pass too, never a
			// fresh burst.
			refilled := int(time.Since(start).Seconds() * tt.rate)
			if got < tt.wantNextPass || got > tt.wantNextPass+refilled {
				t.Fatalf("after 50 spoofed sources %d of the offender's next %d packets passed, want the %d left of its burst (+%d refilled)",
					got, tt.next, tt.wantNextPass, refilled)
			}
			if !banned(t, x)["198.51.100.7"] {
				t.Error("the offender was not banned")
			}
		})
	}
}
