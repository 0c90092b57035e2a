// Package v6front builds the front of the IPv6 blocklist table: a
// set-associative array that caches, per /32, what the table's node for it
// says when that fits in a few words, so that most IPv6 hits cost one read
// of an 8 MiB array instead of a hash lookup (a call into the kernel and
// two reads in tables far larger: ~250 ns more for a source the caches
// have not seen, bench/xdp BenchmarkCold). It mirrors struct v6_front_set
// in bpf/xdp/filter.c; writing it to the kernel is the caller's job.
//
// The front answers for the /32s it holds, from their nodes, which are the
// whole truth for their /32s (v6tab: the cover is disjoint), and for a
// source in a complete set (one that holds every /32 of the table that
// falls in it) that its /32 has no node: only the short CIDRs remain to be
// probed. That second answer holds only while the front and the table in
// the slots belong together, so the program uses the front only while
// block_v6_short says so (ShortWord); user space clears that before a swap
// and sets it after both are in, and around a delta of the table.
//
// A set is 16 little-endian words, in one 64-byte line: three ways of
// five words (the /32 as the program loads it, the length, then address
// words 1-3 of the CIDR, host bits zero) and a state word. Length 0 is an
// empty way, 32 a /32 the node covers whole, 33-128 the node's only CIDR,
// LenTable a /32 whose node holds more (read the table). The state's high
// half is nonzero while user space rewrites the set (readers then go to the
// table); bit 0 (Incomplete) says a /32 of the set found no way.
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
	MinBits     = 6  // one page of sets
	MaxBits     = 19 // 32 MiB
	SetWords    = 16
	Ways        = 3
	WayWords    = 5
	StateWord   = 15
	PageWords   = 1024
	SetsPerPage = PageWords / SetWords
	// LenTable marks a way whose /32's node holds more than one CIDR.
	LenTable = 255
	// Invalid is a set's state while it is rewritten; Incomplete that a
	// /32 of the set is not in it.
	Invalid    = 0xffff << 16
	Incomplete = 1
	// Multiplier picks a /32's set: (key * Multiplier) >> (32 - bits).
	Multiplier = 0x9e3779b1
	// ShortBitsShift places a front's bits in the block_v6_short word
	// (ShortWord), above the short lengths' bitmap.
	ShortBitsShift = 32
)

// BitsFor sizes a front for n nodes: about two per set, so that most sets
// hold all of theirs.
func BitsFor(n int) uint32 {
	b := uint32(MinBits)
	for b < MaxBits && 1<<b < n/2 {
		b++
	}
	return b
}

// ShortWord is the block_v6_short word for short lengths short and a live
// front of bits (0: no front, the program ignores it).
func ShortWord(short, bits uint32) uint64 { return uint64(short) | uint64(bits)<<ShortBitsShift }

// Page is one map value (4 KiB).
type Page [PageWords]uint32

// Set is one set.
type Set [SetWords]uint32

// Front is the user-space mirror of one front map.
type Front struct {
	bits    uint32
	pages   []Page
	dirty   []uint64 // bitset over pages
	changed []uint32 // sets changed since ClearDirty
	mark    []uint64 // bitset over sets: in changed
	// Nodes that found no way, and how many per set (sets with any are
	// Incomplete).
	left   map[uint32]struct{}
	leftIn []uint16
}

// New returns an empty front of 1 << bits sets (MinBits..MaxBits).
func New(bits uint32) *Front {
	bits = min(max(bits, MinBits), MaxBits)
	sets := 1 << bits
	return &Front{bits: bits, pages: make([]Page, sets/SetsPerPage), dirty: make([]uint64, (sets/SetsPerPage+63)/64),
		mark: make([]uint64, (sets+63)/64), left: map[uint32]struct{}{}, leftIn: make([]uint16, sets)}
}

// Bits is the front's size: 1 << Bits sets.
func (f *Front) Bits() uint32 { return f.bits }

// Pages is the number of map entries the front takes.
func (f *Front) Pages() int { return len(f.pages) }

// Key is a /32 as the program loads it: the first four address bytes as a
// little-endian word.
func Key(addr [16]byte) uint32 { return binary.LittleEndian.Uint32(addr[:4]) }

// SetOf is the set a /32 (as Key) lives in.
func (f *Front) SetOf(key uint32) uint32 { return key * Multiplier >> (32 - f.bits) }

func (f *Front) set(i uint32) *Set {
	pg := &f.pages[i/SetsPerPage]
	off := i % SetsPerPage * SetWords
	return (*Set)(pg[off : off+SetWords])
}

// Set returns set i.
func (f *Front) Set(i uint32) Set { return *f.set(i) }

// Sets is the number of sets.
func (f *Front) Sets() uint32 { return 1 << f.bits }

// way returns what node n says as a way: its length and address words
// 1-3 (LenTable when it holds more than one CIDR).
func way(n *v6tab.Node) (l uint32, addr [3]uint32) {
	switch {
	case n.Covered != 0:
		return 32, addr
	case n.LensLo == 0 && n.LensHi == 0 && n.InlineLen > 32:
		for i := range addr {
			addr[i] = binary.LittleEndian.Uint32(n.InlineAddr[4+4*i:])
		}
		return uint32(n.InlineLen), addr
	}
	return LenTable, addr
}

// Apply follows the writes of a build or a delta of the IPv6 table: each
// node written takes or updates its /32's way, each node deleted frees it.
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

// put sets node n of /32 key (nil: the node is gone).
func (f *Front) put(key uint32, n *v6tab.Node) {
	si := f.SetOf(key)
	s := f.set(si)
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
		if f.isLeft(si, key) {
			if n == nil {
				delete(f.left, key)
				if f.leftIn[si]--; f.leftIn[si] == 0 {
					s[StateWord] &^= Incomplete
					f.touch(si)
				}
			}
			return
		}
		if n == nil {
			return
		}
		if free < 0 {
			f.left[key] = struct{}{}
			if f.leftIn[si]++; f.leftIn[si] == 1 {
				s[StateWord] |= Incomplete
				f.touch(si)
			}
			return
		}
		slot = free
	}
	var want [WayWords]uint32
	if n != nil {
		l, addr := way(n)
		want = [WayWords]uint32{key, l, addr[0], addr[1], addr[2]}
	}
	w := (*[WayWords]uint32)(s[slot*WayWords:])
	if *w == want {
		return
	}
	*w = want
	f.touch(si)
}

// isLeft reports whether /32 key of set si is left out of the front. Most
// sets have none left out: they skip the map.
func (f *Front) isLeft(si, key uint32) bool {
	if f.leftIn[si] == 0 {
		return false
	}
	_, ok := f.left[key]
	return ok
}

func (f *Front) touch(si uint32) {
	pg := si / SetsPerPage
	f.dirty[pg/64] |= 1 << (pg % 64)
	if f.mark[si/64]&(1<<(si%64)) == 0 {
		f.mark[si/64] |= 1 << (si % 64)
		f.changed = append(f.changed, si)
	}
}

// Answers of Lookup and Match.
const (
	Pass    = 0  // the /32's node does not block the source
	Blocked = 1  // the /32's node blocks it
	Table   = -1 // no answer: look the source up in the table
	NoNode  = -2 // the /32 has no node: only short CIDRs can block it
)

// Lookup reads the front as the program does.
func (f *Front) Lookup(addr [16]byte) int {
	return Match(f.set(f.SetOf(Key(addr))), addr)
}

// Match is the program's reading of one set for a source.
func Match(s *Set, addr [16]byte) int {
	state := s[StateWord]
	if state>>16 != 0 {
		return Table
	}
	key := Key(addr)
	for i := range Ways {
		w := s[i*WayWords:]
		if w[1] == 0 || w[0] != key {
			continue
		}
		switch {
		case w[1] == LenTable:
			return Table
		case w[1] <= 32:
			return Blocked
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
				return Pass
			}
		}
		return Blocked
	}
	if state&Incomplete != 0 {
		return Table
	}
	return NoNode
}

// Changed returns the sets changed since New or the last ClearDirty. The
// owner writes a front that packets may read only while the program does
// not use it (block_v6_short without its bits, then a grace period).
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
