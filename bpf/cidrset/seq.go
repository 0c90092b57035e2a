package cidrset

// A seq is an immutable sequence of prefixes sorted by compare, held in
// chunks so that a delta copies only the chunks it touches plus the small
// chunk index, never the whole sequence: a 1k delta on a 1M-prefix list
// costs a few hundred kilobytes of copying instead of tens of megabytes.
// Untouched chunks are shared between generations.
type seq struct {
	chunks [][]Prefix // non-empty, in order; capacity clipped so no append can reach a neighbour
	firsts []Addr     // firsts[i] == chunks[i][0].Addr: the search index
	n      int

	// Unless the prefixes are disjoint (a cover), they may contain one
	// another, and the index also tracks how far each chunk reaches: that
	// tells whether a prefix before a position covers an address.
	disjoint bool
	last     []Addr // last[i] is the greatest Last() in chunks[i]
	maxLast  []Addr // maxLast[i] is the greatest Last() in chunks[0..i]
}

const (
	// chunkFill is the chunk length New produces: room to grow by half
	// before a split. It balances the two costs of a delta of k prefixes
	// on n: about k*chunkFill prefixes copied and n/chunkFill index slots.
	chunkFill = 64
	// chunkMax is the longest chunk; a longer run is split evenly.
	chunkMax = 2 * chunkFill
)

// pos is a position in a seq: chunk c, index i. The end is {len(chunks), 0}.
type pos struct{ c, i int }

// newSeq returns a seq over ps (sorted, unique), which it aliases.
func newSeq(ps []Prefix, disjoint bool) seq {
	nc := (len(ps) + chunkFill - 1) / chunkFill
	s := seq{disjoint: disjoint}
	s.alloc(nc)
	for i := 0; i < len(ps); i += chunkFill {
		c := ps[i:min(i+chunkFill, len(ps))]
		s.appendChunk(c, Addr{}, false)
	}
	s.index()
	return s
}

// alloc makes room in the index for nc chunks.
func (s *seq) alloc(nc int) {
	s.chunks = make([][]Prefix, 0, nc)
	s.firsts = make([]Addr, 0, nc)
	if !s.disjoint {
		s.last = make([]Addr, 0, nc)
	}
}

func maxLastOf(ps []Prefix) Addr {
	var m Addr
	for _, p := range ps {
		if l := p.Last(); m.Less(l) {
			m = l
		}
	}
	return m
}

func maxAddr(a, b Addr) Addr {
	if a.Less(b) {
		return b
	}
	return a
}

// appendChunk appends c (not empty) as a chunk whose capacity ends with it.
// last is its greatest Last() if known.
func (s *seq) appendChunk(c []Prefix, last Addr, known bool) {
	s.chunks = append(s.chunks, c[:len(c):len(c)])
	s.firsts = append(s.firsts, c[0].Addr)
	if !s.disjoint {
		if !known {
			last = maxLastOf(c)
		}
		s.last = append(s.last, last)
	}
}

// index derives n, and maxLast from last.
func (s *seq) index() {
	s.n = 0
	for _, c := range s.chunks {
		s.n += len(c)
	}
	if s.disjoint {
		return
	}
	s.maxLast = make([]Addr, len(s.chunks))
	var m Addr
	for i, l := range s.last {
		if m.Less(l) {
			m = l
		}
		s.maxLast[i] = m
	}
}

// appendTo appends every prefix of s to dst.
func (s *seq) appendTo(dst []Prefix) []Prefix {
	for _, c := range s.chunks {
		dst = append(dst, c...)
	}
	return dst
}

func (s *seq) valid(p pos) bool { return p.c < len(s.chunks) }
func (s *seq) at(p pos) Prefix  { return s.chunks[p.c][p.i] }
func (s *seq) atEnd() pos       { return pos{len(s.chunks), 0} }
func (s *seq) next(p pos) pos {
	if p.i++; p.i == len(s.chunks[p.c]) {
		p.c, p.i = p.c+1, 0
	}
	return p
}

func (s *seq) prev(p pos) (pos, bool) {
	if p.i > 0 {
		p.i--
		return p, true
	}
	if p.c == 0 {
		return p, false
	}
	p.c--
	p.i = len(s.chunks[p.c]) - 1
	return p, true
}

// floor returns the position of the last prefix whose address is <= a.
func (s *seq) floor(a Addr) (pos, bool) {
	f := s.firsts
	lo, hi := 0, len(f) // first chunk starting after a
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a.Less(f[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo == 0 {
		return pos{}, false
	}
	c := s.chunks[lo-1]
	i, j := 1, len(c) // c[0] <= a
	for i < j {
		m := int(uint(i+j) >> 1)
		if a.Less(c[m].Addr) {
			j = m
		} else {
			i = m + 1
		}
	}
	return pos{lo - 1, i - 1}, true
}

// ceil returns the position of the first prefix whose address is >= a
// (the end if there is none).
func (s *seq) ceil(a Addr) pos {
	f := s.firsts
	lo, hi := 0, len(f) // first chunk starting at or after a
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if f[m].Less(a) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return pos{}
	}
	c := s.chunks[lo-1]
	i, j := 1, len(c) // c[0] < a
	for i < j {
		m := int(uint(i+j) >> 1)
		if c[m].Addr.Less(a) {
			i = m + 1
		} else {
			j = m
		}
	}
	if i == len(c) {
		return pos{lo, 0}
	}
	return pos{lo - 1, i}
}

// maxLastBefore returns the greatest Last() of the prefixes before p, and
// false if there are none.
func (s *seq) maxLastBefore(p pos) (Addr, bool) {
	var m Addr
	ok := p.c > 0
	if ok {
		m = s.maxLast[p.c-1]
	}
	if p.c < len(s.chunks) {
		for _, q := range s.chunks[p.c][:p.i] {
			if l := q.Last(); !ok || m.Less(l) {
				m, ok = l, true
			}
		}
	}
	return m, ok
}

// target returns the chunk an edit e belongs in: the last chunk whose first
// prefix is <= e, or chunk 0. lo is a lower bound (edits come sorted).
func (s *seq) target(e Prefix, lo int) int {
	hi := len(s.firsts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c := s.firsts[m].Compare(e.Addr); c > 0 || (c == 0 && s.chunks[m][0].Bits > e.Bits) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return max(lo-1, 0)
}

func (s *seq) targets(es []Prefix) []int32 {
	out := make([]int32, len(es))
	t := 0
	for i, e := range es {
		t = s.target(e, t)
		out[i] = int32(t)
	}
	return out
}

// apply returns s with add inserted and remove taken out (both sorted by
// compare and unique; a prefix in both ends up out), and the prefixes that
// really went in and out, sorted. Only the chunks the edits fall into are
// rewritten, into one new backing array.
func (s *seq) apply(add, remove []Prefix) (next seq, in, out []Prefix) {
	if len(add)+len(remove) == 0 {
		return *s, nil, nil
	}
	ta, tr := s.targets(add), s.targets(remove)
	room := len(add)
	for i, j, prev := 0, 0, int32(-1); i < len(ta) || j < len(tr); {
		var t int32
		if j == len(tr) || (i < len(ta) && ta[i] <= tr[j]) {
			t = ta[i]
			i++
		} else {
			t = tr[j]
			j++
		}
		if t != prev && int(t) < len(s.chunks) {
			room += len(s.chunks[t])
		}
		prev = t
	}
	buf := make([]Prefix, 0, room)
	next.disjoint = s.disjoint
	next.alloc(len(s.chunks) + room/chunkMax + 1)

	ai, ri, c := 0, 0, 0
	for ai < len(add) || ri < len(remove) {
		t := len(s.chunks) + 1
		if ai < len(add) {
			t = int(ta[ai])
		}
		if ri < len(remove) {
			t = min(t, int(tr[ri]))
		}
		next.appendChunks(s, c, t)
		start := len(buf)
		// A run of consecutive touched chunks is merged into one stream
		// and split again, so chunks stay between 1 and chunkMax long.
		// Its greatest Last() is known without a scan unless a prefix
		// that reached that far went out.
		var last Addr
		known := true
		for {
			aj, rj := ai, ri
			for aj < len(add) && int(ta[aj]) == t {
				aj++
			}
			for rj < len(remove) && int(tr[rj]) == t {
				rj++
			}
			var items []Prefix
			if t < len(s.chunks) {
				items = s.chunks[t]
			}
			nin, nout := len(in), len(out)
			buf, in, out = mergeChunk(buf, items, add[ai:aj], remove[ri:rj], in, out)
			if !s.disjoint {
				if t < len(s.chunks) {
					last = maxAddr(last, s.last[t])
				}
				for _, p := range in[nin:] {
					last = maxAddr(last, p.Last())
				}
				for _, p := range out[nout:] {
					known = known && p.Last() != s.last[t]
				}
			}
			ai, ri, t = aj, rj, t+1
			if (ai == len(add) || int(ta[ai]) != t) && (ri == len(remove) || int(tr[ri]) != t) {
				break
			}
		}
		c = min(t, len(s.chunks))
		next.appendRun(buf[start:], last, known)
	}
	next.appendChunks(s, c, len(s.chunks))
	next.index()
	return next, in, out
}

// appendChunks appends chunks [i, j) of from, shared.
func (s *seq) appendChunks(from *seq, i, j int) {
	s.chunks = append(s.chunks, from.chunks[i:j]...)
	s.firsts = append(s.firsts, from.firsts[i:j]...)
	if !s.disjoint {
		s.last = append(s.last, from.last[i:j]...)
	}
}

// appendRun appends run as chunks of at most chunkMax, evenly split; last
// is its greatest Last() if known.
func (s *seq) appendRun(run []Prefix, last Addr, known bool) {
	if len(run) == 0 {
		return
	}
	n := (len(run) + chunkMax - 1) / chunkMax
	for k := range n {
		s.appendChunk(run[k*len(run)/n:(k+1)*len(run)/n], last, known && n == 1)
	}
}

// mergeChunk appends (items + add) - remove to buf, recording what really
// went in and out. The stretches of items between edits are block copies.
func mergeChunk(buf, items, add, remove, in, out []Prefix) ([]Prefix, []Prefix, []Prefix) {
	i := 0
	for len(add) > 0 || len(remove) > 0 {
		var e Prefix
		isAdd, isRemove := false, false
		switch {
		case len(remove) == 0:
			e, isAdd = add[0], true
		case len(add) == 0:
			e, isRemove = remove[0], true
		default:
			switch c := compare(add[0], remove[0]); {
			case c < 0:
				e, isAdd = add[0], true
			case c > 0:
				e, isRemove = remove[0], true
			default:
				e, isAdd, isRemove = add[0], true, true
			}
		}
		if isAdd {
			add = add[1:]
		}
		if isRemove {
			remove = remove[1:]
		}
		j := i + searchPrefix(items[i:], e)
		buf = append(buf, items[i:j]...)
		i = j
		present := i < len(items) && items[i] == e
		if present {
			i++
		}
		switch {
		case isRemove:
			if present {
				out = append(out, e)
			}
		case present:
			buf = append(buf, e)
		default:
			buf = append(buf, e)
			in = append(in, e)
		}
	}
	return append(buf, items[i:]...), in, out
}

// searchPrefix returns the index of the first prefix in ps that is >= e.
func searchPrefix(ps []Prefix, e Prefix) int {
	lo, hi := 0, len(ps)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if compare(ps[m], e) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
