package bpf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/bpf/internal/dir24"
	"github.com/edgeguard/edgeguard/bpf/internal/v6front"
	"github.com/edgeguard/edgeguard/bpf/xdptest"
	"github.com/edgeguard/edgeguard/internal/privileged"
)

// TestDeltaManyScatteredPages applies deltas that touch more first-level
// pages than one gathered batch holds (one host in each of 1500 pages, so
// every page is a run of its own), and takes them out again, on the batch
// and on the per-element path, checking each host's verdict and its
// neighbour's after both steps.
func TestDeltaManyScatteredPages(t *testing.T) {
	const n = batchPages + batchPages/2
	hosts := make([]netip.Prefix, n)
	for i := range hosts {
		idx := uint32(i) * (dir24.Tbl24Pages / n) * dir24.PageWords // a /24 in page i*(16384/n)
		a := idx<<8 | 7
		hosts[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), 32)
	}
	for _, tc := range []struct {
		name    string
		noBatch bool
	}{{"batch", false}, {"one by one", true}} {
		t.Run(tc.name, func(t *testing.T) {
			x := openTest(t)
			if err := x.ReplaceBlocklist(prefixes("10.0.0.1/32")); err != nil {
				t.Fatal(err)
			}
			x.noBatch = tc.noBatch
			before, _ := x.Stats()
			table := x.dirMap
			for step, add := range []bool{true, false} {
				var err error
				if add {
					err = x.ApplyBlocklistDelta(hosts, nil)
				} else {
					err = x.ApplyBlocklistDelta(nil, hosts)
				}
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				want := uint32(ActionPass)
				if add {
					want = ActionDrop
				}
				for _, h := range hosts {
					a := h.Addr()
					if got := testRun(t, x, xdptest.TCP(a, a)); got != want {
						t.Fatalf("step %d: %v: action %d, want %d", step, a, got, want)
					}
					if got := testRun(t, x, xdptest.TCP(a.Next(), a)); got != ActionPass {
						t.Fatalf("step %d: %v: action %d, want pass", step, a.Next(), got)
					}
				}
			}
			if x.dirMap != table {
				t.Fatal("the deltas rebuilt the table instead of writing pages in place")
			}
			st, _ := x.Stats()
			batch, elem := st.BatchWrites-before.BatchWrites, st.ElementWrites-before.ElementWrites
			if total := batch + elem; total < 2*n {
				t.Fatalf("%d page writes for two deltas of %d pages each", total, n)
			}
			if tc.noBatch != (batch == 0) {
				t.Fatalf("writes batch/element = %d/%d with noBatch %v", batch, elem, tc.noBatch)
			}
		})
	}
}

// TestDeltaIsAtomic keeps running packets while deltas rewrite the table
// entries and chunk bitmaps of addresses blocked before and after each
// delta (a chunk growing into a full /24 and back, a bitmap rewritten in
// place, a trie prefix widened and narrowed): they must never pass, and an
// unlisted neighbour must never drop.
func TestDeltaIsAtomic(t *testing.T) {
	x := openTest(t)
	base := prefixes("10.7.7.0/25", "10.7.7.128/26", "10.9.9.7/32", "2001:db8:bad::/49")
	if err := x.ReplaceBlocklist(base); err != nil {
		t.Fatal(err)
	}
	delta := prefixes("10.7.7.192/26", "10.9.9.8/31", "2001:db8:bad:8000::/49")
	probes := []struct {
		frame []byte
		want  uint32
	}{
		{tcp("10.7.7.5"), ActionDrop},
		{tcp("10.9.9.7"), ActionDrop},
		{tcp("2001:db8:bad::9"), ActionDrop},
		{tcp("10.9.9.6"), ActionPass},
		{tcp("10.7.8.1"), ActionPass},
	}
	var stop atomic.Bool
	var wrong, runs atomic.Int64
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Go(func() {
			for !stop.Load() {
				action, _, err := x.TestRun(p.frame, 20)
				if err != nil || action != p.want {
					wrong.Add(1)
				}
				runs.Add(1)
			}
		})
	}
	// At least 100 deltas, and until the readers have had a fair share of
	// them, within a bounded time.
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; (i < 100 || runs.Load() < 5000) && time.Now().Before(deadline); i++ {
		var err error
		if i%2 == 0 {
			err = x.ApplyBlocklistDelta(delta, nil)
		} else {
			err = x.ApplyBlocklistDelta(nil, delta)
		}
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("delta %d: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if wrong.Load() > 0 {
		t.Fatalf("%d of %d runs saw a wrong verdict during deltas", wrong.Load(), runs.Load())
	}
	t.Logf("%d runs of 20 packets during the deltas", runs.Load())
}

// TestDeltasRecycleChunks streams deltas that each give a few thousand /24s
// a chunk and take the previous ones away: far more chunks than the table
// has spare. Recycling after a grace period must keep the live table
// patched in place (no rebuild, same inner map), with correct verdicts.
func TestDeltasRecycleChunks(t *testing.T) {
	x := openTest(t)
	if err := x.ReplaceBlocklist(prefixes("10.0.0.1/32")); err != nil {
		t.Fatal(err)
	}
	table := x.dirMap
	spare := x.dir.ChunksFree()
	per := spare / 3 // three deltas' worth retired before the table would run out
	var prev []netip.Prefix
	for step := range 12 {
		// Two hosts per /24, a different /24 every time: one host alone
		// would be held in its first-level entry, without a chunk.
		hosts := make([]netip.Prefix, 0, 2*per)
		for i := range per {
			n := step*per + i
			hosts = append(hosts, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(20 + n>>16), byte(n >> 8), byte(n), 9}), 32),
				netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(20 + n>>16), byte(n >> 8), byte(n), 200}), 32))
		}
		if err := x.ApplyBlocklistDelta(hosts, prev); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for _, p := range []netip.Prefix{hosts[0], hosts[len(hosts)-1]} {
			if got := testRun(t, x, xdptest.TCP(p.Addr(), p.Addr())); got != ActionDrop {
				t.Fatalf("step %d: %v: action %d, want drop", step, p, got)
			}
		}
		if len(prev) > 0 {
			if got := testRun(t, x, xdptest.TCP(prev[0].Addr(), prev[0].Addr())); got != ActionPass {
				t.Fatalf("step %d: removed %v: action %d, want pass", step, prev[0], got)
			}
		}
		prev = hosts
		x.recycleWG.Wait() // let a scheduled recycle finish, as the ~20 ms between real deltas would
	}
	if x.dirMap != table || x.dirRebuilds.Load() != 0 {
		t.Fatalf("table rebuilt %d times: recycling did not keep up", x.dirRebuilds.Load())
	}
	if x.chunkRecycles.Load() == 0 {
		t.Fatal("no recycle ran")
	}
	t.Logf("%d recycles over 12 deltas of %d chunks with %d spare", x.chunkRecycles.Load(), per, spare)
}

const v4FrontOff = dir24.FrontBase * int(unsafe.Sizeof(dir24.Page{}))

// change is a source's verdict before and after a list change.
type change struct {
	src         string
	before, now uint32
}

// checkChange runs each source and compares with its verdict before the
// change, or after it.
func checkChange(t *testing.T, x *XDP, when string, cs []change, after bool) {
	t.Helper()
	for _, c := range cs {
		want := c.before
		if after {
			want = c.now
		}
		if got := testRun(t, x, tcp(c.src)); got != want {
			t.Errorf("%s: %s: action %d, want %d", when, c.src, got, want)
		}
	}
}

// TestFrontRewrite follows a delta's rewrite of live front records: while
// the changed records are marked invalid, packets of their /17s must get
// the delta's verdicts from the summary, and afterwards from the records;
// a /17 whose record overflows (more ranges than slots) answers through the
// summary all along.
func TestFrontRewrite(t *testing.T) {
	x := openTest(t)
	var dense []string
	for i := range 20 {
		dense = append(dense, fmt.Sprintf("10.5.%d.1/32", 2*i)) // 20 ranges in 10.5.0.0/17: overflow
	}
	if err := x.ReplaceBlocklist(prefixes(append(dense, "10.7.7.0/25", "10.9.0.0/22")...)); err != nil {
		t.Fatal(err)
	}
	add := prefixes("10.7.7.128/25", "10.9.4.0/24", "10.9.9.9/32", "10.5.99.1/32")
	remove := prefixes("10.9.0.0/22")
	want := []change{
		{"10.7.7.1", ActionDrop, ActionDrop},
		{"10.7.7.200", ActionPass, ActionDrop},
		{"10.9.1.1", ActionDrop, ActionPass},
		{"10.9.4.4", ActionPass, ActionDrop},
		{"10.9.9.9", ActionPass, ActionDrop},
		{"10.9.9.8", ActionPass, ActionPass},
		{"10.5.2.1", ActionDrop, ActionDrop},
		{"10.5.99.1", ActionPass, ActionDrop},
		{"10.5.99.2", ActionPass, ActionPass},
	}
	check := func(when string, after bool) { t.Helper(); checkChange(t, x, when, want, after) }
	check("before the delta", false)
	invalid := 0
	x.frontHook = func() {
		for _, r := range x.dir.FrontChanged() {
			if x.dirMap.record(v4FrontOff, r)[15]>>16 != dir24.FrontInvalid {
				t.Errorf("record %#x not marked invalid during its rewrite", r)
			}
			invalid++
		}
		check("records invalid", true)
	}
	if err := x.ApplyBlocklistDelta(add, remove); err != nil {
		t.Fatal(err)
	}
	x.frontHook = nil
	if invalid < 2 {
		t.Fatalf("%d records rewritten, want those of 10.7.0.0/17 and 10.9.0.0/17 at least", invalid)
	}
	check("after the delta", true)
	for _, src := range []string{"10.7.7.1", "10.9.4.4"} {
		a := netip.MustParseAddr(src).As4()
		r := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8) >> 15
		if rec := dir24.Record(*x.dirMap.record(v4FrontOff, r)); rec != x.dir.Record(r) || rec[15]>>16 != 0 {
			t.Errorf("live record of %s is %x, want %x", src, rec, x.dir.Record(r))
		}
	}
}

// TestFrontStateRace: a /17 whose record uses all 15 slots, and a source in
// none of them, whose lookup ends at slot 15 (the state). Another CPU marks
// the record invalid and valid again over and over, as a delta's rewrite
// does: the source must never be dropped (reading the state as a code
// dropped it). Bounded to ~300 ms.
func TestFrontStateRace(t *testing.T) {
	x := openTest(t)
	var ss []string
	for i := range dir24.FrontSlots {
		ss = append(ss, fmt.Sprintf("10.2.%d.9/32", 2*i))
	}
	if err := x.ReplaceBlocklist(prefixes(ss...)); err != nil {
		t.Fatal(err)
	}
	frame := tcp("10.2.1.254")
	if got := testRun(t, x, frame); got != ActionPass {
		t.Fatalf("before the race: action %d, want pass", got)
	}
	rec := x.dirMap.record(v4FrontOff, 0x0a0201>>7)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			v := atomic.LoadUint32(&rec[15])
			atomic.StoreUint32(&rec[15], v|dir24.FrontInvalid<<16)
			atomic.StoreUint32(&rec[15], v)
		}
	}()
	before, _ := x.Stats()
	runs := 0
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); runs += 2000 {
		if _, _, err := x.TestRun(frame, 2000); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	<-done
	after, _ := x.Stats()
	if d := after.Verdicts[enforce.ReasonDropBlocklist].Packets - before.Verdicts[enforce.ReasonDropBlocklist].Packets; d > 0 {
		t.Fatalf("%d of %d runs of an unlisted source dropped", d, runs)
	}
}

// TestFrontRewrite6 follows a delta of the IPv6 table: the front is off
// (block_v6_short without its bits) while the table is written, packets
// then get the delta's verdicts from the table, and afterwards from the
// front, which is on again and answers for them.
func TestFrontRewrite6(t *testing.T) {
	x := openTest(t)
	if err := x.ReplaceBlocklist(prefixes("2001:db8:1::/48", "2001:db9::/32", "2001:dba::1/128", "2400::/12")); err != nil {
		t.Fatal(err)
	}
	add := prefixes("2001:dbc:2::/48", "2001:dbb::/64")
	remove := prefixes("2001:db9::/32", "2001:dba::1/128")
	want := []change{
		{"2001:db8:1::1", ActionDrop, ActionDrop},
		{"2001:dbc:2::1", ActionPass, ActionDrop},
		{"2001:db9:5::1", ActionDrop, ActionPass},
		{"2001:dba::1", ActionDrop, ActionPass},
		{"2001:dbb::7", ActionPass, ActionDrop},
		{"2001:dbb:0:1::7", ActionPass, ActionPass},
		{"2400:5::1", ActionDrop, ActionDrop}, // a short CIDR: no node
		{"2a00::1", ActionPass, ActionPass},
	}
	check := func(when string, after bool) { t.Helper(); checkChange(t, x, when, want, after) }
	check("before the delta", false)
	var word uint64
	hooked := false
	x.frontHook = func() {
		hooked = true
		if err := x.objs.BlockV6Short.Lookup(uint32(0), &word); err != nil || word>>v6front.ShortBitsShift != 0 {
			t.Errorf("block_v6_short = %#x (%v) while the table changes: the front is on", word, err)
		}
		check("front off", true)
	}
	if err := x.ApplyBlocklistDelta(add, remove); err != nil {
		t.Fatal(err)
	}
	x.frontHook = nil
	if !hooked {
		t.Fatal("the delta never turned the front off")
	}
	check("after the delta", true)
	for _, w := range want[:5] {
		a := netip.MustParseAddr(w.src).As16()
		if got := x.tab6.front.Lookup(a); got != v6front.Blocked && got != v6front.Pass && got != v6front.NoNode {
			t.Errorf("%s: the front does not answer (%d)", w.src, got)
		}
	}
	if err := x.objs.BlockV6Short.Lookup(uint32(0), &word); err != nil || word>>v6front.ShortBitsShift != uint64(x.tab6.front.Bits()) {
		t.Errorf("block_v6_short = %#x (%v): the front is not on", word, err)
	}
}

// bigV6List is a list whose short CIDRs (a /18 cover, tagged) a delta
// spreads over nodes, among enough /48s to give the front many sets.
func bigV6List() []netip.Prefix {
	list := prefixes("2400::/20", "2400:1000::/20", "2400:2000::/19", "2001:db8::/48")
	for i := range 40000 {
		list = append(list, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x2a, 0, byte(i >> 8), byte(i), 0, 1}), 48))
	}
	return list
}

// TestDeltaSplitsShortCIDR: taking 2400:1000::/20 out of a /18 cover turns
// a tagged short entry into 4096 covered nodes and back. 2400:4::1 is
// blocked throughout and must never pass meanwhile (the front's "no node"
// for a /32 whose node had just been written passed it, with the short
// entry already gone: 2055 of 111,286 runs).
func TestDeltaSplitsShortCIDR(t *testing.T) {
	x := openTest(t)
	if err := x.ReplaceBlocklist(bigV6List()); err != nil {
		t.Fatal(err)
	}
	frame := tcp("2400:4::1")
	var stop atomic.Bool
	var runs, passed atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			if a, _, err := x.TestRun(frame, 1); err != nil || a != ActionDrop {
				passed.Add(1)
			}
			runs.Add(1)
		}
	})
	for range 10 {
		if err := x.ApplyBlocklistDelta(nil, prefixes("2400:1000::/20")); err != nil {
			t.Error(err)
			break
		}
		if err := x.ApplyBlocklistDelta(prefixes("2400:1000::/20"), nil); err != nil {
			t.Error(err)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if passed.Load() > 0 {
		t.Fatalf("%d of %d runs of 2400:4::1 (blocked throughout) passed", passed.Load(), runs.Load())
	}
}

// TestShortLengthsAbove19: 65 /20s exceed v6tab's node budget, so the /20s
// stay tagged entries with a short length of 20, which the program must
// probe (the front's bits once shared its word with lengths 20-31).
func TestShortLengthsAbove19(t *testing.T) {
	x := openTest(t)
	var list []netip.Prefix
	for i := range 65 {
		list = append(list, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x24, byte(i >> 3), byte(i << 5)}), 20))
	}
	if err := x.ReplaceBlocklist(list); err != nil {
		t.Fatal(err)
	}
	if x.tab6.layout.Expand <= 20 {
		t.Fatalf("Expand %d: the /20s were spread over nodes, the test needs them tagged", x.tab6.layout.Expand)
	}
	for _, src := range []string{"2400::1", "2400:2000::1", "2401::5", "2408::9"} {
		if got := testRun(t, x, tcp(src)); got != ActionDrop {
			t.Errorf("%s: action %d, want drop (listed /20)", src, got)
		}
	}
	if got := testRun(t, x, tcp("2408:2000::1")); got != ActionPass {
		t.Errorf("2408:2000::1: action %d, want pass", got)
	}
}

// failAt makes IPv6 table operation stage fail while armed.
func failAt(x *XDP, stages ...string) (disarm func()) {
	x.failV6 = func(stage string) error {
		if slices.Contains(stages, stage) {
			return errors.New("injected failure at " + stage)
		}
		return nil
	}
	return func() { x.failV6 = nil }
}

// TestFailedReplaceAfterRestart: a restarted process knows nothing of the
// pinned IPv6 table still in the slot; its first replace fails while
// building. The block_v6_short word must stay that table's (it was written
// from this process's empty view: its short lengths went, and 2400::/12
// passed).
func TestFailedReplaceAfterRestart(t *testing.T) {
	x := openTest(t)
	if err := x.ReplaceBlocklist(prefixes("2400::/12", "2001:db8:1::/48")); err != nil {
		t.Fatal(err)
	}
	x.Close()
	y, err := Open(Options{PinPath: x.PinPath(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { y.Detach() })
	if got := testRun(t, y, tcp("2400:5::1")); got != ActionDrop {
		t.Fatalf("after the restart: action %d, want drop", got)
	}
	disarm := failAt(y, "build")
	err = y.ReplaceBlocklist(prefixes("2400::/12", "2001:db8:2::/48"))
	disarm()
	if err == nil {
		t.Fatal("the replace did not fail")
	}
	for _, src := range []string{"2400:5::1", "2001:db8:1::1"} {
		if got := testRun(t, y, tcp(src)); got != ActionDrop {
			t.Errorf("%s (in the pinned list) after a failed replace: action %d, want drop", src, got)
		}
	}
}

// TestFailedDeltaKeepsFrontOff: a delta whose in-place write fails
// half way, and whose rebuild fails too, leaves a half-written table; its
// front must never come back on (a replace that then failed before
// swapping turned it on, and its "no node" passed 2400:4::1, blocked
// before, during and after).
func TestFailedDeltaKeepsFrontOff(t *testing.T) {
	x := openTest(t)
	if err := x.ReplaceBlocklist(bigV6List()); err != nil {
		t.Fatal(err)
	}
	disarm := failAt(x, "delete", "build")
	if err := x.ApplyBlocklistDelta(nil, prefixes("2400:1000::/20")); err == nil {
		t.Fatal("the delta did not fail")
	}
	if got := testRun(t, x, tcp("2400:4::1")); got != ActionDrop {
		t.Errorf("after the failed delta: action %d, want drop", got)
	}
	if err := x.ReplaceBlocklist(bigV6List()); err == nil {
		t.Fatal("the replace did not fail")
	}
	disarm()
	if got := testRun(t, x, tcp("2400:4::1")); got != ActionDrop {
		t.Errorf("after a failed replace: action %d, want drop", got)
	}
	if err := x.ReplaceBlocklist(bigV6List()); err != nil {
		t.Fatal(err)
	}
	if got := testRun(t, x, tcp("2400:4::1")); got != ActionDrop {
		t.Errorf("after a good replace: action %d, want drop", got)
	}
	var word uint64
	if err := x.objs.BlockV6Short.Lookup(uint32(0), &word); err != nil || word>>v6front.ShortBitsShift == 0 {
		t.Errorf("block_v6_short = %#x (%v) after a good replace: the front is off", word, err)
	}
}

// TestFrontOverflowFlips runs packets while deltas move one /17's record
// between slots (14 ranges) and the overflow record (18): a source listed
// throughout must always drop, unlisted ones in the /17 never.
func TestFrontOverflowFlips(t *testing.T) {
	x := openTest(t)
	var base, extra []string
	for i := range 14 {
		base = append(base, fmt.Sprintf("10.20.%d.9/32", 2*i))
	}
	for i := range 4 {
		extra = append(extra, fmt.Sprintf("10.20.%d.0/24", 100+2*i))
	}
	if err := x.ReplaceBlocklist(prefixes(base...)); err != nil {
		t.Fatal(err)
	}
	probes := []change{
		{"10.20.0.9", ActionDrop, ActionDrop},
		{"10.20.26.9", ActionDrop, ActionDrop},
		{"10.20.1.9", ActionPass, ActionPass},
		{"10.20.0.10", ActionPass, ActionPass},
		{"10.20.127.254", ActionPass, ActionPass},
	}
	var stop atomic.Bool
	var wrong, runs atomic.Int64
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Go(func() {
			frame := tcp(p.src)
			for !stop.Load() {
				if a, _, err := x.TestRun(frame, 20); err != nil || a != p.before {
					wrong.Add(1)
				}
				runs.Add(1)
			}
		})
	}
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; i < 60 && time.Now().Before(deadline); i++ {
		var err error
		if i%2 == 0 {
			err = x.ApplyBlocklistDelta(prefixes(extra...), nil)
		} else {
			err = x.ApplyBlocklistDelta(nil, prefixes(extra...))
		}
		if err != nil {
			t.Error(err)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if wrong.Load() > 0 {
		t.Fatalf("%d of %d runs saw a wrong verdict while the record flipped", wrong.Load(), runs.Load())
	}
	if x.frontWrites.Load() == 0 {
		t.Fatal("no front record was rewritten")
	}
}

// TestIPv6DeltaOutgrowsTable adds /20s that spread over more /32 nodes
// than the IPv6 table has room for: the delta rebuilds the table, says so
// plainly (the map reports E2BIG, which cilium/ebpf words "key too big";
// that read as an error), and the verdicts follow.
func TestIPv6DeltaOutgrowsTable(t *testing.T) {
	privileged.Require(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	x, err := Open(Options{PinPath: testPinPath(t), Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Detach() })
	if err := x.ReplaceBlocklist(prefixes("2001:db8::/48")); err != nil {
		t.Fatal(err)
	}
	before := x.tab6
	if err := x.ApplyBlocklistDelta(prefixes("2e00::/20", "2e01::/20", "2e02:1000::/20"), nil); err != nil {
		t.Fatal(err)
	}
	if x.tab6 == before {
		t.Fatal("the table was patched in place: the test needs a delta larger than its room")
	}
	for _, c := range []change{{"2e00:fff::1", 0, ActionDrop}, {"2e02:1fff::1", 0, ActionDrop}, {"2e02:2000::1", 0, ActionPass},
		{"2001:db8::1", 0, ActionDrop}} {
		if got := testRun(t, x, tcp(c.src)); got != c.now {
			t.Errorf("%s: action %d, want %d", c.src, got, c.now)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if out := logs.String(); strings.Contains(out, "level=WARN") || !strings.Contains(out, "no room for this delta") {
		t.Errorf("log:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
