// Package v6tab lays out the hash table that the XDP program reads for IPv6
// blocklists (see struct v6_key and struct v6_node in bpf/xdp/filter.c). It
// turns a disjoint CIDR cover into map entries, and a change of cover into
// the entry writes that patch a live table; writing them to the kernel is
// the caller's job.
//
// Layout. Every /32 that holds a cover CIDR of 33 bits or more, or that a
// CIDR of Expand..32 bits covers, has a node (tag TagNode, the /32 in the
// first four address bytes). A node says "covered", or holds one CIDR of
// the /32 inline (compared without a further lookup: the common case, one
// CIDR per /32, costs one hash lookup) and the lengths of the others as a
// bitmap; each of those others is an entry tagged with its length. CIDRs
// shorter than Expand bits are entries tagged with their length, probed for
// every source without a node, by the lengths in ShortBits. The program
// therefore never walks a trie: a hit or a miss is one to a few hash
// lookups whatever the list size.
//
// Invariant the kernel side relies on: the cover is disjoint, so a source
// inside a /32 that has a node is blocked only by that node's CIDRs.
//
// The package must never touch the kernel.
package v6tab

import (
	"math/bits"
	"slices"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

// Layout shared with bpf/xdp/filter.c.
const (
	TagNode = 0x100 // key tag of a /32 node; other tags are prefix lengths
	// ExpandMin is the shortest length a table may spread over nodes (a
	// /20 becomes 4096 of them).
	ExpandMin = 20
	// ExpandBudget bounds the nodes a build spends on CIDRs shorter than
	// /32: Expand is the shortest length that keeps within it.
	ExpandBudget = 1 << 18
)

// Key is a map key: struct v6_key.
type Key struct {
	Tag  uint32
	Addr [16]byte
}

// Node is a map value: struct v6_node. Entries other than nodes have a
// zero value.
type Node struct {
	LensLo     uint64 // further CIDRs of 33-96 bits: bit len-33
	LensHi     uint32 // further CIDRs of 97-128 bits: bit len-97
	Covered    uint8  // a CIDR of 32 bits or fewer covers the /32
	InlineLen  uint8  // 0, or the length (33-128) of the CIDR in InlineAddr
	Pad        uint16
	InlineAddr [16]byte
}

// Table is the layout decision of one map: which short CIDRs are spread
// over nodes, and how many entries each short length has.
type Table struct {
	// Expand is the shortest length spread over nodes (ExpandMin..32);
	// shorter CIDRs are entries probed by length.
	Expand uint8
	short  [32]int
}

// Writes is what a build or a delta writes, in this order: Insert (entries
// nobody points at yet), Nodes (written or replaced: from here the new
// CIDRs count), then DeleteNodes and Delete (what no longer counts).
type Writes struct {
	InsertKeys []Key
	NodeKeys   []Key
	NodeVals   []Node
	DeleteKeys []Key // nodes, then entries
}

// Len is the number of writes.
func (w *Writes) Len() int { return len(w.InsertKeys) + len(w.NodeKeys) + len(w.DeleteKeys) }

// New chooses the layout for cover (sorted, disjoint IPv6 CIDRs).
func New(cover []cidrset.Prefix) *Table {
	var n [33]uint64
	for _, p := range cover {
		if p.Bits < 32 {
			n[p.Bits]++
		}
	}
	t := &Table{Expand: 32}
	spent := uint64(0)
	for l := 31; l >= ExpandMin; l-- {
		spent += n[l] << (32 - l)
		if spent > ExpandBudget {
			break
		}
		t.Expand = uint8(l)
	}
	return t
}

// Entries returns the number of map entries cover needs: a size hint.
func (t *Table) Entries(cover []cidrset.Prefix) int {
	n := 0
	for _, p := range cover {
		switch {
		case p.Bits < t.Expand:
			n++
		case p.Bits <= 32:
			n += 1 << (32 - p.Bits)
		default:
			n++
		}
	}
	return n
}

// ShortBits is the bitmap of short lengths (bit len) that have entries:
// the value of block_v6_short.
func (t *Table) ShortBits() uint32 {
	var b uint32
	for l, n := range t.short {
		if n > 0 {
			b |= 1 << l
		}
	}
	return b
}

func node32(a cidrset.Addr) uint32 { return uint32(a.Hi >> 32) }

func nodeKey(n uint32) Key {
	return Key{Tag: TagNode, Addr: [16]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}}
}

func entryKey(p cidrset.Prefix) Key { return Key{Tag: uint32(p.Bits), Addr: p.Addr.As16()} }

// node builds the node of one /32 from the cover CIDRs of Expand bits or
// more that lie in it (or the one that covers it), and appends the keys of
// its further entries to extra.
func (t *Table) node(ps []cidrset.Prefix, extra []Key) (Node, []Key) {
	var nd Node
	for i, p := range ps {
		switch {
		case p.Bits <= 32:
			nd.Covered = 1 // disjoint: the only CIDR here
		case i == 0:
			nd.InlineLen = p.Bits
			nd.InlineAddr = p.Addr.As16()
		default:
			if p.Bits <= 96 {
				nd.LensLo |= 1 << (p.Bits - 33)
			} else {
				nd.LensHi |= 1 << (p.Bits - 97)
			}
			extra = append(extra, entryKey(p))
		}
	}
	return nd, extra
}

// Build returns the writes that fill an empty map with cover (sorted,
// disjoint), and counts its short entries.
func (t *Table) Build(cover []cidrset.Prefix) *Writes {
	w := &Writes{NodeKeys: make([]Key, 0, len(cover)), NodeVals: make([]Node, 0, len(cover))}
	covered := Node{Covered: 1}
	for i := 0; i < len(cover); {
		p := cover[i]
		switch {
		case p.Bits < t.Expand:
			w.InsertKeys = append(w.InsertKeys, entryKey(p))
			t.short[p.Bits]++
			i++
		case p.Bits <= 32:
			first := node32(p.Addr)
			for n := uint64(first); n <= uint64(node32(p.Last())); n++ {
				w.NodeKeys = append(w.NodeKeys, nodeKey(uint32(n)))
				w.NodeVals = append(w.NodeVals, covered)
			}
			i++
		default:
			n := node32(p.Addr)
			j := i + 1
			for j < len(cover) && cover[j].Bits > 32 && node32(cover[j].Addr) == n {
				j++
			}
			var nd Node
			nd, w.InsertKeys = t.node(cover[i:j], w.InsertKeys)
			w.NodeKeys = append(w.NodeKeys, nodeKey(n))
			w.NodeVals = append(w.NodeVals, nd)
			i = j
		}
	}
	return w
}

// Delta returns the writes that turn a map holding old's cover into one
// holding next's, given the cover CIDRs that appeared (added) and
// disappeared (removed), as cidrset.Set.Apply reports them, and updates
// the short counts. A source blocked before and after is blocked
// throughout when the writes are applied in order.
func (t *Table) Delta(old, next *cidrset.Set, added, removed []cidrset.Prefix) *Writes {
	w := &Writes{}
	var touched []uint32
	for _, p := range added {
		if p.Bits < t.Expand {
			w.InsertKeys = append(w.InsertKeys, entryKey(p))
			t.short[p.Bits]++
			continue
		}
		touched = appendNodes(touched, p)
	}
	var dropShort []Key
	for _, p := range removed {
		if p.Bits < t.Expand {
			dropShort = append(dropShort, entryKey(p))
			t.short[p.Bits]--
			continue
		}
		touched = appendNodes(touched, p)
	}
	slices.Sort(touched)
	touched = slices.Compact(touched)
	var before, after []cidrset.Prefix
	var oldExtra, newExtra []Key
	for _, n := range touched {
		first := cidrset.Addr{Hi: uint64(n) << 32}
		last := cidrset.Addr{Hi: first.Hi | 0xffffffff, Lo: ^uint64(0)}
		before = t.long(old.AppendCover(before[:0], first, last))
		after = t.long(next.AppendCover(after[:0], first, last))
		var oldNode, newNode Node
		oldNode, oldExtra = t.node(before, oldExtra[:0])
		newNode, newExtra = t.node(after, newExtra[:0])
		for _, k := range newExtra {
			if !slices.Contains(oldExtra, k) {
				w.InsertKeys = append(w.InsertKeys, k)
			}
		}
		for _, k := range oldExtra {
			if !slices.Contains(newExtra, k) {
				dropShort = append(dropShort, k)
			}
		}
		switch {
		case len(after) > 0 && (len(before) == 0 || newNode != oldNode):
			w.NodeKeys = append(w.NodeKeys, nodeKey(n))
			w.NodeVals = append(w.NodeVals, newNode)
		case len(after) == 0 && len(before) > 0:
			w.DeleteKeys = append(w.DeleteKeys, nodeKey(n))
		}
	}
	w.DeleteKeys = append(w.DeleteKeys, dropShort...)
	return w
}

// long keeps the CIDRs of ps that belong in nodes (Expand bits or more), in
// place.
func (t *Table) long(ps []cidrset.Prefix) []cidrset.Prefix {
	return slices.DeleteFunc(ps, func(p cidrset.Prefix) bool { return p.Bits < t.Expand })
}

// appendNodes appends the /32 nodes p spans (p has Expand bits or more).
func appendNodes(dst []uint32, p cidrset.Prefix) []uint32 {
	for n := uint64(node32(p.Addr)); n <= uint64(node32(p.Last())); n++ {
		dst = append(dst, uint32(n))
	}
	return dst
}

// Lookup reports whether addr is blocked by a map holding entries, reading
// it exactly as the XDP program does (for tests).
func Lookup(entries map[Key]Node, shortBits uint32, addr [16]byte) bool {
	nk := Key{Tag: TagNode}
	copy(nk.Addr[:4], addr[:4])
	if nd, ok := entries[nk]; ok {
		if nd.Covered != 0 {
			return true
		}
		if nd.InlineLen != 0 && mask(addr, nd.InlineLen) == nd.InlineAddr {
			return true
		}
		for m := nd.LensLo; m != 0; m &= m - 1 {
			if probe(entries, addr, uint8(33+bits.TrailingZeros64(m))) {
				return true
			}
		}
		for m := nd.LensHi; m != 0; m &= m - 1 {
			if probe(entries, addr, uint8(97+bits.TrailingZeros32(m))) {
				return true
			}
		}
		return false
	}
	for m := shortBits; m != 0; m &= m - 1 {
		if probe(entries, addr, uint8(bits.TrailingZeros32(m))) {
			return true
		}
	}
	return false
}

func probe(entries map[Key]Node, addr [16]byte, l uint8) bool {
	_, ok := entries[Key{Tag: uint32(l), Addr: mask(addr, l)}]
	return ok
}

func mask(a [16]byte, l uint8) [16]byte {
	for i := range a {
		switch bitsLeft := int(l) - 8*i; {
		case bitsLeft <= 0:
			a[i] = 0
		case bitsLeft < 8:
			a[i] &= byte(0xff << (8 - bitsLeft))
		}
	}
	return a
}
