package connfilter

import "github.com/edgeguard/edgeguard/bpf/cidrset"

// lists is one immutable generation of the lists: the sets (kept for
// deltas; the IPv6 ones answer lookups themselves) and, for IPv4, compact
// interval chunks for lookups. A delta builds the next generation from the
// patched sets and the cover changes they report, so nothing here costs
// time in proportion to the list's length.
type lists struct {
	blockSet4, blockSet6, allowSet4, allowSet6 *cidrset.Set

	block4, allow4 ranges4
}

func newLists(block4, block6, allow4, allow6 *cidrset.Set) *lists {
	return &lists{
		blockSet4: block4, blockSet6: block6, allowSet4: allow4, allowSet6: allow6,
		block4: newRanges4(block4.Cover()), allow4: newRanges4(allow4.Cover()),
	}
}
