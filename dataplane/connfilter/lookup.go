package connfilter

import "github.com/edgeguard/edgeguard/bpf/cidrset"

// lists is one immutable generation of the lists: the sets (kept for
// deltas) and flat sorted ranges for lookups.
type lists struct {
	blockSet4, blockSet6, allowSet4, allowSet6 *cidrset.Set

	block4, allow4 ranges4
	block6, allow6 ranges6
}

func newLists(block4, block6, allow4, allow6 *cidrset.Set) *lists {
	return &lists{
		blockSet4: block4, blockSet6: block6, allowSet4: allow4, allowSet6: allow6,
		block4: newRanges4(block4), allow4: newRanges4(allow4),
		block6: newRanges6(block6), allow6: newRanges6(allow6),
	}
}

// ranges4 holds disjoint, sorted, non-adjacent IPv4 intervals as parallel
// slices, so a lookup touches a few cache lines of uint32s.
type ranges4 struct {
	first, last []uint32
}

func newRanges4(s *cidrset.Set) ranges4 {
	rs := s.Ranges()
	r := ranges4{first: make([]uint32, len(rs)), last: make([]uint32, len(rs))}
	for i, x := range rs {
		r.first[i], r.last[i] = x.First.V4(), x.Last.V4()
	}
	return r
}

func (r *ranges4) contains(a uint32) bool {
	// Index of the first interval starting after a.
	lo, hi := 0, len(r.first)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.first[m] > a {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo > 0 && a <= r.last[lo-1]
}

type ranges6 struct {
	first, last []cidrset.Addr
}

func newRanges6(s *cidrset.Set) ranges6 {
	rs := s.Ranges()
	r := ranges6{first: make([]cidrset.Addr, len(rs)), last: make([]cidrset.Addr, len(rs))}
	for i, x := range rs {
		r.first[i], r.last[i] = x.First, x.Last
	}
	return r
}

func (r *ranges6) contains(a cidrset.Addr) bool {
	lo, hi := 0, len(r.first)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a.Less(r.first[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo > 0 && !r.last[lo-1].Less(a)
}
