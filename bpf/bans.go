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

func banKey(addr netip.Addr) (filterBanKey, error) {
	if !addr.IsValid() {
		return filterBanKey{}, errors.New("invalid address")
	}
	// As16 maps IPv4 to ::ffff:a.b.c.d, as the program does.
	return filterBanKey{Addr: addr.Unmap().As16()}, nil
}

// Ban drops packets from addr until the given time, measured by the kernel's
// monotonic clock (the ban does not move when the wall clock is stepped).
func (x *XDP) Ban(addr netip.Addr, until time.Time) error {
	key, err := banKey(addr)
	if err != nil {
		return fmt.Errorf("ban %v: %w", addr, err)
	}
	now := time.Now()
	if !until.After(now) {
		return x.Unban(addr)
	}
	expiry := monoNow() + uint64(until.Sub(now))
	x.banMu.Lock()
	defer x.banMu.Unlock()
	err = x.objs.Bans.Update(&key, expiry, ebpf.UpdateAny)
	if errors.Is(err, unix.E2BIG) {
		// Full: make room by dropping expired bans, then retry once.
		if _, serr := x.sweepLocked(); serr != nil {
			return fmt.Errorf("ban %v: %w", addr, serr)
		}
		err = x.objs.Bans.Update(&key, expiry, ebpf.UpdateAny)
	}
	if err != nil {
		return fmt.Errorf("ban %v: %w", addr, err)
	}
	return nil
}

// Unban lifts a ban.
func (x *XDP) Unban(addr netip.Addr) error {
	key, err := banKey(addr)
	if err != nil {
		return fmt.Errorf("unban %v: %w", addr, err)
	}
	x.banMu.Lock()
	defer x.banMu.Unlock()
	if err := x.objs.Bans.Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unban %v: %w", addr, err)
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
	var (
		key     filterBanKey
		expiry  uint64
		bans    []enforce.Ban
		expired []filterBanKey
	)
	now, mono := time.Now(), monoNow()
	it := x.objs.Bans.Iterate()
	for it.Next(&key, &expiry) {
		if expiry <= mono {
			expired = append(expired, key)
			continue
		}
		bans = append(bans, enforce.Ban{
			Addr:  netip.AddrFrom16(key.Addr).Unmap(),
			Until: now.Add(time.Duration(expiry - mono)),
		})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("iterate bans: %w", err)
	}
	for i := range expired {
		if err := x.objs.Bans.Delete(&expired[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, fmt.Errorf("delete expired ban: %w", err)
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
	return st, nil
}
