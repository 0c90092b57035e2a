package bpf

import (
	"errors"
	"fmt"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/bpf/internal/dir24"
	"github.com/edgeguard/edgeguard/bpf/internal/v6tab"
)

// A replace keeps the tables it swapped out as spares and builds the next
// replace's tables by patching them, when the lists differ little: the
// second buffer of a double buffer. Blocklist feeds change by a few per
// cent between versions, so patching writes a fraction of what a fresh
// table needs (for IPv4 only the changed pages; for IPv6 only the changed
// nodes), and the kernel allocates, zeroes and frees nothing. A spare is
// not read by any packet (its swap-out waited for a grace period), so it
// is patched in any order. It costs a second copy of each table in kernel
// memory.

// spareMaxChange is the largest change, as a share of the new cover (1/n),
// for which patching a spare beats building afresh.
const spareMaxChange = 4

type spare4 struct {
	dir *dir24.Table
	m   *dirMap
	set *cidrset.Set
}

type spare6 struct {
	tab *table6
	set *cidrset.Set
}

// takeSpares hands the spares to one replace (nil when there are none).
func (x *XDP) takeSpares() (*spare4, *spare6) {
	s4, s6 := x.spare4, x.spare6
	x.spare4, x.spare6 = nil, nil
	return s4, s6
}

func (x *XDP) closeSpares() {
	if x.spare4 != nil {
		x.spare4.m.Close()
	}
	if x.spare6 != nil {
		x.spare6.tab.close()
	}
	x.spare4, x.spare6 = nil, nil
}

// smallChange reports the cover CIDRs that differ between from and to when
// they are few enough to patch.
func smallChange(from, to *cidrset.Set) (added, removed []cidrset.Prefix, ok bool) {
	return cidrset.CoverDiff(from, to, to.CoverLen()/spareMaxChange)
}

// dirFrom returns the IPv4 table for s: the spare patched when it is close
// enough (and reports so), else the spare reloaded with s when it has the
// chunks for it (no 64 MiB table allocated, zeroed and freed, here or in the
// kernel), else a new one. It consumes sp.
func (x *XDP) dirFrom(sp *spare4, s *cidrset.Set) (*dir24.Table, *dirMap, bool, error) {
	if sp != nil && s.CoverLen() > 0 {
		if added, removed, ok := smallChange(sp.set, s); ok {
			err := x.patchDir(sp, s, append(added, removed...))
			if err == nil {
				x.sparePatches.Add(1)
				return sp.dir, sp.m, true, nil
			}
			x.log.Debug("patching the spare IPv4 table failed; building a new one", "err", err)
		} else if err := x.reloadDir(sp, s); err == nil {
			x.spareReloads.Add(1)
			return sp.dir, sp.m, false, nil
		} else if !errors.Is(err, dir24.ErrFull) {
			x.log.Debug("reloading the spare IPv4 table failed; building a new one", "err", err)
		}
	}
	if sp != nil {
		sp.m.Close()
	}
	t, m, err := x.buildDir(s.Cover())
	return t, m, false, err
}

func (x *XDP) patchDir(sp *spare4, s *cidrset.Set, changed []cidrset.Prefix) error {
	// No packet reads the spare: chunks it retired are free at once.
	sp.dir.Recycle()
	ch := dirPrefixes(changed)
	if err := sp.dir.Update(dirCoverIn(s, ch), ch); err != nil {
		return err
	}
	sp.dir.Recycle()
	sp.m.copyPages(sp.dir.Dirty())
	sp.m.copyPages(sp.dir.FrontDirty())
	sp.dir.ClearDirty()
	return nil
}

// reloadDir rewrites the spare's table for s in place: only the pages
// whose content changes are written. On ErrFull the spare is unchanged.
func (x *XDP) reloadDir(sp *spare4, s *cidrset.Set) error {
	if err := sp.dir.Reload(dirPrefixes(s.Cover()), dirMinHeadroom); err != nil {
		return err
	}
	sp.m.copyPages(sp.dir.Dirty())
	sp.m.copyPages(sp.dir.FrontDirty())
	sp.dir.ClearDirty()
	return nil
}

// v6From returns the IPv6 table for s: the spare patched when it is close
// enough (and reports so), else a new one. It consumes sp.
func (x *XDP) v6From(sp *spare6, s *cidrset.Set) (*table6, bool, error) {
	if sp != nil && s.CoverLen() > 0 && sp.tab.front != nil {
		if added, removed, ok := smallChange(sp.set, s); ok {
			t := sp.tab
			w := t.layout.Delta(sp.set, s, added, removed)
			err := x.putV6(t.m, w.InsertKeys, make([]v6tab.Node, len(w.InsertKeys)))
			if err == nil {
				err = x.putV6(t.m, w.NodeKeys, w.NodeVals)
			}
			if err == nil {
				err = x.deleteV6(t.m, w.DeleteKeys)
			}
			if err == nil {
				t.front.Apply(w)
				copyFront(t.fm, t.front)
				x.sparePatches.Add(1)
				return t, true, nil
			}
			x.log.Debug("patching the spare IPv6 table failed; building a new one", "err", err)
		}
	}
	if sp != nil {
		sp.tab.close()
	}
	t, err := x.buildV6(s.Cover())
	if err != nil {
		return nil, false, fmt.Errorf("build IPv6 table: %w", err)
	}
	return t, false, nil
}
