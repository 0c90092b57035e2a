package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// DefaultBurstMaxSources sizes the burst meter's table when
// Options.BurstMaxSources is zero.
const DefaultBurstMaxSources = 65536

var _ enforce.BurstMeter = (*XDP)(nil)

// SetBurst applies the burst meter's settings (see filter.c, "Burst
// meter"). Rates, bursts, ports, ban duration and the switch take effect at
// once through the settings map; a new MaxSources needs a new meter table, so
// the program is reloaded with it and swapped into every link in place
// (link.Update: no moment without a filter; the meter starts afresh, bans
// stay).
func (x *XDP) SetBurst(b enforce.Burst) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("set burst meter: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if b.MaxSources != x.meterSize {
		if err := x.resizeMeterLocked(b.MaxSources); err != nil {
			return fmt.Errorf("set burst meter: %w", err)
		}
	}
	tick, err := tickNs()
	if err != nil {
		return fmt.Errorf("set burst meter: %w", err)
	}
	cfg := burstSettings(b, tick)
	if err := x.objs.Burst.Update(uint32(0), &cfg, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("set burst meter: %w", err)
	}
	return nil
}

// burstSettings turns rates into GCRA intervals and tolerances (burst.h);
// tick is the kernel tick's length in ns, the unit of the meter's clock.
func burstSettings(b enforce.Burst, tick uint64) filterBurstCfg {
	c := filterBurstCfg{BanNs: uint64(b.BanFor), V6Prefix: uint32(b.IPv6Prefix), JiffyNs: tick}
	if b.On {
		c.On = 1
	}
	if b.SYNRate > 0 {
		c.SynInterval = max(1, uint64(float64(time.Second)/b.SYNRate))
		c.SynTolerance = uint64(b.SYNBurst-1) * c.SynInterval
	}
	if b.PacketRate > 0 {
		c.PktInterval = max(1, uint64(float64(time.Second)/b.PacketRate))
		c.PktTolerance = uint64(b.PacketBurst-1) * c.PktInterval
	}
	for _, p := range b.Ports {
		c.Ports[p/64] |= 1 << (p % 64)
	}
	return c
}

// meterWays is METER_WAYS in filter.c: the slots of one meter set.
const meterWays = 4

// sizeMeters sizes the meter table of spec for n sources (sets of
// meterWays slots, a power of two of them, at least n slots) and draws the
// seed of the hash that spreads sources over the sets.
func sizeMeters(spec *ebpf.CollectionSpec, n int) error {
	sets := uint32(1)
	for int(sets)*meterWays < n {
		sets <<= 1
	}
	spec.Maps["meters"].MaxEntries = sets
	if err := spec.Variables["meter_mask"].Set(sets - 1); err != nil {
		return fmt.Errorf("size burst meter: %w", err)
	}
	if err := spec.Variables["meter_seed"].Set(rand.Uint64()); err != nil {
		return fmt.Errorf("seed burst meter: %w", err)
	}
	return nil
}

// tickNs returns the length of a kernel tick (a jiffy) in ns: the
// resolution the kernel reports for its coarse clocks, which advance once
// a tick. The program's meter counts time in jiffies times this.
func tickNs() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_MONOTONIC_COARSE, &ts); err != nil {
		return 0, fmt.Errorf("read kernel tick length: %w", err)
	}
	if ns := ts.Nano(); ns > 0 && ns <= int64(time.Second) {
		return uint64(ns), nil
	}
	return 0, fmt.Errorf("read kernel tick length: coarse clock resolution %d ns", ts.Nano())
}

// resizeMeterLocked loads the program again with a meters map of n
// entries, every other map shared with the running one, and swaps it into
// the links. Called with x.mu held.
func (x *XDP) resizeMeterLocked(n int) error {
	spec, err := loadFilter()
	if err != nil {
		return err
	}
	if err := sizeMeters(spec, n); err != nil {
		return err
	}
	repl := map[string]*ebpf.Map{
		"block_v4": x.objs.BlockV4, "block_v6": x.objs.BlockV6, "block_v6_short": x.objs.BlockV6Short, "block_v6_front": x.objs.BlockV6Front, "allow_v4": x.objs.AllowV4, "allow_v6": x.objs.AllowV6,
		"bans": x.objs.Bans, "bans_net6": x.objs.BansNet6, "net_bans_on": x.objs.NetBansOn, "lists_disjoint": x.objs.ListsDisjoint, "stats": x.objs.Stats,
		"layout": x.objs.Layout, "burst": x.objs.Burst, "burst_events": x.objs.BurstEvents, "burst_stats": x.objs.BurstStats,
	}
	var fresh struct {
		Prog   *ebpf.Program `ebpf:"xdp_filter"`
		Meters *ebpf.Map     `ebpf:"meters"`
	}
	opts := &ebpf.CollectionOptions{MapReplacements: repl, Maps: ebpf.MapOptions{PinPath: x.pinPath}}
	if err := spec.LoadAndAssign(&fresh, opts); err != nil {
		return fmt.Errorf("load program with %d meter entries: %w", n, err)
	}
	for i, l := range x.links {
		if l.pending {
			continue // Activate swaps in x.objs.Prog, whichever it is then
		}
		if err := l.link.Update(fresh.Prog); err != nil {
			// Links already updated keep the new program, which shares
			// every map but the meter: put the old one back everywhere.
			for _, done := range x.links[:i] {
				if !done.pending {
					_ = done.link.Update(x.objs.Prog)
				}
			}
			fresh.Prog.Close()
			fresh.Meters.Close()
			return fmt.Errorf("swap program on %s: %w", l.Interface, err)
		}
	}
	old, oldMeters := x.objs.Prog, x.objs.Meters
	x.objs.Prog, x.objs.Meters = fresh.Prog, fresh.Meters
	x.meterSize = n
	x.log.Info("burst meter resized; program swapped in place", "max_sources", n)
	return errors.Join(old.Close(), oldMeters.Close())
}

// ReadBurstBan blocks until the program bans a source for a burst and
// returns the ban. It must not be called concurrently with itself. After
// Close it returns an error matching os.ErrClosed.
func (x *XDP) ReadBurstBan() (enforce.BurstBan, error) {
	rec, err := x.events.Read()
	if err != nil {
		return enforce.BurstBan{}, fmt.Errorf("read burst ban: %w", err)
	}
	var e filterBurstEvent
	if err := binary.Read(bytes.NewReader(rec.RawSample), binary.NativeEndian, &e); err != nil {
		return enforce.BurstBan{}, fmt.Errorf("read burst ban: %d-byte event: %w", len(rec.RawSample), err)
	}
	return burstBan(e, time.Now(), monoNow())
}

// burstBan converts an event; now and mono are the wall and monotonic
// clocks read together.
func burstBan(e filterBurstEvent, now time.Time, mono uint64) (enforce.BurstBan, error) {
	a := netip.AddrFrom16(e.Addr)
	src := enforce.Host(a)
	if e.Prefixlen < 128 {
		src = netip.PrefixFrom(a, int(e.Prefixlen))
	}
	src, err := enforce.BanSource(src)
	if err != nil {
		return enforce.BurstBan{}, fmt.Errorf("read burst ban: %w", err)
	}
	b := enforce.BurstBan{Source: src, Until: now.Add(time.Duration(int64(e.Until - mono))), Bucket: enforce.BucketPackets}
	if e.Bucket == filterBurstBucketBURST_SYN {
		b.Bucket = enforce.BucketSYN
	}
	return b, nil
}

// burstStats sums the meter's per-CPU counters into st.
func (x *XDP) burstStats(st *enforce.Stats) error {
	var perCPU []uint64
	for c, dst := range map[filterBurstCounter]*uint64{
		filterBurstCounterBURST_BANS:        &st.BurstBans,
		filterBurstCounterBURST_BAN_FAILED:  &st.BurstBanFailures,
		filterBurstCounterBURST_EVENTS_LOST: &st.BurstEventsLost,
	} {
		if err := x.objs.BurstStats.Lookup(uint32(c), &perCPU); err != nil {
			return fmt.Errorf("read burst meter stats: %w", err)
		}
		for _, v := range perCPU {
			*dst += v
		}
	}
	return nil
}

// newEventReader opens the burst meter's ring buffer.
func newEventReader(m *ebpf.Map) (*ringbuf.Reader, error) {
	r, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("open burst events: %w", err)
	}
	return r, nil
}
