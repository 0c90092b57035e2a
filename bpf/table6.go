package bpf

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/cilium/ebpf"

	"github.com/edgeguard/edgeguard/bpf/internal/v6front"
	"github.com/edgeguard/edgeguard/bpf/internal/v6tab"
)

// table6 is one IPv6 blocklist table: the hash map with its layout, and
// its front (v6front), which lives in an outer map of its own. The two
// need not be swapped at once: the front answers only for /32s it holds,
// from their nodes.
type table6 struct {
	layout *v6tab.Table
	m      *ebpf.Map
	front  *v6front.Front
	fm     *dirMap
}

// close closes the table's maps; nil is a no-op.
func (t *table6) close() error {
	if t == nil {
		return nil
	}
	var err error
	if t.m != nil {
		err = t.m.Close()
	}
	return errors.Join(err, t.fm.Close())
}

func (t *table6) hashMap() *ebpf.Map {
	if t == nil {
		return nil
	}
	return t.m
}

func (t *table6) frontMap() *ebpf.Map {
	if t == nil {
		return nil
	}
	return t.fm.inner()
}

// newFront creates the front map of a table built with writes w.
func (x *XDP) newFront(w *v6tab.Writes) (*v6front.Front, *dirMap, error) {
	f := v6front.New(v6front.BitsFor(len(w.NodeKeys)))
	f.Apply(w)
	spec := x.innerDir.Copy()
	spec.Name = "eg_front_v6"
	spec.MaxEntries = uint32(f.Pages())
	fm, err := newDirMap(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("create IPv6 front: %w", err)
	}
	copyFront(fm, f)
	return f, fm, nil
}

// copyFront copies the changed pages of f into fm, which no packet reads.
func copyFront(fm *dirMap, f *v6front.Front) {
	first, pages := f.Dirty()
	for i, ps := range pages {
		fm.copyWords(first[i], unsafe.Slice(&ps[0][0], len(ps)*v6front.PageWords))
	}
	f.ClearDirty()
}
