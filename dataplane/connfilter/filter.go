// Package connfilter enforces the blocklist, allowlist and bans in user space,
// at accept time, for hosts where the XDP program (package bpf) cannot load:
// not root, no BPF, an unsupported interface, or xdp.mode off. Wrap a
// listener and every connection from a blocked or banned source is closed
// (with a reset) before any byte is read, and counted; a connection already
// open when its source becomes blocked or banned is closed the same way at
// its next read, as the XDP program's drops would end it.
//
// Filter implements enforce.Enforcer with the same semantics as the XDP
// program, so the control plane drives either one the same way, and tests of
// control-plane logic can use a Filter instead of root.
//
// Lookups are lock-free and allocation-free: lists live in an immutable
// structure behind an atomic.Pointer (sorted intervals in chunks, binary
// search), bans in copy-on-write shards. A blocklist delta costs time in
// proportion to the delta, not to the list: the next generation shares all
// untouched chunks with the current one. The package must never read
// configuration or files, and must never read from a connection it rejects.
package connfilter

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// Filter decides per source address. The zero value is not usable: call New.
type Filter struct {
	lists atomic.Pointer[lists]
	bans  bans
	now   func() time.Time

	mu     sync.Mutex // serializes list writers
	counts [enforce.NumReasons]atomic.Uint64

	// gen moves on every change that may drop a source that passed
	// before; open connections check their source again when it moved.
	gen atomic.Uint64
}

var _ enforce.Enforcer = (*Filter)(nil)

// Option configures New.
type Option func(*Filter)

// WithClock replaces time.Now for ban expiry (tests).
func WithClock(now func() time.Time) Option {
	return func(f *Filter) { f.now = now }
}

// New returns a filter with empty lists and no bans.
func New(opts ...Option) *Filter {
	f := &Filter{now: time.Now}
	for _, o := range opts {
		o(f)
	}
	f.lists.Store(newLists(cidrset.Empty, cidrset.Empty, cidrset.Empty, cidrset.Empty))
	f.bans.init()
	return f
}

// Check returns the verdict for a source address: ReasonPass,
// ReasonDropBlocklist, ReasonDropBanned, or ReasonPassAllowlist when the
// allowlist overrides a drop (the same accounting as the XDP program). It
// does not count. It never allocates or locks.
func (f *Filter) Check(addr netip.Addr) enforce.Reason {
	addr = addr.Unmap()
	l := f.lists.Load()
	r := enforce.ReasonPass
	if addr.Is4() {
		b := addr.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if l.block4.contains(v) {
			r = enforce.ReasonDropBlocklist
		} else if f.bans.active(addr, f.now) {
			r = enforce.ReasonDropBanned
		}
		if r != enforce.ReasonPass && l.allow4.contains(v) {
			r = enforce.ReasonPassAllowlist
		}
		return r
	}
	a := cidrset.AddrFrom(addr)
	if l.blockSet6.Contains(a) {
		r = enforce.ReasonDropBlocklist
	} else if f.bans.active(addr, f.now) {
		r = enforce.ReasonDropBanned
	}
	if r != enforce.ReasonPass && l.allowSet6.Contains(a) {
		r = enforce.ReasonPassAllowlist
	}
	return r
}

// count records one verdict.
func (f *Filter) count(r enforce.Reason) { f.counts[r].Add(1) }

// ReplaceBlocklist atomically replaces the blocklist.
func (f *Filter) ReplaceBlocklist(prefixes []netip.Prefix) error {
	l, err := newList("blocklist", prefixes)
	if err != nil {
		return err
	}
	f.update(func(next *lists) { next.blockSet4, next.blockSet6, next.block4 = l.s4, l.s6, l.r4 })
	return nil
}

// list is one list's lookup structures, built outside the writer lock.
type list struct {
	s4, s6 *cidrset.Set
	r4     ranges4
}

func newList(what string, prefixes []netip.Prefix) (list, error) {
	v4, v6, err := cidrset.Split(what, prefixes)
	if err != nil {
		return list{}, fmt.Errorf("replace %s: %w", what, err)
	}
	s4 := cidrset.New(v4)
	return list{s4: s4, s6: cidrset.New(v6), r4: newRanges4(s4.Cover())}, nil
}

// update publishes a copy of the lists changed by edit; lookups keep
// reading the old ones until then.
func (f *Filter) update(edit func(next *lists)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := *f.lists.Load()
	edit(&next)
	f.lists.Store(&next)
	f.gen.Add(1)
}

// ApplyBlocklistDelta adds, then removes prefixes; the new lookup structure
// replaces the old one atomically.
func (f *Filter) ApplyBlocklistDelta(add, remove []netip.Prefix) error {
	d, err := cidrset.SplitDelta(add, remove)
	if err != nil {
		return fmt.Errorf("apply blocklist delta: %w", err)
	}
	a4, a6, r4, r6 := d.Add4, d.Add6, d.Remove4, d.Remove6
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.lists.Load()
	next := *old
	patch4 := func() {
		var added, removed []cidrset.Prefix
		next.blockSet4, added, removed = old.blockSet4.Apply(a4, r4)
		next.block4 = old.block4.patch(toIV4(added), toIV4(removed))
	}
	var wg sync.WaitGroup
	if len(a4)+len(r4) > 0 && len(a6)+len(r6) > 0 {
		wg.Go(patch4) // both families changed: patch them on two CPUs
	} else {
		patch4()
	}
	next.blockSet6, _, _ = old.blockSet6.Apply(a6, r6)
	wg.Wait()
	f.lists.Store(&next)
	f.gen.Add(1)
	return nil
}

// ReplaceAllowlist atomically replaces the allowlist.
func (f *Filter) ReplaceAllowlist(prefixes []netip.Prefix) error {
	l, err := newList("allowlist", prefixes)
	if err != nil {
		return err
	}
	f.update(func(next *lists) { next.allowSet4, next.allowSet6, next.allow4 = l.s4, l.s6, l.r4 })
	return nil
}

// Ban rejects connections from src (an address or an IPv6 network, see
// enforce.BanSource) until the given time; a time not after now lifts the
// ban.
func (f *Filter) Ban(src netip.Prefix, until time.Time) error {
	src, err := enforce.BanSource(src)
	if err != nil {
		return err
	}
	now := f.now()
	switch {
	case !src.IsSingleIP():
		f.bans.setNet(src, until.UnixNano(), now)
	case !until.After(now):
		f.bans.remove(src.Addr(), now)
	default:
		f.bans.set(src.Addr(), until, now)
	}
	f.gen.Add(1)
	return nil
}

// Unban lifts the ban of src.
func (f *Filter) Unban(src netip.Prefix) error {
	src, err := enforce.BanSource(src)
	if err != nil {
		return fmt.Errorf("unban: %w", err)
	}
	if src.IsSingleIP() {
		f.bans.remove(src.Addr(), f.now())
	} else {
		f.bans.setNet(src, 0, f.now())
	}
	return nil
}

// Bans lists active bans.
func (f *Filter) Bans() ([]enforce.Ban, error) {
	return f.bans.list(f.now()), nil
}

// Stats reports connections per verdict (in Packets).
func (f *Filter) Stats() (enforce.Stats, error) {
	st := enforce.Stats{Mode: enforce.ModeUserspace}
	for r := range st.Verdicts {
		st.Verdicts[r].Packets = f.counts[r].Load()
	}
	return st, nil
}

// Mode is always enforce.ModeUserspace.
func (f *Filter) Mode() string { return enforce.ModeUserspace }

// Close releases nothing; it exists for enforce.Enforcer.
func (f *Filter) Close() error { return nil }
