package xdp

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/edgeguard/edgeguard/bench/xdp/membench"
	"github.com/edgeguard/edgeguard/bpf"
	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/bpf/xdptest"
	"github.com/edgeguard/edgeguard/internal/privileged"
)

// missSources draws n addresses of each family that no prefix of ps
// covers, spread over the whole address space (IPv6: over 2000::/3) so that
// they touch as many different parts of the tables as hits do.
func missSources(seed uint64, ps []netip.Prefix, n int) (v4, v6 []netip.Addr) {
	a, b, err := cidrset.Split("bench", ps)
	if err != nil {
		panic(err)
	}
	s4, s6 := cidrset.New(a), cidrset.New(b)
	r := rand.New(rand.NewPCG(seed, 7))
	for len(v4) < n {
		x := r.Uint32N(0xe0000000) // below 224.0.0.0: unicast
		addr := netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
		if !s4.Contains(cidrset.AddrFrom(addr)) {
			v4 = append(v4, addr)
		}
	}
	for len(v6) < n {
		var x [16]byte
		for i := range x {
			x[i] = byte(r.Uint32())
		}
		x[0] = 0x20 | x[0]&0x1f
		addr := netip.AddrFrom16(x)
		if !s6.Contains(cidrset.AddrFrom(addr)) {
			v6 = append(v6, addr)
		}
	}
	return v4, v6
}

// BenchmarkCold breaks down the cost of a packet whose source the CPU
// caches have not seen (a flood from many sources). Every case runs each
// of 4096 frames once per iteration, so each run pays a syscall between
// program runs as with BenchmarkPacket's 4096src cases:
//
//   - src1: one source, run once per syscall 4096 times: the floor that
//     the syscall and timer add to a cache-warm program run;
//   - empty: 4096 sources, no list at all: parsing, the ban map probe and
//     the counters with cold caches;
//   - 1M miss / hit: 4096 sources outside / inside a 1M-entry list;
//     "allow" adds a small allowlist, consulted on every hit.
func BenchmarkCold(b *testing.B) {
	x := open(b)
	l := genList(11, 1_000_000, v6Every)
	miss4, miss6 := missSources(12, l.prefixes, 4096)
	allow := []netip.Prefix{netip.MustParsePrefix("242.0.0.0/28"), netip.MustParsePrefix("fd00:a11::/48")}
	one4, one6 := []netip.Addr{miss4[0]}, []netip.Addr{miss6[0]}
	for range 12 {
		one4, one6 = append(one4, one4...), append(one6, one6...)
	}
	steps := []struct {
		name  string
		block []netip.Prefix
		allow []netip.Prefix
		cases []struct {
			name string
			srcs []netip.Addr
			want uint32
		}
	}{
		{name: "empty", cases: []struct {
			name string
			srcs []netip.Addr
			want uint32
		}{
			{"ipv4-src1", one4, bpf.ActionPass},
			{"ipv6-src1", one6, bpf.ActionPass},
			{"ipv4-4096src", miss4, bpf.ActionPass},
			{"ipv6-4096src", miss6, bpf.ActionPass},
		}},
		{name: "1M", block: l.prefixes, cases: []struct {
			name string
			srcs []netip.Addr
			want uint32
		}{
			{"ipv4-miss-4096src", miss4, bpf.ActionPass},
			{"ipv6-miss-4096src", miss6, bpf.ActionPass},
			{"ipv4-hit-4096src", l.hit4, bpf.ActionDrop},
			{"ipv6-hit-4096src", l.hit6, bpf.ActionDrop},
		}},
		{name: "1M-allow", block: l.prefixes, allow: allow, cases: []struct {
			name string
			srcs []netip.Addr
			want uint32
		}{
			{"ipv4-hit-4096src", l.hit4, bpf.ActionDrop},
			{"ipv6-hit-4096src", l.hit6, bpf.ActionDrop},
		}},
	}
	for _, st := range steps {
		b.Run(st.name, func(b *testing.B) {
			if err := x.ReplaceBlocklist(st.block); err != nil {
				b.Fatal(err)
			}
			if err := x.ReplaceAllowlist(st.allow); err != nil {
				b.Fatal(err)
			}
			for _, c := range st.cases {
				b.Run(c.name, func(b *testing.B) { runCold(b, x, c.srcs, c.want) })
			}
		})
	}
}

// BenchmarkColdRead measures what one read of a table far larger than the
// caches costs an XDP program on this machine, the unit every lookup of a
// 1M-entry list pays when the source is not cached: programs that parse
// the source and read its /24's entry in one 128 MiB array (vmalloc'd, 4
// KiB pages) or in one of 8192 16 KiB arrays (kmalloc'd, the kernel's
// large-page direct map), read an entry of a 2, 8 or 32 MiB array (the
// cost of one read against the size of the table), or read nothing
// ("none"), each of 4096 random sources once per round as in BenchmarkCold,
// alternating.
func BenchmarkColdRead(b *testing.B) {
	privileged.Require(b)
	p, err := membench.Load()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	r := rand.New(rand.NewPCG(13, 14))
	frames := make([][]byte, 4096)
	for i := range frames {
		x := r.Uint32()
		a := netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
		frames[i] = xdptest.TCP(a, a)
	}
	progs := []struct {
		name string
		prog *ebpf.Program
	}{{"none", p.NoneProg}, {"2MiB", p.Sized2mProg}, {"8MiB", p.Sized8mProg}, {"32MiB", p.Sized32mProg},
		{"flat", p.FlatProg}, {"split", p.SplitProg}}
	stats := make([]stat, len(progs))
	for b.Loop() {
		for i, pr := range progs {
			var round time.Duration
			for _, f := range frames {
				_, d, err := pr.prog.Benchmark(f, 1, nil)
				if err != nil {
					b.Fatal(err)
				}
				round += d
			}
			stats[i].add(round / time.Duration(len(frames)))
		}
	}
	for i, pr := range progs {
		b.ReportMetric(stats[i].mean(), pr.name+"-ns/packet")
		b.ReportMetric(float64(stats[i].best.Nanoseconds()), pr.name+"-min-ns/packet")
	}
}
