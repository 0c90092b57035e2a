// Package cidrset keeps a list of IP prefixes (one address family) in the two
// forms the enforcers need: the exact set the control plane gave (so that a
// delta can remove precisely what it added) and the minimal set of disjoint
// CIDRs covering the same addresses (what gets loaded into lookup tables).
// A delta reports which cover CIDRs appeared and disappeared, so a kernel
// table can be updated incrementally instead of rebuilt, and it costs time
// in proportion to the change, not to the set: both forms are held in
// chunks shared between generations, and the cover is recomputed only
// around the changed prefixes.
//
// Sets are immutable values, safe to share between goroutines. The package
// must never perform I/O or know about the data path that uses it.
package cidrset

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Set is an immutable set of prefixes of one family.
type Set struct {
	raw   seq      // as given: masked, sorted by compare, unique
	cover seq      // minimal CIDR cover of raw's union: sorted, disjoint
	flat  []Prefix // the cover in one slice when New built it (cover aliases it), else nil
}

// Empty is the empty set.
var Empty = &Set{cover: seq{disjoint: true}}

// New returns the set of ps; ps is not retained or modified.
func New(ps []Prefix) *Set {
	raw := sorted(ps)
	raw = slices.Compact(raw)
	cover := aggregate(raw)
	return &Set{raw: newSeq(raw, false), cover: newSeq(cover, true), flat: cover}
}

// parallelSortMin is the length from which sorted uses two goroutines.
const parallelSortMin = 1 << 16

// sorted returns a sorted copy of ps. Large inputs are sorted as two halves
// in parallel and merged: replacing a 1M-entry list is latency-bound.
func sorted(ps []Prefix) []Prefix {
	if len(ps) < parallelSortMin {
		out := slices.Clone(ps)
		sortPrefixes(out)
		return out
	}
	tmp := slices.Clone(ps)
	a, b := tmp[:len(tmp)/2], tmp[len(tmp)/2:]
	var wg sync.WaitGroup
	wg.Go(func() { sortPrefixes(a) })
	sortPrefixes(b)
	wg.Wait()
	out := make([]Prefix, 0, len(ps))
	for len(a) > 0 && len(b) > 0 {
		if compare(b[0], a[0]) < 0 {
			out = append(out, b[0])
			b = b[1:]
		} else {
			out = append(out, a[0])
			a = a[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// sortedUnique returns ps sorted and without duplicates, in a new slice.
func sortedUnique(ps []Prefix) []Prefix {
	out := slices.Clone(ps)
	slices.SortFunc(out, compare)
	return slices.Compact(out)
}

// Len is the number of distinct prefixes as given.
func (s *Set) Len() int { return s.raw.n }

// CoverLen is the number of CIDRs in the cover.
func (s *Set) CoverLen() int { return s.cover.n }

// Cover returns the minimal disjoint CIDR cover, sorted. Callers must not
// modify it. A set made by Apply assembles it anew, in O(n): on the delta
// path use AppendCover for the part that matters.
func (s *Set) Cover() []Prefix {
	if s.flat != nil || s.cover.n == 0 {
		return s.flat
	}
	return s.cover.appendTo(make([]Prefix, 0, s.cover.n))
}

// AppendCover appends to dst the cover CIDRs that share an address with
// [first, last], in order.
func (s *Set) AppendCover(dst []Prefix, first, last Addr) []Prefix {
	c := &s.cover
	for p := s.firstEnding(first); c.valid(p) && !last.Less(c.at(p).Addr); p = c.next(p) {
		dst = append(dst, c.at(p))
	}
	return dst
}

// Intersects reports whether s holds an address in [first, last].
func (s *Set) Intersects(first, last Addr) bool {
	c := &s.cover
	p := s.firstEnding(first)
	return c.valid(p) && !last.Less(c.at(p).Addr)
}

// firstEnding is the position of the first cover CIDR that ends at or
// after first.
func (s *Set) firstEnding(first Addr) pos {
	c := &s.cover
	p, ok := c.floor(first)
	if !ok {
		return pos{}
	}
	if c.at(p).Last().Less(first) {
		return c.next(p)
	}
	return p
}

// Disjoint reports whether s and t share no address.
func (s *Set) Disjoint(t *Set) bool {
	if s.cover.n > t.cover.n {
		s, t = t, s
	}
	for _, p := range s.Cover() {
		if t.Intersects(p.First(), p.Last()) {
			return false
		}
	}
	return true
}

// Prefixes returns the prefixes as given, sorted, in a new slice.
func (s *Set) Prefixes() []Prefix {
	if s.raw.n == 0 {
		return nil
	}
	return s.raw.appendTo(make([]Prefix, 0, s.raw.n))
}

// Contains reports whether any prefix of s covers a.
func (s *Set) Contains(a Addr) bool {
	p, ok := s.cover.floor(a)
	return ok && !s.cover.at(p).Last().Less(a)
}

// Apply returns s with add inserted and then remove taken out, and the
// changes to the cover: added CIDRs are in next's cover and not in s's,
// removed ones the reverse, both sorted. Removing a prefix s does not hold
// is a no-op.
//
// The cost is that of the change, not of the set: the prefix lists are
// patched chunk by chunk (see seq), and the cover is recomputed only in the
// address windows of the prefixes that really went in or out, widened to the
// whole aggregated ranges they touch. Outside those windows no address
// changed membership, so no cover CIDR there can change either.
func (s *Set) Apply(add, remove []Prefix) (next *Set, added, removed []Prefix) {
	raw, in, out := s.raw.apply(sortedUnique(add), sortedUnique(remove))
	if len(in)+len(out) == 0 {
		return s, nil, nil
	}
	added, removed = coverDiff(&s.cover, &raw, windows(in, out))
	cover, _, _ := s.cover.apply(added, removed)
	return &Set{raw: raw, cover: cover}, added, removed
}

// windows returns the address intervals of a and b (each sorted by
// compare) merged into sorted, disjoint, non-adjacent intervals.
func windows(a, b []Prefix) []Range {
	var out []Range
	for len(a) > 0 || len(b) > 0 {
		var p Prefix
		if len(b) == 0 || (len(a) > 0 && compare(a[0], b[0]) <= 0) {
			p, a = a[0], a[1:]
		} else {
			p, b = b[0], b[1:]
		}
		f, l := p.First(), p.Last()
		if n := len(out); n > 0 && !gap(out[n-1].Last, f) {
			if out[n-1].Last.Less(l) {
				out[n-1].Last = l
			}
			continue
		}
		out = append(out, Range{f, l})
	}
	return out
}

// gap reports whether at least one address lies strictly between last and
// first, so that intervals ending at last and starting at first neither
// overlap nor touch.
func gap(last, first Addr) bool { return last.Less(first) && last.add1() != first }

// coverDiff computes how the cover changes when the raw prefixes change
// only inside ws (sorted, disjoint, non-adjacent windows): old is the cover
// before, raw the prefixes after. Windows are grouped into regions: a
// window plus the old aggregated ranges (runs of adjacent cover CIDRs) it
// touches, plus any further window those touch, and so on. The address just
// outside a region is in no window and not in the old union, so it is not
// in the new union either: new ranges never cross a region's edge, and the
// region's new cover can be computed alone and diffed against its old one.
func coverDiff(old, raw *seq, ws []Range) (added, removed []Prefix) {
	var olds, news []Prefix
	var ivs []Range
	for w := 0; w < len(ws); {
		x := ws[w]
		p, ok := old.floor(x.First)
		if !ok {
			p = pos{}
		} else if gap(old.at(p).Last(), x.First) {
			p = old.next(p)
		}
		if old.valid(p) && !gap(x.Last, old.at(p).First()) {
			// Widen left to the start of the aggregated range.
			for {
				q, ok := old.prev(p)
				if !ok || gap(old.at(q).Last(), old.at(p).First()) {
					break
				}
				p = q
			}
			if f := old.at(p).First(); f.Less(x.First) {
				x.First = f
			}
		}
		olds = olds[:0]
		w0 := w
		w++
		for {
			if old.valid(p) && !gap(x.Last, old.at(p).First()) {
				c := old.at(p)
				olds = append(olds, c)
				if l := c.Last(); x.Last.Less(l) {
					x.Last = l
				}
				p = old.next(p)
				continue
			}
			if w < len(ws) && !gap(x.Last, ws[w].First) {
				if x.Last.Less(ws[w].Last) {
					x.Last = ws[w].Last
				}
				w++
				continue
			}
			break
		}
		ivs = appendMinus(ivs[:0], olds, ws[w0:w])
		for _, win := range ws[w0:w] {
			ivs = raw.appendCoverage(ivs, win)
		}
		slices.SortFunc(ivs, func(a, b Range) int { return a.First.Compare(b.First) })
		news = appendRangesCover(news[:0], ivs)
		added, removed = appendDiff(added, removed, olds, news)
	}
	return added, removed
}

// appendMinus appends the parts of the CIDRs cs (sorted, disjoint) outside
// the windows ws (sorted, disjoint).
func appendMinus(dst []Range, cs []Prefix, ws []Range) []Range {
	j := 0
	for _, c := range cs {
		f, l := c.First(), c.Last()
		for j < len(ws) && ws[j].Last.Less(f) {
			j++
		}
		cur, done := f, false
		for k := j; k < len(ws) && !l.Less(ws[k].First); k++ {
			if cur.Less(ws[k].First) {
				dst = append(dst, Range{cur, ws[k].First.sub(Addr{0, 1})})
			}
			if !ws[k].Last.Less(l) {
				done = true
				break
			}
			cur = ws[k].Last.add1()
		}
		if !done {
			dst = append(dst, Range{cur, l})
		}
	}
	return dst
}

// appendCoverage appends the parts of w that the prefixes of s cover, as
// sorted, disjoint, non-adjacent intervals.
func (s *seq) appendCoverage(dst []Range, w Range) []Range {
	p := s.ceil(w.First)
	var cur Range
	m, open := s.maxLastBefore(p) // a prefix starting before w reaches m
	if open {
		if open = !m.Less(w.First); open {
			cur = Range{w.First, minAddr(m, w.Last)}
		}
	}
	for ; s.valid(p) && !(open && cur.Last == w.Last); p = s.next(p) {
		q := s.at(p)
		if w.Last.Less(q.Addr) {
			break
		}
		f, l := q.First(), minAddr(q.Last(), w.Last)
		if open && !gap(cur.Last, f) {
			if cur.Last.Less(l) {
				cur.Last = l
			}
			continue
		}
		if open {
			dst = append(dst, cur)
		}
		cur, open = Range{f, l}, true
	}
	if open {
		dst = append(dst, cur)
	}
	return dst
}

func minAddr(a, b Addr) Addr {
	if b.Less(a) {
		return b
	}
	return a
}

// appendRangesCover appends the minimal CIDR cover of rs (sorted by First;
// overlapping or touching intervals merge).
func appendRangesCover(dst []Prefix, rs []Range) []Prefix {
	for i := 0; i < len(rs); {
		cur := rs[i]
		for i++; i < len(rs) && !gap(cur.Last, rs[i].First); i++ {
			if cur.Last.Less(rs[i].Last) {
				cur.Last = rs[i].Last
			}
		}
		dst = appendCIDRs(dst, cur)
	}
	return dst
}

// Range is an inclusive address interval.
type Range struct {
	First, Last Addr
}

// Ranges returns the union of s as sorted, disjoint, non-adjacent intervals.
func (s *Set) Ranges() []Range {
	var out []Range
	for _, c := range s.cover.chunks {
		for _, p := range c {
			f, l := p.First(), p.Last()
			if n := len(out); n > 0 && !out[n-1].Last.isMax() && out[n-1].Last.add1() == f {
				out[n-1].Last = l
				continue
			}
			out = append(out, Range{f, l})
		}
	}
	return out
}

// aggregate computes the minimal CIDR cover of raw (sorted by compare).
func aggregate(raw []Prefix) []Prefix {
	// The cover rarely holds more CIDRs than the input: one allocation
	// instead of a doubling series (a 1M list allocated ~3x its size).
	out := make([]Prefix, 0, len(raw))
	var cur Range
	open := false
	for _, p := range raw {
		f, l := p.First(), p.Last()
		if open && !gap(cur.Last, f) {
			if cur.Last.Less(l) {
				cur.Last = l
			}
			continue
		}
		if open {
			out = appendCIDRs(out, cur)
		}
		cur, open = Range{f, l}, true
	}
	if open {
		out = appendCIDRs(out, cur)
	}
	return out
}

// appendCIDRs appends the minimal CIDRs exactly covering r.
func appendCIDRs(out []Prefix, r Range) []Prefix {
	a := r.First
	for {
		// Largest aligned block starting at a that stays inside r.
		k := a.trailingZeros()
		span := r.Last.sub(a) // block of 2^k fits iff 2^k - 1 <= span
		var fit uint
		if span.isMax() {
			fit = 128
		} else {
			fit = span.add1().bitLen() - 1
		}
		k = min(k, fit)
		out = append(out, Prefix{Addr: a, Bits: uint8(128 - k)})
		if k == 128 {
			return out
		}
		last := a.addPow2(k).sub(Addr{0, 1})
		if last == r.Last {
			return out
		}
		a = last.add1()
	}
}

// CoverDiff returns the cover CIDRs of to that from's cover lacks (added)
// and the reverse (removed), both sorted, when there are at most limit of
// them together; else ok is false, found after looking at about 2*limit
// CIDRs past the first difference, or at once for large sets with far more
// differences than limit (a sample of to's cover tells them apart).
func CoverDiff(from, to *Set, limit int) (added, removed []Prefix, ok bool) {
	if d := from.CoverLen() - to.CoverLen(); d > limit || -d > limit {
		return nil, nil, false
	}
	prev, next := from.Cover(), to.Cover()
	if farApart(prev, next, limit) {
		return nil, nil, false
	}
	i, j := 0, 0
	for i < len(prev) || j < len(next) {
		if len(added)+len(removed) > limit {
			return nil, nil, false
		}
		switch {
		case j == len(next):
			removed = append(removed, prev[i])
			i++
		case i == len(prev):
			added = append(added, next[j])
			j++
		default:
			switch c := compare(prev[i], next[j]); {
			case c < 0:
				removed = append(removed, prev[i])
				i++
			case c > 0:
				added = append(added, next[j])
				j++
			default:
				i++
				j++
			}
		}
	}
	if len(added)+len(removed) > limit {
		return nil, nil, false
	}
	return added, removed, true
}

// diffSample is how many CIDRs of a large cover farApart looks up.
const diffSample = 1024

// farApart reports whether a sample of next (evenly spread) shows that far
// more than limit of its CIDRs are missing from prev, both sorted: a list
// replaced by an unrelated one costs diffSample binary searches instead of
// a merge of 2*limit CIDRs. It errs only towards false: it reports true
// when the sample misses exceed the count expected at limit by over six
// standard deviations.
func farApart(prev, next []Prefix, limit int) bool {
	if len(next) < 4*diffSample {
		return false
	}
	expect := float64(diffSample) * float64(limit) / float64(len(next))
	misses := 0
	for k := range diffSample {
		p := next[k*len(next)/diffSample]
		if _, found := slices.BinarySearchFunc(prev, p, compare); !found {
			misses++
		}
	}
	return float64(misses) > expect+6*math.Sqrt(expect)+8
}

// appendDiff appends what is in next and not in prev (both sorted by
// compare) to added, and the reverse to removed.
func appendDiff(added, removed, prev, next []Prefix) ([]Prefix, []Prefix) {
	i, j := 0, 0
	for i < len(prev) || j < len(next) {
		switch {
		case j == len(next):
			removed = append(removed, prev[i])
			i++
		case i == len(prev):
			added = append(added, next[j])
			j++
		default:
			switch c := compare(prev[i], next[j]); {
			case c < 0:
				removed = append(removed, prev[i])
				i++
			case c > 0:
				added = append(added, next[j])
				j++
			default:
				i++
				j++
			}
		}
	}
	return added, removed
}

// maxReported bounds how many invalid entries one error lists.
const maxReported = 10

// Split validates ps and splits it by family. what names the list in errors
// ("blocklist"); the error names the invalid entries and how many there are.
// Large lists are converted as two halves on two CPUs: a replace waits for
// this before anything else starts.
func Split(what string, ps []netip.Prefix) (v4, v6 []Prefix, err error) {
	halves := [2][]netip.Prefix{ps, nil}
	if len(ps) >= splitParallelMin {
		halves = [2][]netip.Prefix{ps[:len(ps)/2], ps[len(ps)/2:]}
	}
	var n4, nbad [2]int
	onHalves(halves, func(h int) { n4[h], nbad[h] = count4(halves[h]) })
	if nbad[0]+nbad[1] > 0 {
		return nil, nil, invalidError(what, ps)
	}
	// Sized up front: growing two slices to 1M entries allocated ~3x.
	v4, v6 = make([]Prefix, n4[0]+n4[1]), make([]Prefix, len(ps)-n4[0]-n4[1])
	onHalves(halves, func(h int) {
		o4, o6 := 0, 0
		if h == 1 {
			o4, o6 = n4[0], len(halves[0])-n4[0]
		}
		for _, p := range halves[h] {
			pfx, is4 := PrefixFrom(p)
			if is4 {
				v4[o4] = pfx
				o4++
			} else {
				v6[o6] = pfx
				o6++
			}
		}
	})
	return v4, v6, nil
}

// splitParallelMin is the length from which Split uses two goroutines.
const splitParallelMin = 1 << 16

// onHalves runs f(0) and, when there is a second half, f(1) on another
// goroutine, and waits for both.
func onHalves(halves [2][]netip.Prefix, f func(h int)) {
	if len(halves[1]) == 0 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { f(1) })
	f(0)
	wg.Wait()
}

// count4 counts the valid prefixes of ps that PrefixFrom makes IPv4, and
// the invalid ones.
func count4(ps []netip.Prefix) (n4, bad int) {
	for _, p := range ps {
		switch {
		case !p.IsValid():
			bad++
		case p.Addr().Unmap().Is4() && (!p.Addr().Is4In6() || p.Bits() >= 96):
			n4++
		}
	}
	return n4, bad
}

// invalidError names the invalid entries of ps (up to maxReported) and how
// many there are.
func invalidError(what string, ps []netip.Prefix) error {
	var bad []string
	nbad := 0
	for i, p := range ps {
		if !p.IsValid() {
			if nbad++; nbad <= maxReported {
				bad = append(bad, fmt.Sprintf("%s[%d]: invalid prefix %q", what, i, p.String()))
			}
		}
	}
	msg := strings.Join(bad, "; ")
	if nbad > maxReported {
		msg += fmt.Sprintf("; and %d more", nbad-maxReported)
	}
	return fmt.Errorf("check %s: %s", what, msg)
}

// Delta is a blocklist delta split by family.
type Delta struct {
	Add4, Add6, Remove4, Remove6 []Prefix
}

// SplitDelta validates and splits both sides of a delta, naming the side at
// fault in its error.
func SplitDelta(add, remove []netip.Prefix) (Delta, error) {
	var d Delta
	var err error
	if d.Add4, d.Add6, err = Split("blocklist delta add", add); err != nil {
		return Delta{}, err
	}
	if d.Remove4, d.Remove6, err = Split("blocklist delta remove", remove); err != nil {
		return Delta{}, err
	}
	return d, nil
}
