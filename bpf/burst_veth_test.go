package bpf

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/bpf/xdptest"
	"github.com/edgeguard/edgeguard/internal/netlab"
)

// injector writes raw frames into the client end of a veth pair (AF_PACKET),
// addressed from the client's MAC to the server's, so that they reach the
// server's XDP program as real received packets.
type injector struct {
	fd       int
	to       unix.SockaddrLinklayer
	src, dst net.HardwareAddr
}

func newInjector(t *testing.T, p *netlab.VethPair) *injector {
	t.Helper()
	var srvMAC net.HardwareAddr
	p.Srv.Do(t, func() {
		ifc, err := net.InterfaceByName(p.SrvIf)
		if err != nil {
			t.Fatal(err)
		}
		srvMAC = ifc.HardwareAddr
	})
	in := &injector{dst: srvMAC}
	p.Cli.Do(t, func() {
		ifc, err := net.InterfaceByName(p.CliIf)
		if err != nil {
			t.Fatal(err)
		}
		in.src = ifc.HardwareAddr
		in.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // send only: no protocol, receives nothing
		if err != nil {
			t.Fatal(err)
		}
		in.to = unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6}
	})
	t.Cleanup(func() { unix.Close(in.fd) })
	return in
}

// send writes frame n times. The veth's XDP ring holds 256 frames: sending
// in runs of 64 with a pause lets the receiver keep up, so every frame is
// seen by the program and the counts are exact.
func (in *injector) send(t *testing.T, frame []byte, n int) {
	t.Helper()
	f := append([]byte(nil), frame...)
	copy(f[0:6], in.dst)
	copy(f[6:12], in.src)
	in.sendEach(t, n, func(int) []byte { return f })
}

func (in *injector) sendEach(t *testing.T, n int, frame func(i int) []byte) {
	t.Helper()
	for i := range n {
		f := frame(i)
		copy(f[0:6], in.dst)
		copy(f[6:12], in.src)
		if err := unix.Sendto(in.fd, f, 0, &in.to); err != nil {
			t.Fatalf("inject frame %d: %v", i, err)
		}
		if i%64 == 63 {
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// waitSeen waits until the program has counted at least n more packets
// than in before (frames in flight through the veth), and returns the
// stats then.
func waitSeen(t *testing.T, x *XDP, before enforce.Stats, n uint64) enforce.Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := x.Stats()
		if err != nil {
			t.Fatal(err)
		}
		var seen uint64
		for r := range enforce.NumReasons {
			seen += delta(before, st, r)
		}
		if seen >= n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program saw %d of %d packets", seen, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBurstFloodVeth floods the XDP program on a veth from the client
// namespace: a SYN flood, a UDP flood and a TCP (ACK) flood from single
// sources pass exactly their burst and are then dropped and banned, with an
// event each; an IPv6 flood bans its /64; a client opening connections at
// a normal rate meanwhile never loses one; thousands of spoofed sources
// overrun the meter's table without lifting a ban; and the bans survive
// the daemon closing and a new one re-opening the pins.
func TestBurstFloodVeth(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2", "10.200.0.3", "10.200.0.4", "10.200.0.5"},
		[]string{"fd00:200::2", "fd00:200::3"})
	port := p.Listen(t)
	pin := testPinPath(t)
	x := openIn(t, p.Srv, Options{Interfaces: []string{p.SrvIf}, PinPath: pin, BurstMaxSources: 256})
	t.Cleanup(func() { x.Detach() })
	b := enforce.Burst{On: true, SYNRate: 50, SYNBurst: 20, PacketRate: 1000, PacketBurst: 300,
		Ports: []uint16{uint16(port)}, BanFor: time.Hour, IPv6Prefix: 64, MaxSources: 256}
	if err := x.SetBurst(b); err != nil {
		t.Fatal(err)
	}
	in := newInjector(t, p)
	srv4, srv6 := p.SrvV4, p.SrvV6

	// A well-behaved client: 40 connections a second, under the SYN rate,
	// for the whole test.
	good := netip.MustParseAddr("10.200.0.3")
	stopGood := make(chan struct{})
	goodDone := make(chan [2]int)
	go func() {
		ok, tries := 0, 0
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopGood:
				goodDone <- [2]int{ok, tries}
				return
			case <-tick.C:
			}
			tries++
			if p.Connect(t, good, port) {
				ok++
			}
		}
	}()

	floods := []struct {
		name   string
		src    string
		frame  []byte
		burst  int
		bucket string
		ban    string
	}{
		{"syn flood", "10.200.0.2", xdptest.TCPSeg(netip.MustParseAddr("10.200.0.2"), srv4, 22, xdptest.FlagSYN), 20, enforce.BucketSYN, "10.200.0.2"},
		{"udp flood", "10.200.0.4", xdptest.UDP(netip.MustParseAddr("10.200.0.4"), srv4, uint16(port)), 300, enforce.BucketPackets, "10.200.0.4"},
		{"tcp flood", "10.200.0.5", xdptest.TCPSeg(netip.MustParseAddr("10.200.0.5"), srv4, uint16(port), xdptest.FlagACK), 300, enforce.BucketPackets, "10.200.0.5"},
		{"ipv6 syn flood", "fd00:200::2", xdptest.TCPSeg(netip.MustParseAddr("fd00:200::2"), srv6, 22, xdptest.FlagSYN), 20, enforce.BucketSYN, "fd00:200::/64"},
	}
	const sent = 2000
	for _, f := range floods {
		t.Run(f.name, func(t *testing.T) {
			before, _ := x.Stats()
			start := time.Now()
			in.send(t, f.frame, sent)
			after := waitSeen(t, x, before, sent)
			took := time.Since(start)
			// The program saw every frame (waitSeen): what it did not drop
			// passed. The bucket refills while the flood runs.
			dropBurst, dropBanned := delta(before, after, enforce.ReasonDropBurst), delta(before, after, enforce.ReasonDropBanned)
			passed := sent - dropBurst - dropBanned
			rate := b.SYNRate
			if f.bucket == enforce.BucketPackets {
				rate = b.PacketRate
			}
			refill := uint64(rate*took.Seconds()) + 1
			t.Logf("%d frames from %s in %s: %d passed, %d drop_burst, %d drop_banned", sent, f.src, took.Round(time.Millisecond),
				passed, dropBurst, dropBanned)
			if passed < uint64(f.burst) || passed > uint64(f.burst)+refill {
				t.Errorf("passed %d, want the burst of %d (+ at most %d refilled)", passed, f.burst, refill)
			}
			if dropBurst != 1 {
				t.Errorf("drop_burst %d, want 1", dropBurst)
			}
			ev := readBan(t, x)
			if enforce.FormatSource(ev.Source) != f.ban || ev.Bucket != f.bucket {
				t.Errorf("event %+v, want %s %s", ev, f.ban, f.bucket)
			}
			if !banned(t, x)[f.ban] {
				t.Errorf("%s not in Bans", f.ban)
			}
		})
	}
	if p.Connect(t, netip.MustParseAddr("fd00:200::3"), port) {
		t.Error("another address of the banned /64 connected")
	}

	t.Run("spoofed sources do not lift a ban", func(t *testing.T) {
		before, _ := x.Stats()
		r := rand.New(rand.NewPCG(1, 2))
		const spoofed = 5000
		in.sendEach(t, spoofed, func(int) []byte {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], 0x0ac80000|uint32(r.IntN(1<<16))<<0) // 10.200.x.x
			a[2] |= 0x80                                                          // 10.200.128.0/17: no client uses it
			return xdptest.TCPSeg(netip.AddrFrom4(a), srv4, 22, xdptest.FlagSYN)
		})
		after := waitSeen(t, x, before, spoofed)
		if d := delta(before, after, enforce.ReasonDropBurst); d != 0 {
			t.Errorf("%d spoofed sources with one SYN each were banned", d)
		}
		if after.BurstBans != before.BurstBans {
			t.Errorf("burst bans went from %d to %d", before.BurstBans, after.BurstBans)
		}
		var k uint32
		var v filterMeterSet
		n := 0
		for it := x.objs.Meters.Iterate(); it.Next(&k, &v); {
			for _, w := range v.Way {
				if w.Key != [2]uint64{} {
					n++
				}
			}
		}
		// 5000 sources over 64 sets of four: every set fills (the table
		// is bounded by construction; what matters is that the spoofed
		// sources took its slots and, below, did not take the ban).
		if n < 256-16 {
			t.Errorf("after %d spoofed sources the meter table holds %d of its 256 slots", spoofed, n)
		}
		before = after
		in.send(t, floods[0].frame, 10)
		after = waitSeen(t, x, before, 10)
		if d := delta(before, after, enforce.ReasonDropBanned); d != 10 {
			t.Errorf("after the spoofed flood the offender's SYNs: %d of 10 dropped as banned", d)
		}
	})

	close(stopGood)
	if r := <-goodDone; r[0] != r[1] || r[1] < 10 {
		t.Errorf("well-behaved client: %d of %d connections succeeded", r[0], r[1])
	}

	t.Run("bans survive a restart on the pins", func(t *testing.T) {
		x.Close()
		y := openIn(t, p.Srv, Options{Interfaces: []string{p.SrvIf}, PinPath: pin, BurstMaxSources: 256})
		t.Cleanup(func() { y.Detach() })
		if !y.ReusedPins() {
			t.Fatal("pins not re-used")
		}
		got := banned(t, y)
		for _, f := range floods {
			if !got[f.ban] {
				t.Errorf("%s not banned after the restart: %v", f.ban, got)
			}
		}
		if p.Connect(t, netip.MustParseAddr("10.200.0.2"), port) {
			t.Error("the SYN flooder connected after the restart")
		}
		if !p.Connect(t, good, port) {
			t.Error("the well-behaved client failed after the restart")
		}

		// A new meter size swaps a new program into the link in place.
		b.MaxSources = 512
		if err := y.SetBurst(b); err != nil {
			t.Fatal(err)
		}
		if p.Connect(t, netip.MustParseAddr("10.200.0.2"), port) {
			t.Error("the SYN flooder connected after the resize")
		}
		if !p.Connect(t, good, port) {
			t.Error("the well-behaved client failed after the resize")
		}
		before, _ := y.Stats()
		in.send(t, xdptest.TCPSeg(netip.MustParseAddr("10.200.0.4"), srv4, 22, xdptest.FlagSYN), 5)
		if after := waitSeen(t, y, before, 5); delta(before, after, enforce.ReasonDropBanned) != 5 {
			t.Error("the program swapped in does not count on the pinned stats")
		}
	})
}
