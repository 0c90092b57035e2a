package attack

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// floodPort is the UDP destination port of flood frames; the pass check
// counts frames to it that reach the receiver's IP stack.
const floodPort = 9

// floodGen sends UDP frames from the sender's veth with spoofed IPv4
// sources, as fast as one CPU can, by running xdp/floodgen.c in live-frame
// mode.
type floodGen struct {
	objs    floodgenObjects
	ns      string
	ifindex int
	frame   []byte
}

// xdpMd is struct xdp_md, the context of a test run.
type xdpMd struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// newFloodGen loads the generator for the sender of l with these sources,
// whose number must be a power of two.
func newFloodGen(l *lab, sources []netip.Addr) (*floodGen, error) {
	n := len(sources)
	if n == 0 || n&(n-1) != 0 || n > 1<<20 {
		return nil, fmt.Errorf("load flood generator: %d sources, want a power of two up to 2^20", n)
	}
	spec, err := loadFloodgen()
	if err != nil {
		return nil, fmt.Errorf("load flood generator: %w", err)
	}
	if err := spec.Variables["nsources_mask"].Set(uint32(n - 1)); err != nil {
		return nil, fmt.Errorf("load flood generator: %w", err)
	}
	g := &floodGen{ns: l.cli}
	if err := spec.LoadAndAssign(&g.objs, nil); err != nil {
		return nil, fmt.Errorf("load flood generator: %w", err)
	}
	keys := make([]uint32, n)
	vals := make([]uint32, n)
	for i, a := range sources {
		b := a.As4()
		keys[i], vals[i] = uint32(i), binary.NativeEndian.Uint32(b[:]) // the bytes in network order
	}
	if _, err := g.objs.Sources.BatchUpdate(keys, vals, nil); err != nil {
		g.Close()
		return nil, fmt.Errorf("load flood generator: fill sources: %w", err)
	}
	err = inNetns(l.cli, func() error {
		ifc, err := net.InterfaceByName(l.cliIf)
		if err != nil {
			return err
		}
		g.ifindex = ifc.Index
		return nil
	})
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("load flood generator: %w", err)
	}
	g.frame = udpFrame(cliMAC, srvMAC, netip.MustParseAddr(cliIPv4), netip.MustParseAddr(srvIPv4), floodPort)
	return g, nil
}

// Close unloads the generator.
func (g *floodGen) Close() { g.objs.Close() }

// sent returns the number of frames generated so far.
func (g *floodGen) sent() (uint64, error) {
	var per []uint64
	if err := g.objs.Seq.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("read generated frames: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// run sends frames for d (or until ctx ends, or exactly n frames when n >
// 0) from a thread pinned to cpu, and returns how many it sent.
func (g *floodGen) run(ctx context.Context, d time.Duration, n uint64, cpu int) (uint64, error) {
	before, err := g.sent()
	if err != nil {
		return 0, err
	}
	err = inNetns(g.ns, func() error {
		var old unix.CPUSet
		if err := unix.SchedGetaffinity(0, &old); err != nil {
			return fmt.Errorf("run flood generator: %w", err)
		}
		if err := pin(0, cpu); err != nil {
			return fmt.Errorf("run flood generator: %w", err)
		}
		defer unix.SchedSetaffinity(0, &old)
		md := xdpMd{DataEnd: uint32(len(g.frame)), IngressIfindex: uint32(g.ifindex)}
		repeat := uint32(1 << 14)
		deadline := time.Now().Add(d)
		left := n
		// Bounded: each call runs at most ~100 ms and the loop stops at the
		// deadline; 100000 calls is far beyond any sensible duration.
		for i := 0; i < 100000 && ctx.Err() == nil; i++ {
			r := repeat
			if n > 0 {
				if left == 0 {
					break
				}
				r = uint32(min(uint64(r), left))
			} else if !time.Now().Before(deadline) {
				break
			}
			t0 := time.Now()
			_, err := g.objs.Floodgen.Run(&ebpf.RunOptions{
				Data: g.frame, Context: md, Repeat: r, BatchSize: 64,
				Flags: unix.BPF_F_TEST_XDP_LIVE_FRAMES,
			})
			if err != nil {
				return fmt.Errorf("run flood generator: %w", err)
			}
			left -= min(left, uint64(r))
			// Aim at ~50 ms per call, so the deadline is kept closely.
			if el := time.Since(t0); el < 25*time.Millisecond && repeat < 1<<24 {
				repeat <<= 1
			} else if el > 100*time.Millisecond && repeat > 1<<10 {
				repeat >>= 1
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	after, err := g.sent()
	if err != nil {
		return 0, err
	}
	return after - before, nil
}

// udpFrame builds an Ethernet + IPv4 + UDP frame with 18 bytes of payload
// (a 64-byte frame on the wire with the FCS) and a valid header checksum.
func udpFrame(src, dst string, sip, dip netip.Addr, port uint16) []byte {
	smac, _ := net.ParseMAC(src)
	dmac, _ := net.ParseMAC(dst)
	f := make([]byte, 0, 60)
	f = append(append(f, dmac...), smac...)
	f = binary.BigEndian.AppendUint16(f, unix.ETH_P_IP)
	ip := []byte{0x45, 0, 0, 20 + 8 + 18, 0, 0, 0x40, 0, 64, unix.IPPROTO_UDP, 0, 0}
	s, d := sip.As4(), dip.As4()
	ip = append(append(ip, s[:]...), d[:]...)
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
	f = append(f, ip...)
	f = binary.BigEndian.AppendUint16(f, 40000)
	f = binary.BigEndian.AppendUint16(f, port)
	f = binary.BigEndian.AppendUint16(f, 8+18)
	f = binary.BigEndian.AppendUint16(f, 0) // no UDP checksum
	return append(f, make([]byte, 18)...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// powerOfTwoAtMost returns the largest power of two <= n (n >= 1).
func powerOfTwoAtMost(n int) int {
	if n < 1 {
		return 1
	}
	return 1 << (bits.Len(uint(n)) - 1)
}
