package connfilter

import "github.com/edgeguard/edgeguard/bpf/cidrset"

// iv4 is one cover CIDR as an inclusive IPv4 interval (host order).
type iv4 struct{ first, last uint32 }

// ranges4 is an IPv4 cover as sorted, disjoint intervals of 8 bytes each,
// in chunks: a 1M-entry list stays small enough for the CPU caches (the
// cidrset cover holds 24-byte prefixes), and a delta copies only the
// chunks it touches plus the index, sharing the rest with the previous
// generation. Values are immutable.
type ranges4 struct {
	firsts []uint32 // firsts[i] == chunks[i][0].first: the search index
	chunks [][]iv4  // non-empty, at most chunk4Max; capacity clipped
}

const (
	chunk4Fill = 64 // intervals per chunk when built
	chunk4Max  = 2 * chunk4Fill
)

func toIV4(ps []cidrset.Prefix) []iv4 {
	out := make([]iv4, len(ps))
	for i, p := range ps {
		out[i] = iv4{p.First().V4(), p.Last().V4()}
	}
	return out
}

// newRanges4 returns the ranges of cover (sorted, disjoint IPv4 CIDRs).
func newRanges4(cover []cidrset.Prefix) ranges4 {
	ivs := toIV4(cover)
	nc := (len(ivs) + chunk4Fill - 1) / chunk4Fill
	r := ranges4{firsts: make([]uint32, 0, nc), chunks: make([][]iv4, 0, nc)}
	for i := 0; i < len(ivs); i += chunk4Fill {
		r.appendChunk(ivs[i:min(i+chunk4Fill, len(ivs))])
	}
	return r
}

func (r *ranges4) appendChunk(c []iv4) {
	r.firsts = append(r.firsts, c[0].first)
	r.chunks = append(r.chunks, c[:len(c):len(c)])
}

// contains reports whether a lies in an interval. Both searches halve a
// fixed number of times with no early exit, which the compiler turns into
// conditional moves: as fast as one flat binary search, hot or cold.
func (r *ranges4) contains(a uint32) bool {
	f := r.firsts
	if len(f) == 0 || a < f[0] {
		return false
	}
	c, n := 0, len(f) // f[c] <= a
	for n > 1 {
		half := n >> 1
		if f[c+half] <= a {
			c += half
		}
		n -= half
	}
	ch := r.chunks[c]
	i, m := 0, len(ch) // ch[i].first <= a
	for m > 1 {
		half := m >> 1
		if ch[i+half].first <= a {
			i += half
		}
		m -= half
	}
	return a <= ch[i].last
}

// target returns the chunk an interval starting at a belongs in: the last
// chunk starting at or before a, or chunk 0. lo is a lower bound.
func (r *ranges4) target(a uint32, lo int) int {
	hi := len(r.firsts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.firsts[m] > a {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return max(lo-1, 0)
}

// patch returns r with the intervals starting where removed ones do taken
// out and added put in. added and removed are sorted and disjoint each, as
// cidrset.Set.Apply reports cover changes; an interval may be removed and
// added at the same first address (a /25 growing into its /24). Runs of
// touched chunks are rewritten into one new array; the rest is shared.
func (r *ranges4) patch(added, removed []iv4) ranges4 {
	if len(added)+len(removed) == 0 {
		return *r
	}
	ta, tr := make([]int, len(added)), make([]int, len(removed))
	t := 0
	for i, x := range added {
		t = r.target(x.first, t)
		ta[i] = t
	}
	t = 0
	for i, x := range removed {
		t = r.target(x.first, t)
		tr[i] = t
	}
	room := len(added)
	for i, j, prev := 0, 0, -1; i < len(ta) || j < len(tr); {
		if j == len(tr) || (i < len(ta) && ta[i] <= tr[j]) {
			t, i = ta[i], i+1
		} else {
			t, j = tr[j], j+1
		}
		if t != prev && t < len(r.chunks) {
			room += len(r.chunks[t])
		}
		prev = t
	}
	buf := make([]iv4, 0, room)
	nc := len(r.chunks) + room/chunk4Max + 1
	next := ranges4{firsts: make([]uint32, 0, nc), chunks: make([][]iv4, 0, nc)}
	ai, ri, c := 0, 0, 0
	for ai < len(added) || ri < len(removed) {
		t := len(r.chunks)
		if ai < len(added) {
			t = ta[ai]
		}
		if ri < len(removed) {
			t = min(t, tr[ri])
		}
		next.firsts = append(next.firsts, r.firsts[c:t]...)
		next.chunks = append(next.chunks, r.chunks[c:t]...)
		start := len(buf)
		for {
			aj, rj := ai, ri
			for aj < len(added) && ta[aj] == t {
				aj++
			}
			for rj < len(removed) && tr[rj] == t {
				rj++
			}
			var items []iv4
			if t < len(r.chunks) {
				items = r.chunks[t]
			}
			buf = merge4(buf, items, added[ai:aj], removed[ri:rj])
			ai, ri, t = aj, rj, t+1
			if (ai == len(added) || ta[ai] != t) && (ri == len(removed) || tr[ri] != t) {
				break
			}
		}
		c = min(t, len(r.chunks))
		if run := buf[start:]; len(run) > 0 {
			n := (len(run) + chunk4Max - 1) / chunk4Max
			for k := range n {
				next.appendChunk(run[k*len(run)/n : (k+1)*len(run)/n])
			}
		}
	}
	next.firsts = append(next.firsts, r.firsts[c:]...)
	next.chunks = append(next.chunks, r.chunks[c:]...)
	return next
}

// merge4 appends items without those starting where a removed interval
// starts, merged with added, to buf.
func merge4(buf, items, added, removed []iv4) []iv4 {
	k := 0
	for _, x := range items {
		for k < len(removed) && removed[k].first < x.first {
			k++
		}
		for len(added) > 0 && added[0].first < x.first {
			buf = append(buf, added[0])
			added = added[1:]
		}
		if k < len(removed) && removed[k].first == x.first {
			continue
		}
		buf = append(buf, x)
	}
	return append(buf, added...)
}
