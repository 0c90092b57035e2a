package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/bpf/internal/dir24"
	"github.com/edgeguard/edgeguard/bpf/internal/v6front"
	"github.com/edgeguard/edgeguard/bpf/internal/v6tab"
)

const (
	// lpmMaxEntries caps each LPM trie. Tries allocate per element
	// (BPF_F_NO_PREALLOC), so the cap costs nothing until used.
	lpmMaxEntries = 1 << 24
	// dirMinHeadroom is the least number of spare chunks a new DIR-24-8
	// table gets for later deltas (it gets at least a quarter of its use).
	dirMinHeadroom = 4096
	// batchPages bounds one batch syscall writing DIR-24-8 pages (4 MiB).
	batchPages = 1024
	// lpmParallelMin is the smallest share worth a second trie or table
	// writer.
	lpmParallelMin = 50_000
	// v6MinHeadroom is the least number of spare entries a new IPv6 table
	// gets for later deltas (it gets at least a quarter of its use).
	v6MinHeadroom = 4096
)

// errBatchOff stands for a refused batch when batching is switched off.
var errBatchOff = errors.New("batch operations switched off")

// ReplaceBlocklist atomically replaces the blocklist: new inner maps are
// built and filled aside, then swapped into the outer maps' slots (IPv4 then
// IPv6). Each packet sees the old or the new list of its family.
// Operations on the lists wait for it from the start: it holds x.mu.
func (x *XDP) ReplaceBlocklist(prefixes []netip.Prefix) error {
	start := time.Now()
	v4, v6, err := cidrset.Split("blocklist", prefixes)
	if err != nil {
		return fmt.Errorf("replace blocklist: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// Each family is prepared and built in a pipeline of its own, so the
	// smaller one's table fills while the larger one is still sorting.
	var (
		s4, s6     *cidrset.Set
		t4         *dir24.Table
		t6         *table6
		m4         *dirMap
		err4, err6 error
		prepared   [2]time.Time
		patched    [2]bool
	)
	sp4, sp6 := x.takeSpares()
	var wg sync.WaitGroup
	wg.Go(func() {
		s4 = cidrset.New(v4)
		prepared[0] = time.Now()
		t4, m4, patched[0], err4 = x.dirFrom(sp4, s4)
	})
	// The IPv6 front goes off for the swap (swapV6); its grace period
	// passes while the tables are built, not after.
	var offErr error
	var word6 uint64
	wg.Go(func() { word6, offErr = x.frontOff(0) })
	s6 = cidrset.New(v6)
	prepared[1] = time.Now()
	t6, patched[1], err6 = x.v6From(sp6, s6)
	wg.Wait()
	if err := errors.Join(err4, err6, offErr); err != nil {
		m4.Close()
		t6.close()
		if offErr == nil {
			// Nothing was swapped: the word goes back as it was.
			err = errors.Join(err, x.putShortWord(word6))
		}
		return fmt.Errorf("replace blocklist: %w", err)
	}
	built := time.Now()
	apart := x.allowKnown && s4.Disjoint(x.allow4) && s6.Disjoint(x.allow6)
	if !apart {
		if err := x.setDisjoint(false); err != nil {
			m4.Close()
			t6.close()
			return fmt.Errorf("replace blocklist: %w", errors.Join(err, x.putShortWord(word6)))
		}
	}
	// Each swap waits for an RCU grace period: both wait at once. A packet
	// still sees the old or the new list of its family.
	var swapErr4 error
	wg.Go(func() { swapErr4 = swapInner(x.objs.BlockV4, m4.inner()) })
	old6, swapErr6 := x.swapV6(t6)
	wg.Wait()
	if swapErr4 != nil {
		m4.Close()
		swapErr4 = fmt.Errorf("swap IPv4 table: %w", swapErr4)
	} else {
		if x.dirMap != nil && x.baseline {
			x.spare4 = &spare4{dir: x.dir, m: x.dirMap, set: x.block4}
		} else {
			x.dirMap.Close()
		}
		x.dir, x.dirMap, x.block4 = t4, m4, s4
	}
	if swapErr6 != nil {
		t6.close()
	} else {
		if old6 != nil && x.baseline {
			x.spare6 = &spare6{tab: old6, set: x.block6}
		} else {
			old6.close()
		}
		x.block6 = s6
	}
	if err := errors.Join(swapErr4, swapErr6); err != nil {
		// One family may be new and the other still old.
		x.baseline = false
		return fmt.Errorf("replace blocklist: %w", err)
	}
	x.baseline = true
	if err := x.setDisjoint(apart); err != nil {
		return fmt.Errorf("replace blocklist: %w", err)
	}
	x.log.Debug("replaced blocklist", "ipv4", s4.Len(), "ipv4_cidrs", s4.CoverLen(),
		"ipv6", s6.Len(), "ipv6_cidrs", s6.CoverLen(), "prepare_ipv4", prepared[0].Sub(start),
		"prepare_ipv6", prepared[1].Sub(start), "patched", patched, "build", built.Sub(start), "swap", time.Since(built))
	return nil
}

// ApplyBlocklistDelta adds then removes prefixes in place: the IPv4 table
// rewrites only the pages the changed prefixes touch (chunks before the
// entries that point at them), the IPv6 table rewrites only the /32 nodes
// they touch (entries before the nodes that name them, deletions last), so
// an address blocked before and after the delta is never passed meanwhile.
// The families share nothing, so when both change they are patched and
// written on two CPUs.
func (x *XDP) ApplyBlocklistDelta(add, remove []netip.Prefix) error {
	d, err := cidrset.SplitDelta(add, remove)
	if err != nil {
		return fmt.Errorf("apply blocklist delta: %w", err)
	}
	a4, a6, r4, r6 := d.Add4, d.Add6, d.Remove4, d.Remove6
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.baseline {
		return fmt.Errorf("apply blocklist delta: %w", ErrNoBaseline)
	}
	next4, added4, removed4 := x.block4.Apply(a4, r4)
	next6, added6, removed6 := x.block6.Apply(a6, r6)
	apart := x.allowKnown && next4.Disjoint(x.allow4) && next6.Disjoint(x.allow6)
	if !apart {
		if err := x.setDisjoint(false); err != nil {
			return fmt.Errorf("apply blocklist delta: %w", err)
		}
	}
	var err4, err6 error
	v4 := func() {
		if err := x.deltaV4(next4, append(added4, removed4...)); err != nil {
			err4 = fmt.Errorf("IPv4: %w", err)
		}
	}
	var wg sync.WaitGroup
	if len(a4)+len(r4) > 0 && len(a6)+len(r6) > 0 {
		wg.Go(v4)
	} else {
		v4()
	}
	if err := x.deltaV6(next6, added6, removed6); err != nil {
		err6 = fmt.Errorf("IPv6: %w", err)
	}
	wg.Wait()
	if err := errors.Join(err4, err6); err != nil {
		x.baseline = false
		return fmt.Errorf("apply blocklist delta: %w", err)
	}
	if apart && !x.disjoint {
		// The tables were written in place: a packet that read an entry
		// from before the delta (an allowlisted address still blocked)
		// must not meet the switch on. Runs that started before the
		// grace period ends have finished after it.
		if err := x.waitGrace(); err != nil {
			return fmt.Errorf("apply blocklist delta: %w", err)
		}
	}
	if err := x.setDisjoint(apart); err != nil {
		return fmt.Errorf("apply blocklist delta: %w", err)
	}
	return nil
}

// waitGrace returns after an RCU grace period: every program run that
// started before the call has finished. Writing a slot of a map-in-map
// waits for one (the kernel's maybe_wait_bpf_programs: synchronize_rcu);
// the slot written here belongs to a map no program reads.
func (x *XDP) waitGrace() error {
	outer, inner, err := x.graceMaps()
	if err != nil {
		return err
	}
	if err := outer.Update(uint32(0), inner, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("grace period: %w", err)
	}
	return nil
}

// graceMaps creates waitGrace's maps once; the two families of a delta
// may wait at once (and do, in parallel).
func (x *XDP) graceMaps() (outer, inner *ebpf.Map, err error) {
	x.graceMu.Lock()
	defer x.graceMu.Unlock()
	if x.grace == nil {
		spec := &ebpf.MapSpec{Name: "grace_inner", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
		m, err := ebpf.NewMap(spec)
		if err != nil {
			return nil, nil, fmt.Errorf("grace period: create map: %w", err)
		}
		o, err := ebpf.NewMap(&ebpf.MapSpec{Name: "grace", Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4,
			MaxEntries: 1, InnerMap: spec})
		if err != nil {
			m.Close()
			return nil, nil, fmt.Errorf("grace period: create map: %w", err)
		}
		x.grace, x.graceInner = o, m
	}
	return x.grace, x.graceInner, nil
}

// setDisjoint writes lists_disjoint (filter.c): on lets blocklist hits
// skip the allowlist. The list operations keep it exact, under x.mu: a
// change after which the lists may share an address turns it off before it
// writes anything, and only a change after which they are known apart
// turns it on, once done. Meanwhile packets see a mix of the lists before
// and after, which shares no address with the allowlist when neither does.
func (x *XDP) setDisjoint(on bool) error {
	if x.disjoint == on {
		return nil
	}
	v := uint32(0)
	if on {
		v = 1
	}
	if err := x.objs.ListsDisjoint.Update(uint32(0), v, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("update list switch: %w", err)
	}
	x.disjoint = on
	return nil
}

func (x *XDP) deltaV4(next *cidrset.Set, changed []cidrset.Prefix) error {
	if len(changed) == 0 {
		x.block4 = next
		return nil
	}
	if x.dir != nil {
		ch := dirPrefixes(changed)
		err := x.dir.Update(dirCoverIn(next, ch), ch)
		if err == nil {
			err = x.writePages(x.dirMap.Map, x.dir.Dirty())
			if err == nil {
				err = x.writeFront(x.dirMap, x.dir)
			}
			x.dir.ClearDirty()
			if err == nil {
				x.block4 = next
				x.maybeRecycle()
				return nil
			}
			x.log.Warn("in-place IPv4 table update failed; rebuilding", "err", err)
		} else if !errors.Is(err, dir24.ErrFull) {
			return err
		}
	}
	// No live table, no chunk left, or a failed write: build a new table
	// and swap it in (this also compacts retired chunks).
	if x.dir != nil {
		x.dirRebuilds.Add(1)
	}
	t, m, err := x.buildDir(next.Cover())
	if err != nil {
		return err
	}
	if err := swapInner(x.objs.BlockV4, m.inner()); err != nil {
		m.Close()
		return fmt.Errorf("swap IPv4 table: %w", err)
	}
	x.dirMap.Close()
	x.dir, x.dirMap, x.block4 = t, m, next
	return nil
}

// maybeRecycle starts returning the IPv4 table's retired chunks to use once
// a good share of its spare capacity waits in them, so that a stream of
// deltas keeps patching the live table instead of running it out of chunks
// and rebuilding it (hundreds of ms at 1M entries). Called with x.mu held,
// after the delta that retired them is written.
func (x *XDP) maybeRecycle() {
	t := x.dir
	if t.ChunksRetired() == 0 || t.ChunksRetired() < t.ChunksFree()/4 || !x.recycling.CompareAndSwap(false, true) {
		return
	}
	x.recycleWG.Go(func() { x.recycleChunks(t) })
}

// recycleChunks waits out an RCU grace period, after which no program run
// can still hold an entry pointing at a retired chunk, and frees them. It
// runs in the background so that the delta that triggered it returns at
// once; the next list operation waits for it (x.mu) for at most ~10 ms.
func (x *XDP) recycleChunks(t *dir24.Table) {
	defer x.recycling.Store(false)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed.Load() || x.dir != t {
		return // closed, or a new table replaced this one
	}
	if err := x.waitGrace(); err != nil {
		x.log.Warn("recycling IPv4 table chunks failed; the table will be rebuilt when it runs out", "err", err)
		return
	}
	t.Recycle()
	x.chunkRecycles.Add(1)
}

func (x *XDP) deltaV6(next *cidrset.Set, added, removed []cidrset.Prefix) error {
	if len(added)+len(removed) == 0 {
		x.block6 = next
		return nil
	}
	if x.tab6 != nil {
		// The front goes off while the table changes (its "no node" for a
		// /32 that gains a node could pass a source whose short CIDR the
		// delta spreads over nodes), is patched while no packet reads it,
		// and comes back on with the table's last short-length word.
		w := x.tab6.layout.Delta(x.block6, next, added, removed)
		_, err := x.frontOff(0)
		if err == nil {
			err = x.writeV6(x.tab6.m, w, true)
		}
		if err == nil {
			if f := x.tab6.front; f != nil {
				f.Apply(w)
				copyFront(x.tab6.fm, f)
			}
			if x.frontHook != nil {
				x.frontHook()
			}
			err = x.writeShortWord(true)
		}
		if err == nil {
			x.block6 = next
			return nil
		}
		if errors.Is(err, unix.E2BIG) {
			// The hash map's way of saying it is full (cilium/ebpf words
			// it "key too big"): a delta larger than the table's room,
			// e.g. a /20 spread over 4096 /32 nodes.
			x.log.Info("the IPv6 table has no room for this delta; rebuilding it with room to spare")
		} else {
			x.log.Warn("in-place IPv6 table update failed; rebuilding", "err", err)
		}
		// The table may be half written, its front behind it: that front
		// must never come on again.
		if t := x.tab6; t.front != nil {
			t.fm.Close()
			t.fm, t.front = nil, nil
		}
	}
	t, err := x.buildV6(next.Cover())
	if err != nil {
		return err
	}
	old, err := x.swapV6(t)
	if err != nil {
		t.close()
		return err
	}
	old.close()
	x.block6 = next
	return nil
}

// buildV6 builds the IPv6 table for cover in new inner maps; nil for an
// empty cover.
func (x *XDP) buildV6(cover []cidrset.Prefix) (*table6, error) {
	if len(cover) == 0 {
		return nil, nil
	}
	if x.failV6 != nil {
		if err := x.failV6("build"); err != nil {
			return nil, err
		}
	}
	t := v6tab.New(cover)
	w := t.Build(cover)
	n := w.Len()
	spec := x.innerV6.Copy()
	spec.Name = "eg_block_v6"
	// Room for deltas; a delta that finds none rebuilds the table.
	spec.MaxEntries = uint32(n + max(n/4, v6MinHeadroom))
	m, err := ebpf.NewMap(spec)
	if err != nil {
		return nil, fmt.Errorf("create IPv6 table (%d entries): %w", spec.MaxEntries, err)
	}
	if err := x.writeV6(m, w, false); err != nil {
		m.Close()
		return nil, fmt.Errorf("fill IPv6 table: %w", err)
	}
	f, fm, err := x.newFront(w)
	if err != nil {
		m.Close()
		return nil, err
	}
	return &table6{layout: t, m: m, front: f, fm: fm}, nil
}

// swapV6 swaps the IPv6 table t (nil for an empty list) in and returns
// the one it replaced, which no packet reads any more. The short-length
// bitmap covers both tables while either may be read. A front answers
// "no node" only for its own table, so the program stops using the front
// (its bits in block_v6_short cleared, then a grace period for runs that
// still use it) before the table and the front are swapped, one after the
// other, and uses the new one once both are in. A front that fails to swap
// is left unused.
func (x *XDP) swapV6(t *table6) (*table6, error) {
	var short uint32
	if t != nil {
		short = t.layout.ShortBits()
	}
	if _, err := x.frontOff(short); err != nil {
		return nil, err
	}
	// With the front off, the two slots may change in any order: both at
	// once, so that their grace periods overlap.
	var frontErr error
	var wg sync.WaitGroup
	wg.Go(func() { frontErr = swapInner(x.objs.BlockV6Front, t.frontMap()) })
	err := swapInner(x.objs.BlockV6, t.hashMap())
	wg.Wait()
	if err != nil {
		// The table stays; its front must be the one in the slot before
		// the front comes on again, or it stays off.
		if frontErr == nil && x.tab6 != nil && x.tab6.front != nil {
			if rerr := swapInner(x.objs.BlockV6Front, x.tab6.frontMap()); rerr != nil {
				x.tab6.fm.Close()
				x.tab6.fm, x.tab6.front = nil, nil
			}
		}
		return nil, fmt.Errorf("swap IPv6 table: %w", err)
	}
	old := x.tab6
	x.tab6 = t
	if err := frontErr; err != nil {
		x.log.Warn("swapping the IPv6 front failed; IPv6 lookups skip it until the next replace", "err", err)
		if t != nil {
			t.fm.Close()
			t.fm, t.front = nil, nil
		}
	}
	// The swaps waited for a grace period: no packet reads the old table.
	if err := x.writeShortWord(true); err != nil {
		x.log.Warn("writing the IPv6 short-length bitmap failed (costs the front and probes, not verdicts)", "err", err)
	}
	return old, nil
}

// writeShortWord writes the block_v6_short word of the live IPv6 table:
// its short lengths, and its front's bits when front (the front on).
func (x *XDP) writeShortWord(front bool) error {
	var w uint64
	if t := x.tab6; t != nil {
		var bits uint32
		if t.front != nil && front {
			bits = t.front.Bits()
		}
		w = v6front.ShortWord(t.layout.ShortBits(), bits)
	}
	return x.putShortWord(w)
}

// frontOff adds short lengths to block_v6_short and takes the front's
// bits out of it, and if they were in, waits until no program run still
// uses the front: from then on the front is read by no packet.
// It returns the word it found, which a caller that then changes nothing
// puts back (putShortWord): the word may belong to a table this process
// does not know (a restart's pinned one), or to a front whose table a
// failed delta left half written, which must stay off.
func (x *XDP) frontOff(short uint32) (uint64, error) {
	cur, err := x.shortWord()
	if err != nil {
		return 0, err
	}
	want := v6front.ShortWord(uint32(cur)|short, 0)
	if want == cur {
		return cur, nil
	}
	if err := x.putShortWord(want); err != nil {
		return 0, err
	}
	if cur>>v6front.ShortBitsShift != 0 {
		return cur, x.waitGrace()
	}
	return cur, nil
}

// widenV6Short adds short lengths to block_v6_short, keeping the rest.
func (x *XDP) widenV6Short(bits uint32) error {
	cur, err := x.shortWord()
	if err != nil || cur|uint64(bits) == cur {
		return err
	}
	return x.putShortWord(cur | uint64(bits))
}

// shortWord reads the block_v6_short word.
func (x *XDP) shortWord() (uint64, error) {
	var w uint64
	if err := x.objs.BlockV6Short.Lookup(uint32(0), &w); err != nil {
		return 0, fmt.Errorf("read IPv6 short-length bitmap: %w", err)
	}
	return w, nil
}

// putShortWord writes the block_v6_short word.
func (x *XDP) putShortWord(w uint64) error {
	if err := x.objs.BlockV6Short.Update(uint32(0), w, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("write IPv6 short-length bitmap: %w", err)
	}
	return nil
}

// writeV6 applies w to m in its order: inserts, nodes, deletions. live
// means packets read m: the short-length bitmap then grows after the
// inserts and shrinks after the deletions. A fresh map is filled by two
// writers (the hash table locks per bucket).
func (x *XDP) writeV6(m *ebpf.Map, w *v6tab.Writes, live bool) error {
	if !live {
		keys := append(w.InsertKeys, w.NodeKeys...)
		vals := append(make([]v6tab.Node, len(w.InsertKeys), len(keys)), w.NodeVals...)
		if len(keys) < 2*lpmParallelMin {
			return x.putV6(m, keys, vals)
		}
		half := len(keys) / 2
		var wg sync.WaitGroup
		var err1 error
		wg.Go(func() { err1 = x.putV6(m, keys[:half], vals[:half]) })
		err2 := x.putV6(m, keys[half:], vals[half:])
		wg.Wait()
		return errors.Join(err1, err2)
	}
	if err := x.putV6(m, w.InsertKeys, make([]v6tab.Node, len(w.InsertKeys))); err != nil {
		return err
	}
	if err := x.widenV6Short(x.tab6.layout.ShortBits()); err != nil {
		return err
	}
	if err := x.putV6(m, w.NodeKeys, w.NodeVals); err != nil {
		return err
	}
	if x.failV6 != nil {
		if err := x.failV6("delete"); err != nil {
			return err
		}
	}
	if err := x.deleteV6(m, w.DeleteKeys); err != nil {
		return err
	}
	// The front stays off: the caller patches it, then turns it on.
	return x.writeShortWord(false)
}

func (x *XDP) putV6(m *ebpf.Map, keys []v6tab.Key, vals []v6tab.Node) error {
	if len(keys) == 0 {
		return nil
	}
	done, err := 0, errBatchOff
	if !x.noBatch {
		done, err = m.BatchUpdate(keys, vals, nil)
		done = max(done, 0)
		x.batchWrites.Add(uint64(done))
	}
	if err != nil {
		for i := done; i < len(keys); i++ {
			if err := m.Update(&keys[i], &vals[i], ebpf.UpdateAny); err != nil {
				return fmt.Errorf("write IPv6 entry %d/%x: %w", keys[i].Tag, keys[i].Addr, err)
			}
			x.elementWrites.Add(1)
		}
	}
	return nil
}

// deleteV6 removes keys; keys already absent are ignored.
func (x *XDP) deleteV6(m *ebpf.Map, keys []v6tab.Key) error {
	if len(keys) == 0 {
		return nil
	}
	done, err := 0, errBatchOff
	if !x.noBatch {
		done, err = m.BatchDelete(keys, nil)
		done = max(done, 0)
		x.batchWrites.Add(uint64(done))
	}
	if err != nil {
		// A batch stops at the first absent key: go on one by one.
		for i := done; i < len(keys); i++ {
			if err := m.Delete(&keys[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return fmt.Errorf("delete IPv6 entry %d/%x: %w", keys[i].Tag, keys[i].Addr, err)
			}
			x.elementWrites.Add(1)
		}
	}
	return nil
}

// ReplaceAllowlist atomically replaces the allowlist (one LPM trie per
// family, each swapped in whole).
func (x *XDP) ReplaceAllowlist(prefixes []netip.Prefix) error {
	v4, v6, err := cidrset.Split("allowlist", prefixes)
	if err != nil {
		return fmt.Errorf("replace allowlist: %w", err)
	}
	s4, s6 := cidrset.New(v4), cidrset.New(v6)
	x.mu.Lock()
	defer x.mu.Unlock()
	apart := x.baseline && x.block4.Disjoint(s4) && x.block6.Disjoint(s6)
	if !apart {
		if err := x.setDisjoint(false); err != nil {
			return fmt.Errorf("replace allowlist: %w", err)
		}
	}
	m4, err := x.buildLPM(x.innerLPM4, "eg_allow_v4", s4.Cover())
	if err != nil {
		return fmt.Errorf("replace allowlist: %w", err)
	}
	m6, err := x.buildLPM(x.innerLPM6, "eg_allow_v6", s6.Cover())
	if err != nil {
		closeMaps(m4)
		return fmt.Errorf("replace allowlist: %w", err)
	}
	if err := swapInner(x.objs.AllowV4, m4); err != nil {
		closeMaps(m4, m6)
		return fmt.Errorf("replace allowlist: swap IPv4 trie: %w", err)
	}
	closeMaps(x.allow4Map)
	x.allow4Map, x.allow4 = m4, s4
	if err := swapInner(x.objs.AllowV6, m6); err != nil {
		closeMaps(m6)
		return fmt.Errorf("replace allowlist: swap IPv6 trie: %w", err)
	}
	closeMaps(x.allow6Map)
	x.allow6Map, x.allow6 = m6, s6
	x.allowKnown = true
	if err := x.setDisjoint(apart); err != nil {
		return fmt.Errorf("replace allowlist: %w", err)
	}
	return nil
}

// swapInner points an outer map's only slot at inner, or empties it when
// inner is nil. The kernel waits for an RCU grace period, so when this
// returns no program still reads the previous inner map.
func swapInner(outer, inner *ebpf.Map) error {
	if inner == nil {
		err := outer.Delete(uint32(0))
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		return err
	}
	// Fd arrays reject BPF_EXIST (EINVAL): UpdateAny.
	return outer.Update(uint32(0), inner, ebpf.UpdateAny)
}

func closeMaps(ms ...*ebpf.Map) {
	for _, m := range ms {
		if m != nil {
			m.Close()
		}
	}
}

func dirPrefixes(ps []cidrset.Prefix) []dir24.Prefix {
	out := make([]dir24.Prefix, len(ps))
	for i, p := range ps {
		out[i].Addr, out[i].Bits = p.V4()
	}
	return out
}

// dirCoverIn returns the part of s's cover that dir24's Update reads for
// changed: the CIDRs overlapping the /24 blocks they touch. Converting the
// whole cover would cost O(list) per delta.
func dirCoverIn(s *cidrset.Set, changed []dir24.Prefix) []dir24.Prefix {
	var cover []cidrset.Prefix
	for _, b := range dir24.Blocks(changed) {
		n := len(cover)
		cover = s.AppendCover(cover, cidrset.AddrFromV4(b.First<<8), cidrset.AddrFromV4(b.Last<<8|0xff))
		// One CIDR wider than the gap between two blocks overlaps both.
		if n > 0 && len(cover) > n && cover[n] == cover[n-1] {
			cover = slices.Delete(cover, n, n+1)
		}
	}
	return dirPrefixes(cover)
}

// buildDir builds a DIR-24-8 table for cover in a new inner map; nil for an
// empty cover (an empty slot costs nothing, a table 64 MiB).
func (x *XDP) buildDir(cover []cidrset.Prefix) (*dir24.Table, *dirMap, error) {
	if len(cover) == 0 {
		return nil, nil, nil
	}
	t := dir24.Build(dirPrefixes(cover), dirMinHeadroom)
	spec := x.innerDir.Copy()
	spec.Name = "eg_block_v4"
	spec.MaxEntries = t.MaxEntries()
	m, err := newDirMap(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("create IPv4 table (%d pages): %w", spec.MaxEntries, err)
	}
	m.copyPages(t.Dirty())
	m.copyPages(t.FrontDirty())
	t.ClearDirty()
	return t, m, nil
}

// gatherRunMax is the longest run of DIR-24-8 pages that writePages copies
// into a gathered batch rather than writing straight from the table.
const gatherRunMax = 16

// writePages writes DIR-24-8 pages in the order of runs (chunks before the
// entries pointing at them; a batch is applied in key order). Long runs (a
// build) go in batches straight from the table; short ones (a delta's
// scattered pages) are gathered into shared batches, so that a delta costs
// a few syscalls instead of one per page.
func (x *XDP) writePages(m *ebpf.Map, runs []dir24.Run) error {
	keys := make([]uint32, 0, batchPages)
	gathered := x.pageBuf[:0]
	flush := func() error {
		err := x.writePageBatch(m, keys, gathered)
		keys, gathered = keys[:0], gathered[:0]
		return err
	}
	for _, r := range runs {
		if len(r.Pages) <= gatherRunMax {
			for i := range r.Pages {
				if len(keys) == batchPages {
					if err := flush(); err != nil {
						return err
					}
				}
				keys = append(keys, r.First+uint32(i))
				gathered = slices.Grow(gathered, 1)[:len(gathered)+1]
				copy(gathered[len(gathered)-1:], r.Pages[i:i+1]) // memmove, not a word loop
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		for off := 0; off < len(r.Pages); off += batchPages {
			pages := r.Pages[off:min(off+batchPages, len(r.Pages))]
			keys = keys[:len(pages)]
			for i := range keys {
				keys[i] = r.First + uint32(off+i)
			}
			if err := x.writePageBatch(m, keys, pages); err != nil {
				return err
			}
		}
		keys = keys[:0]
	}
	err := flush()
	x.pageBuf = gathered[:0] // keep what grew for the next delta
	return err
}

// writePageBatch writes pages at keys in one batch where the kernel allows,
// one by one otherwise.
func (x *XDP) writePageBatch(m *ebpf.Map, keys []uint32, pages []dir24.Page) error {
	if len(keys) == 0 {
		return nil
	}
	done, err := 0, errBatchOff
	if !x.noBatch {
		done, err = m.BatchUpdate(keys, pages, nil)
		done = max(done, 0)
		x.batchWrites.Add(uint64(done))
	}
	if err != nil {
		for i := done; i < len(keys); i++ {
			if err := m.Update(keys[i], &pages[i], ebpf.UpdateAny); err != nil {
				return fmt.Errorf("write table page %d: %w", keys[i], err)
			}
			x.elementWrites.Add(1)
		}
	}
	return nil
}

// buildLPM creates a trie from spec holding cover; nil for an empty cover.
func (x *XDP) buildLPM(spec *ebpf.MapSpec, name string, cover []cidrset.Prefix) (*ebpf.Map, error) {
	if len(cover) == 0 {
		return nil, nil
	}
	s := spec.Copy()
	s.Name = name
	s.MaxEntries = lpmMaxEntries
	m, err := ebpf.NewMap(s)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	if err := x.writeLPM(m, cover); err != nil {
		m.Close()
		return nil, fmt.Errorf("fill %s: %w", name, err)
	}
	return m, nil
}

// lpmKeys encodes prefixes as the trie's key type (IPv4 or IPv6 by key size).
func lpmKeys(m *ebpf.Map, ps []cidrset.Prefix) any {
	if m.KeySize() == 8 {
		keys := make([]filterLpmV4Key, len(ps))
		for i, p := range ps {
			a, bits := p.V4()
			keys[i] = filterLpmV4Key{Prefixlen: uint32(bits), Addr: [4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}}
		}
		return keys
	}
	keys := make([]filterLpmV6Key, len(ps))
	for i, p := range ps {
		keys[i] = filterLpmV6Key{Prefixlen: uint32(p.Bits), Addr: p.Addr.As16()}
	}
	return keys
}

func lpmKey(keys any, i int) any {
	switch k := keys.(type) {
	case []filterLpmV4Key:
		return &k[i]
	case []filterLpmV6Key:
		return &k[i]
	}
	panic("bpf: unknown LPM key slice")
}

// writeLPM inserts ps with a batch update, falling back to one update per
// element where batching is refused (e.g. ENOMEM on some kernels for
// BPF_F_NO_PREALLOC tries).
func (x *XDP) writeLPM(m *ebpf.Map, ps []cidrset.Prefix) error {
	if len(ps) < 2*lpmParallelMin {
		return x.writeLPMSerial(m, ps)
	}
	// The trie lock serializes the inserts themselves, but the per-element
	// syscall work around them runs in parallel: two writers on two CPUs.
	var wg sync.WaitGroup
	var err1 error
	half := len(ps) / 2
	wg.Go(func() { err1 = x.writeLPMSerial(m, ps[:half]) })
	err2 := x.writeLPMSerial(m, ps[half:])
	wg.Wait()
	return errors.Join(err1, err2)
}

func (x *XDP) writeLPMSerial(m *ebpf.Map, ps []cidrset.Prefix) error {
	if len(ps) == 0 {
		return nil
	}
	keys := lpmKeys(m, ps)
	values := make([]uint8, len(ps))
	for i := range values {
		values[i] = 1
	}
	done, err := 0, errBatchOff
	if !x.noBatch {
		done, err = m.BatchUpdate(keys, values, nil)
		done = max(done, 0)
		x.batchWrites.Add(uint64(done))
	}
	if err != nil {
		x.log.Debug("batch update refused; writing one by one", "map", m.String(), "done", done, "err", err)
		for i := done; i < len(ps); i++ {
			if err := m.Update(lpmKey(keys, i), uint8(1), ebpf.UpdateAny); err != nil {
				return fmt.Errorf("insert %s: %w", ps[i], err)
			}
			x.elementWrites.Add(1)
		}
	}
	return nil
}

// deleteLPM removes ps; prefixes already absent are ignored.
func (x *XDP) deleteLPM(m *ebpf.Map, ps []cidrset.Prefix) error {
	if len(ps) == 0 {
		return nil
	}
	keys := lpmKeys(m, ps)
	done, err := 0, errBatchOff
	if !x.noBatch {
		done, err = m.BatchDelete(keys, nil)
		done = max(done, 0)
		x.batchWrites.Add(uint64(done))
	}
	if err != nil {
		for i := done; i < len(ps); i++ {
			if err := m.Delete(lpmKey(keys, i)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return fmt.Errorf("delete %s: %w", ps[i], err)
			}
			x.elementWrites.Add(1)
		}
	}
	return nil
}
