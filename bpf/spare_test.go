package bpf

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

// TestReplacePatchesSpare replaces the blocklist with versions that differ
// by a few per cent, so that each replace patches the tables the one before
// swapped out: after every replace the kernel's verdicts match the list
// (at the edges of every prefix of any version that this one lacks, and of
// a sample of its own), and meanwhile goroutines
// running packets from addresses blocked in every version, or in none,
// never see a wrong verdict.
func TestReplacePatchesSpare(t *testing.T) {
	x := openTest(t)
	r := rand.New(rand.NewPCG(21, 22))
	version := append([]netip.Prefix{}, spareAlways...)
	for range 20_000 {
		version = append(version, drawSparePrefix(r))
	}
	var versions [][]netip.Prefix
	for range 6 {
		versions = append(versions, version)
		next := slices.Clone(version)
		for range 300 {
			i := len(spareAlways) + r.IntN(len(next)-len(spareAlways))
			next[i] = drawSparePrefix(r)
		}
		version = next
	}
	// Forth and back, so that spares are patched both ways.
	replaceChecked(t, x, r, versions, []int{0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0})
	// Every replace after the second has a spare one version away.
	if got, want := x.sparePatches.Load(), uint64(2*(11-2)); got < want {
		t.Errorf("%d tables patched from spares, want at least %d", got, want)
	}
}

// TestReplaceReloadsSpare replaces the blocklist with unrelated lists in
// turn (of different sizes), so that each replace from the third on reloads
// the IPv4 table the one before swapped out with a list it shares almost
// nothing with: verdicts match the list after every replace and packets
// running meanwhile never see a wrong verdict.
func TestReplaceReloadsSpare(t *testing.T) {
	x := openTest(t)
	r := rand.New(rand.NewPCG(23, 24))
	var lists [][]netip.Prefix
	for _, n := range []int{20_000, 12_000, 16_000} {
		l := append([]netip.Prefix{}, spareAlways...)
		for range n {
			l = append(l, drawSparePrefix(r))
		}
		lists = append(lists, l)
	}
	order := []int{0, 1, 2, 0, 1, 2, 0, 1}
	replaceChecked(t, x, r, lists, order)
	if got, want := x.spareReloads.Load(), uint64(len(order)-2); got < want {
		t.Errorf("%d IPv4 tables reloaded from spares, want at least %d", got, want)
	}
	if got := x.sparePatches.Load(); got != 0 {
		t.Errorf("%d tables patched from spares of unrelated lists, want 0", got)
	}
}

// spareAlways is in every list of the spare tests.
var spareAlways = prefixes("203.0.113.0/24", "2001:db8:bad::/48")

// drawSparePrefix draws an IPv4 prefix in 1.0.0.0-100.255.255.255 (/16 to
// /32) or, one in five, an IPv6 one: nodes covered (/24, /30), inline or
// tagged CIDRs below a /32 in 2400::/14 or, rarely, a short one probed by
// length.
func drawSparePrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(5) != 0 {
		a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(100)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		return netip.PrefixFrom(a, 16+r.IntN(17)).Masked()
	}
	var b [16]byte
	b[0], b[1], b[2], b[3], b[5], b[15] = 0x24, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(4)), byte(r.IntN(4)), byte(r.IntN(256))
	if r.IntN(50) == 0 { // a tagged entry, probed by length
		b[0] = byte(0x30 + r.IntN(16))
		return netip.PrefixFrom(netip.AddrFrom16(b), 14).Masked()
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), []int{24, 30, 48, 56, 64, 128, 128}[r.IntN(7)]).Masked()
}

// replaceChecked replaces x's blocklist by lists[i] for i in order while
// goroutines run packets from addresses that every list blocks (spareAlways)
// or none does, and fails on any wrong verdict they see. After each replace
// it checks the verdict at the edges of every prefix of the other lists that
// this one lacks, and of a sample of its own.
func replaceChecked(t *testing.T, x *XDP, r *rand.Rand, lists [][]netip.Prefix, order []int) {
	t.Helper()
	if err := x.ReplaceBlocklist(lists[order[0]]); err != nil {
		t.Fatal(err)
	}
	probes := []struct {
		frame []byte
		want  uint32
	}{
		{tcp("203.0.113.9"), ActionDrop},
		{tcp("2001:db8:bad::9"), ActionDrop},
		{tcp("192.0.2.9"), ActionPass},
		{tcp("2001:db8:ffff::9"), ActionPass},
	}
	var stop atomic.Bool
	var wrong, runs atomic.Int64
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Go(func() {
			for !stop.Load() {
				if action, _, err := x.TestRun(p.frame, 100); err != nil || action != p.want {
					wrong.Add(1)
				}
				runs.Add(1)
			}
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
		if wrong.Load() > 0 {
			t.Fatalf("%d of %d runs saw a wrong verdict during replacement", wrong.Load(), runs.Load())
		}
	}()
	for _, v := range order[1:] {
		if err := x.ReplaceBlocklist(lists[v]); err != nil {
			t.Fatal(err)
		}
		in := map[netip.Prefix]bool{}
		for _, p := range lists[v] {
			in[p] = true
		}
		p4, p6, err := cidrset.Split("test", lists[v])
		if err != nil {
			t.Fatal(err)
		}
		s4, s6 := cidrset.New(p4), cidrset.New(p6)
		var edges []netip.Addr
		for _, p := range lists[v] {
			if r.IntN(20) == 0 {
				edges = append(edges, p.Addr(), lastAddr(p), lastAddr(p).Next(), p.Addr().Prev())
			}
		}
		for _, other := range lists {
			for _, p := range other {
				if !in[p] {
					edges = append(edges, p.Addr(), lastAddr(p), lastAddr(p).Next(), p.Addr().Prev())
				}
			}
		}
		for _, a := range edges {
			if !a.IsValid() {
				continue
			}
			want := uint32(ActionPass)
			if s4.Contains(cidrset.AddrFrom(a)) || s6.Contains(cidrset.AddrFrom(a)) {
				want = ActionDrop
			}
			if got := testRun(t, x, tcp(a.String())); got != want {
				t.Fatalf("list %d: %v: action %d, want %d", v, a, got, want)
			}
		}
	}
}
