package xdp

import (
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/bench/xdp/meterbench"
	"github.com/edgeguard/edgeguard/bpf"
	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/bpf/xdptest"
	"github.com/edgeguard/edgeguard/internal/privileged"
)

// noLimit meters every packet of the benchmarks without ever going over:
// 1 ns per token, far faster than packets arrive.
var noLimit = enforce.Burst{On: true, SYNRate: 1e9, SYNBurst: 1 << 30, PacketRate: 1e9, PacketBurst: 1 << 30,
	Ports: []uint16{443}, BanFor: time.Minute, IPv6Prefix: 64, MaxSources: 65536}

// stat collects per-packet times of one case.
type stat struct {
	total time.Duration
	best  time.Duration
	n     int
}

func (s *stat) add(d time.Duration) {
	if s.n == 0 || d < s.best {
		s.best = d
	}
	s.total += d
	s.n++
}

func (s *stat) mean() float64 { return float64(s.total.Nanoseconds()) / float64(max(s.n, 1)) }

// BenchmarkMeter measures what the burst meter adds to the real program per
// packet: the same frame runs with the meter off and on, alternating in
// every iteration so that both see the same machine. A SYN draws on the
// SYN bucket, an ACK to a metered port on the packet bucket; an ACK to
// another port is parsed but not metered. The target is <= 15 ns added, at 1M
// blocklist entries (run with -benchtime 20x).
func BenchmarkMeter(b *testing.B) {
	x := open(b)
	l := genList(5, 1_000_000, v6Every)
	if err := x.ReplaceBlocklist(l.prefixes); err != nil {
		b.Fatal(err)
	}
	off := noLimit
	off.On = false
	frames := []struct {
		name  string
		frame []byte
	}{
		{"ipv4-syn-metered", xdptest.TCPSeg(l.miss4, l.miss4, 443, xdptest.FlagSYN)},
		{"ipv4-ack-metered", xdptest.TCPSeg(l.miss4, l.miss4, 443, xdptest.FlagACK)},
		{"ipv4-ack-unmetered", xdptest.TCPSeg(l.miss4, l.miss4, 8080, xdptest.FlagACK)},
		{"ipv6-ack-metered", xdptest.TCPSeg(l.miss6, l.miss6, 443, xdptest.FlagACK)},
		{"ipv6-syn-metered", xdptest.TCPSeg(l.miss6, l.miss6, 443, xdptest.FlagSYN)},
	}
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			var on, without stat
			for b.Loop() {
				for _, c := range []struct {
					cfg enforce.Burst
					s   *stat
				}{{off, &without}, {noLimit, &on}} {
					if err := x.SetBurst(c.cfg); err != nil {
						b.Fatal(err)
					}
					action, per, err := x.TestRun(f.frame, repeat)
					if err != nil || action != bpf.ActionPass {
						b.Fatalf("action %d, %v", action, err)
					}
					c.s.add(per)
				}
			}
			b.ReportMetric(without.mean(), "off-ns/packet")
			b.ReportMetric(on.mean(), "on-ns/packet")
			b.ReportMetric(float64(without.best.Nanoseconds()), "off-min-ns/packet")
			b.ReportMetric(float64(on.best.Nanoseconds()), "on-min-ns/packet")
			b.ReportMetric(on.mean()-without.mean(), "added-ns/packet")
		})
	}
}

// BenchmarkMeterBuckets compares shared buckets with atomic adds (what
// filter.c does) against per-CPU buckets, in programs that do nothing but
// parse, key and meter (bench/xdp/meterbench), alternating in every
// iteration. "1cpu" runs one source on one CPU; "2cpu" runs the same source
// on both CPUs at once, the case where shared buckets bounce a cache line
// and per-CPU ones do not.
func BenchmarkMeterBuckets(b *testing.B) {
	privileged.Require(b)
	p, err := meterbench.Load()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	frame := xdptest.TCP(netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("192.0.2.1"))
	progs := []struct {
		name string
		prog *ebpf.Program
	}{{"none", p.MeterNone}, {"shared", p.MeterShared}, {"percpu", p.MeterPercpu}}

	run := func(b *testing.B, cpus int) {
		stats := make([]stat, len(progs))
		for b.Loop() {
			for i, pr := range progs {
				per := make([]time.Duration, cpus)
				var wg sync.WaitGroup
				for c := range cpus {
					wg.Go(func() {
						runtime.LockOSThread()
						defer runtime.UnlockOSThread()
						var set unix.CPUSet
						set.Set(c)
						_ = unix.SchedSetaffinity(0, &set)
						_, d, err := pr.prog.Benchmark(frame, repeat, nil)
						if err != nil {
							b.Error(err)
						}
						per[c] = d
					})
				}
				wg.Wait()
				for _, d := range per {
					stats[i].add(d)
				}
			}
		}
		for i, pr := range progs {
			b.ReportMetric(stats[i].mean(), pr.name+"-ns/packet")
			b.ReportMetric(float64(stats[i].best.Nanoseconds()), pr.name+"-min-ns/packet")
		}
	}
	b.Run("1cpu", func(b *testing.B) { run(b, 1) })
	if runtime.NumCPU() >= 2 {
		b.Run("2cpu", func(b *testing.B) { run(b, 2) })
	}
}
