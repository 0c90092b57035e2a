// Package v6front builds the front of the IPv6 blocklist table: a
// set-associative array that caches, per /32, what the table's node for it
// says when that fits in a few words, so that most IPv6 hits cost one read
// of an 8 MiB array instead of a hash lookup (a call into the kernel and
// two reads in tables far larger: ~250 ns more for a source the caches
// have not seen, bench/xdp BenchmarkCold). It mirrors struct v6_front_set
// in bpf/xdp/filter.c; writing it to the kernel is the caller's job.
//
// The front answers only for /32s it holds, from their node, which is the
// whole truth for its /32 (v6tab: the cover is disjoint). Any other source
// goes on to the hash table. So the front and the table may be swapped in
// one after the other: a packet reading the front of one list and the
// table of the other gets, for its source, one list's verdict.
//
// A set is 16 little-endian words, in one 64-byte line: three ways of
// five words (the /32 as the program loads it, the length, then address
// words 1-3 of the CIDR, host bits zero) and a state word, nonzero while
// user space rewrites the set (readers then go to the hash table). Length
// 0 is an empty way, 32 a /32 the node covers whole, 33-128 the node's
// only CIDR. A /32 whose node holds more, or whose set is full, is not in
// the front.
//
// The package must never touch the kernel.
package v6front

import (
	"encoding/binary"
	"math/bits"

	"github.com/edgeguard/edgeguard/bpf/internal/v6tab"
)

// Layout shared with bpf/xdp/filter.c.
const (
	Bits        = 17 // sets: 1 << Bits
	Sets        = 1 << Bits
	SetWords    = 16
	Ways        = 3
	WayWords    = 5
	StateWord   = 15
	PageWords   = 1024
	SetsPerPage = PageWords / SetWords
	Pages       = Sets / SetsPerPage
	// Invalid is a set's state while it is rewritten.
	Invalid = 0xffff << 16
	// Multiplier picks a /32's set: (key * Multiplier) >> (32 - Bits).
	Multiplier = 0x9e3779b1
)

// Page is one map value (4 KiB).
type Page [PageWords]uint32

// Set is one set.
type Set [SetWords]uint32

// Front is the user-space mirror of one front map.
type Front struct {
	pages   []Page
	dirty   []uint64 // bitset over pages
	changed []uint32 // sets changed since ClearDirty
	mark    []uint64 // bitset over sets: in changed
}

// New returns an empty front.
func New() *Front {
	return &Front{pages: make([]Page, Pages), dirty: make([]uint64, Pages/64), mark: make([]uint64, Sets/64)}
}

// Key is a /32 as the program loads it: the first four address bytes as a
// little-endian word.
func Key(addr [16]byte) uint32 { return binary.LittleEndian.Uint32(addr[:4]) }

// SetOf is the set a /32 (as Key) lives in.
func SetOf(key uint32) uint32 { return key * Multiplier >> (32 - Bits) }

func (f *Front) set(i uint32) *Set {
	pg := &f.pages[i/SetsPerPage]
	off := i % SetsPerPage * SetWords
	return (*Set)(pg[off : off+SetWords])
}

// Set returns set i.
func (f *Front) Set(i uint32) Set { return *f.set(i) }

// way returns what node n caches as: its length and address words 1-3,
// ok false when it does not fit a way.
func way(n *v6tab.Node) (l uint32, addr [3]uint32, ok bool) {
	switch {
	case n.Covered != 0:
		return 32, addr, true
	case n.LensLo == 0 && n.LensHi == 0 && n.InlineLen > 32:
		for i := range addr {
			addr[i] = binary.LittleEndian.Uint32(n.InlineAddr[4+4*i:])
		}
		return uint32(n.InlineLen), addr, true
	}
	return 0, addr, false
}

// Apply follows the writes of a build or a delta of the IPv6 table: each
// node written is cached where it fits (or dropped from the front where it
// no longer does), each node deleted is dropped.
func (f *Front) Apply(w *v6tab.Writes) {
	for i, k := range w.NodeKeys {
		f.put(Key(k.Addr), &w.NodeVals[i])
	}
	for _, k := range w.DeleteKeys {
		if k.Tag == v6tab.TagNode {
			f.put(Key(k.Addr), nil)
		}
	}
}

// put caches node n of /32 key, or drops the /32 when n is nil or does
// not fit a way.
func (f *Front) put(key uint32, n *v6tab.Node) {
	si := SetOf(key)
	s := f.set(si)
	var l uint32
	var addr [3]uint32
	ok := false
	if n != nil {
		l, addr, ok = way(n)
	}
	slot, free := -1, -1
	for i := range Ways {
		w := s[i*WayWords:]
		if w[1] != 0 && w[0] == key {
			slot = i
		}
		if w[1] == 0 && free < 0 {
			free = i
		}
	}
	if slot < 0 {
		if !ok || free < 0 {
			return // not cached, and stays so
		}
		slot = free
	}
	var want [WayWords]uint32
	if ok {
		want = [WayWords]uint32{key, l, addr[0], addr[1], addr[2]}
	}
	w := (*[WayWords]uint32)(s[slot*WayWords:])
	if *w == want {
		return
	}
	*w = want
	f.touch(si)
}

func (f *Front) touch(si uint32) {
	pg := si / SetsPerPage
	f.dirty[pg/64] |= 1 << (pg % 64)
	if f.mark[si/64]&(1<<(si%64)) == 0 {
		f.mark[si/64] |= 1 << (si % 64)
		f.changed = append(f.changed, si)
	}
}

// Lookup reads the front as the program does: blocked, or ok false when
// the front does not hold the source's /32 (or the set is being rewritten).
func (f *Front) Lookup(addr [16]byte) (blocked, ok bool) {
	return Match(f.set(SetOf(Key(addr))), addr)
}

// Match is the program's reading of one set for a source.
func Match(s *Set, addr [16]byte) (blocked, ok bool) {
	if s[StateWord] != 0 {
		return false, false
	}
	key := Key(addr)
	for i := range Ways {
		w := s[i*WayWords:]
		if w[1] == 0 || w[0] != key {
			continue
		}
		if w[1] <= 32 {
			return true, true
		}
		for j := range 3 {
			a := binary.BigEndian.Uint32(addr[4+4*j:])
			keep := int(w[1]) - 32 - 32*j
			switch {
			case keep <= 0:
				a = 0
			case keep < 32:
				a &= ^uint32(0) << (32 - keep)
			}
			if bits.ReverseBytes32(a) != w[2+j] {
				return false, true
			}
		}
		return true, true
	}
	return false, false
}

// Changed returns the sets changed since New or the last ClearDirty: a
// live front's sets are rewritten as bpf/dirmap.go writeFront does, since a
// reader could see a set half written.
func (f *Front) Changed() []uint32 { return f.changed }

// Dirty returns the changed pages as runs of map keys, for a front no
// packet reads yet.
func (f *Front) Dirty() (first []uint32, pages [][]Page) {
	start := -1
	for i := range f.pages {
		d := f.dirty[i/64]&(1<<(i%64)) != 0
		if d && start < 0 {
			start = i
		}
		if !d && start >= 0 {
			first, pages = append(first, uint32(start)), append(pages, f.pages[start:i])
			start = -1
		}
	}
	if start >= 0 {
		first, pages = append(first, uint32(start)), append(pages, f.pages[start:])
	}
	return first, pages
}

// ClearDirty forgets what changed.
func (f *Front) ClearDirty() {
	clear(f.dirty)
	for _, si := range f.changed {
		f.mark[si/64] &^= 1 << (si % 64)
	}
	f.changed = f.changed[:0]
}
