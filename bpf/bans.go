package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// monoNow reads CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns.
func monoNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // cannot fail for this clock
	return uint64(ts.Nano())
}

// Ban drops packets from src (an address, or an IPv6 network: see
// enforce.BanSource) until the given time, measured by the kernel's
// monotonic clock (the ban does not move when the wall clock is stepped).
func (x *XDP) Ban(src netip.Prefix, until time.Time) error {
	src, err := enforce.BanSource(src)
	if err != nil {
		return err
	}
	now := time.Now()
	if !until.After(now) {
		return x.Unban(src)
	}
	expiry := monoNow() + uint64(until.Sub(now))
	x.banMu.Lock()
	defer x.banMu.Unlock()
	if !src.IsSingleIP() {
		return x.banNetLocked(src, expiry)
	}
	m, key := x.banMap(src)
	err = m.Update(key, expiry, ebpf.UpdateAny)
	if errors.Is(err, unix.E2BIG) || errors.Is(err, unix.ENOSPC) {
		// Full: make room by dropping expired bans, then retry once.
		if _, serr := x.sweepLocked(); serr != nil {
			return fmt.Errorf("ban %s: %w", enforce.FormatSource(src), serr)
		}
		err = m.Update(key, expiry, ebpf.UpdateAny)
	}
	if err != nil {
		return fmt.Errorf("ban %s: %w", enforce.FormatSource(src), err)
	}
	return nil
}

// Network bans live in an LPM trie, and a trie lookup returns the longest
// matching entry only: a /64 banned for 10 minutes inside a /48 banned for
// a day would, once expired, let its /64 through. So each trie entry holds
// its effective expiry, the latest of its own ban and every ban covering
// it, and user space keeps the bans' own expiries (netOwn) to recompute
// the entries a change covers. Callers hold banMu.

// loadNetOwnLocked fills netOwn from the trie the first time it is needed
// (maps pinned by an earlier run hold effective expiries: taken as own,
// which can only make a ban last longer).
func (x *XDP) loadNetOwnLocked() error {
	if x.netOwn != nil {
		return nil
	}
	x.netOwn, x.netLens = map[netip.Prefix]uint64{}, [129]int{}
	var (
		key    filterLpmV6Key
		expiry uint64
	)
	it := x.objs.BansNet6.Iterate()
	for it.Next(&key, &expiry) {
		x.setOwn(netip.PrefixFrom(netip.AddrFrom16(key.Addr), int(key.Prefixlen)), expiry)
	}
	if err := it.Err(); err != nil {
		x.netOwn = nil // try again next time
		return fmt.Errorf("read network bans: %w", err)
	}
	return nil
}

// effective is the latest expiry of p's own ban and every ban covering p:
// one map lookup per prefix length that holds a ban (at most 97).
func (x *XDP) effective(p netip.Prefix) uint64 {
	var e uint64
	for b := enforce.MinNetBanBits; b <= p.Bits(); b++ {
		if x.netLens[b] == 0 {
			continue
		}
		q, _ := p.Addr().Prefix(b)
		e = max(e, x.netOwn[q])
	}
	return e
}

// setOwn and dropOwn change netOwn and its per-length counts.
func (x *XDP) setOwn(p netip.Prefix, expiry uint64) {
	if _, ok := x.netOwn[p]; !ok {
		x.netLens[p.Bits()]++
	}
	x.netOwn[p] = expiry
}

func (x *XDP) dropOwn(p netip.Prefix) {
	if _, ok := x.netOwn[p]; ok {
		x.netLens[p.Bits()]--
		delete(x.netOwn, p)
	}
}

// rewriteCoveredLocked writes the effective expiry of every network ban
// that p covers (p itself included when banned). Bans of one length (the
// rate limiter's /64s) cover nothing but themselves: then it costs one
// write, not a scan of every ban.
func (x *XDP) rewriteCoveredLocked(p netip.Prefix) error {
	write := func(q netip.Prefix) error {
		key := filterLpmV6Key{Prefixlen: uint32(q.Bits()), Addr: q.Addr().As16()}
		if err := x.objs.BansNet6.Update(&key, x.effective(q), ebpf.UpdateAny); err != nil {
			return fmt.Errorf("ban %s: %w", enforce.FormatSource(q), err)
		}
		return nil
	}
	if _, ok := x.netOwn[p]; ok {
		if err := write(p); err != nil {
			return err
		}
	}
	longer := 0
	for b := p.Bits() + 1; b <= 128; b++ {
		longer += x.netLens[b]
	}
	if longer == 0 {
		return nil
	}
	for q := range x.netOwn {
		if q.Bits() > p.Bits() && p.Contains(q.Addr()) {
			if err := write(q); err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *XDP) banNetLocked(src netip.Prefix, expiry uint64) error {
	if err := x.loadNetOwnLocked(); err != nil {
		return fmt.Errorf("ban %s: %w", enforce.FormatSource(src), err)
	}
	prev, had := x.netOwn[src]
	x.setOwn(src, expiry)
	err := x.rewriteCoveredLocked(src)
	if errors.Is(err, unix.E2BIG) || errors.Is(err, unix.ENOSPC) {
		if _, serr := x.sweepLocked(); serr != nil {
			return fmt.Errorf("ban %s: %w", enforce.FormatSource(src), serr)
		}
		x.setOwn(src, expiry)
		err = x.rewriteCoveredLocked(src)
	}
	if err != nil {
		// Put the entries back as they were (best effort: the kernel just
		// refused a write).
		if had {
			x.setOwn(src, prev)
		} else {
			x.dropOwn(src)
			key := filterLpmV6Key{Prefixlen: uint32(src.Bits()), Addr: src.Addr().As16()}
			_ = x.objs.BansNet6.Delete(&key)
		}
		_ = x.rewriteCoveredLocked(src)
		return err
	}
	if err := x.objs.NetBansOn.Update(uint32(0), uint32(1), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("ban %s: switch network bans on: %w", enforce.FormatSource(src), err)
	}
	return nil
}

func (x *XDP) unbanNetLocked(src netip.Prefix) error {
	if err := x.loadNetOwnLocked(); err != nil {
		return fmt.Errorf("unban %s: %w", enforce.FormatSource(src), err)
	}
	key := filterLpmV6Key{Prefixlen: uint32(src.Bits()), Addr: src.Addr().As16()}
	if err := x.objs.BansNet6.Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unban %s: %w", enforce.FormatSource(src), err)
	}
	x.dropOwn(src)
	// Narrower bans it covered fall back to their own expiry.
	if err := x.rewriteCoveredLocked(src); err != nil {
		return err
	}
	return x.netBansOffIfEmpty()
}

// netBansOffIfEmpty lets the program skip the network ban trie again once
// it holds nothing. Called with banMu held after deleting network bans.
//
// The burst meter bans networks without banMu: one it adds between the
// check for emptiness and the switch going off would go unseen. So the
// switch is turned off first and the trie checked again after, and turned
// back on when a ban arrived meanwhile (the program turns it on after its
// own insert, which this second look then sees).
func (x *XDP) netBansOffIfEmpty() error {
	var k filterLpmV6Key
	err := x.objs.BansNet6.NextKey(nil, &k)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		err = x.objs.NetBansOn.Update(uint32(0), uint32(0), ebpf.UpdateAny)
		if err == nil {
			if err = x.objs.BansNet6.NextKey(nil, &k); err == nil {
				err = x.objs.NetBansOn.Update(uint32(0), uint32(1), ebpf.UpdateAny)
			} else if errors.Is(err, ebpf.ErrKeyNotExist) {
				err = nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("update network ban switch: %w", err)
	}
	return nil
}

// banMap returns the map and key for a normalized ban source: addresses in
// the bans hash (IPv4 stored IPv4-mapped, as the program looks them up),
// IPv6 networks in the bans_net6 trie.
func (x *XDP) banMap(src netip.Prefix) (*ebpf.Map, any) {
	if src.IsSingleIP() {
		return x.objs.Bans, &filterBanKey{Addr: src.Addr().As16()}
	}
	return x.objs.BansNet6, &filterLpmV6Key{Prefixlen: uint32(src.Bits()), Addr: src.Addr().As16()}
}

// Unban lifts the ban of src.
func (x *XDP) Unban(src netip.Prefix) error {
	src, err := enforce.BanSource(src)
	if err != nil {
		return fmt.Errorf("unban: %w", err)
	}
	x.banMu.Lock()
	defer x.banMu.Unlock()
	if !src.IsSingleIP() {
		return x.unbanNetLocked(src)
	}
	m, key := x.banMap(src)
	if err := m.Delete(key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unban %s: %w", enforce.FormatSource(src), err)
	}
	return nil
}

// Bans lists active bans and deletes expired ones from the map.
func (x *XDP) Bans() ([]enforce.Ban, error) {
	x.banMu.Lock()
	defer x.banMu.Unlock()
	bans, err := x.sweepLocked()
	if err != nil {
		return nil, fmt.Errorf("list bans: %w", err)
	}
	return bans, nil
}

// sweepLocked returns the active bans and deletes the expired ones.
func (x *XDP) sweepLocked() ([]enforce.Ban, error) {
	now, mono := time.Now(), monoNow()
	var bans []enforce.Ban
	keep := func(src netip.Prefix, expiry uint64) bool {
		if expiry <= mono {
			return false
		}
		bans = append(bans, enforce.Ban{Source: src, Until: now.Add(time.Duration(expiry - mono))})
		return true
	}
	var (
		key     filterBanKey
		expiry  uint64
		expired []filterBanKey
	)
	it := x.objs.Bans.Iterate()
	for it.Next(&key, &expiry) {
		if !keep(enforce.Host(netip.AddrFrom16(key.Addr)), expiry) {
			expired = append(expired, key)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("iterate bans: %w", err)
	}
	for i := range expired {
		// The program may have banned the source again since the
		// iteration read it (burst meter): look again just before the
		// delete, which leaves a window of microseconds instead of the
		// whole sweep's.
		if err := x.objs.Bans.Lookup(&expired[i], &expiry); err == nil && expiry > mono {
			keep(enforce.Host(netip.AddrFrom16(expired[i].Addr)), expiry)
			continue
		}
		if err := x.objs.Bans.Delete(&expired[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, fmt.Errorf("delete expired ban: %w", err)
		}
	}
	if err := x.loadNetOwnLocked(); err != nil {
		return nil, err
	}
	var (
		nkey     filterLpmV6Key
		nexpired []filterLpmV6Key
	)
	it = x.objs.BansNet6.Iterate()
	for it.Next(&nkey, &expiry) {
		p := netip.PrefixFrom(netip.AddrFrom16(nkey.Addr), int(nkey.Prefixlen))
		if expiry <= mono { // the effective expiry: no ban covers it any more
			nexpired = append(nexpired, nkey)
			x.dropOwn(p)
			continue
		}
		// Listed with its own expiry; one that ran out inside a live wider
		// ban is not listed (the wider ban is). One the program wrote
		// itself (burst meter) is not known yet: its entry is its own.
		own, ok := x.netOwn[p]
		if !ok {
			x.setOwn(p, expiry)
			own = expiry
		}
		keep(p, own)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("iterate network bans: %w", err)
	}
	for i := range nexpired {
		if err := x.objs.BansNet6.Lookup(&nexpired[i], &expiry); err == nil && expiry > mono {
			continue // banned again meanwhile (see above); listed by the next sweep
		}
		if err := x.objs.BansNet6.Delete(&nexpired[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, fmt.Errorf("delete expired network ban: %w", err)
		}
	}
	if len(nexpired) > 0 {
		if err := x.netBansOffIfEmpty(); err != nil {
			return nil, err
		}
	}
	return bans, nil
}

// Stats sums the per-CPU verdict counters.
func (x *XDP) Stats() (enforce.Stats, error) {
	st := enforce.Stats{
		Mode:          x.Mode(),
		BatchWrites:   x.batchWrites.Load(),
		ElementWrites: x.elementWrites.Load(),
	}
	var perCPU []filterCounter
	for r := enforce.Reason(0); r < enforce.NumReasons; r++ {
		if err := x.objs.Stats.Lookup(uint32(r), &perCPU); err != nil {
			return st, fmt.Errorf("read xdp stats %s: %w", r, err)
		}
		for _, c := range perCPU {
			st.Verdicts[r].Packets += c.Packets
			st.Verdicts[r].Bytes += c.Bytes
		}
	}
	if err := x.burstStats(&st); err != nil {
		return st, err
	}
	return st, nil
}
