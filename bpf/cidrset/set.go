// Package cidrset keeps a list of IP prefixes (one address family) in the two
// forms the enforcers need: the exact set the control plane gave (so that a
// delta can remove precisely what it added) and the minimal set of disjoint
// CIDRs covering the same addresses (what gets loaded into lookup tables).
// A delta reports which cover CIDRs appeared and disappeared, so a kernel
// table can be updated incrementally instead of rebuilt.
//
// Sets are immutable values, safe to share between goroutines. The package
// must never perform I/O or know about the data path that uses it.
package cidrset

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Set is an immutable set of prefixes of one family.
type Set struct {
	raw   []Prefix // as given: masked, sorted by compare, unique
	cover []Prefix // minimal CIDR cover of raw's union: sorted, disjoint
}

// Empty is the empty set.
var Empty = &Set{}

// New returns the set of ps; ps is not retained or modified.
func New(ps []Prefix) *Set {
	raw := sorted(ps)
	raw = slices.Compact(raw)
	return &Set{raw: raw, cover: aggregate(raw)}
}

// parallelSortMin is the length from which sorted uses two goroutines.
const parallelSortMin = 1 << 16

// sorted returns a sorted copy of ps. Large inputs are sorted as two halves
// in parallel and merged: replacing a 1M-entry list is latency-bound.
func sorted(ps []Prefix) []Prefix {
	if len(ps) < parallelSortMin {
		out := slices.Clone(ps)
		slices.SortFunc(out, compare)
		return out
	}
	tmp := slices.Clone(ps)
	a, b := tmp[:len(tmp)/2], tmp[len(tmp)/2:]
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(a, compare) })
	slices.SortFunc(b, compare)
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

// Len is the number of distinct prefixes as given.
func (s *Set) Len() int { return len(s.raw) }

// Cover returns the minimal disjoint CIDR cover, sorted. Callers must not
// modify it.
func (s *Set) Cover() []Prefix { return s.cover }

// Prefixes returns the prefixes as given, sorted. Callers must not modify it.
func (s *Set) Prefixes() []Prefix { return s.raw }

// Contains reports whether any prefix of s covers a.
func (s *Set) Contains(a Addr) bool {
	c := s.cover
	// Last cover CIDR whose first address is <= a.
	lo, hi := 0, len(c)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a.Less(c[m].Addr) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo > 0 && !c[lo-1].Last().Less(a)
}

// Apply returns s with add inserted and then remove taken out, and the
// changes to the cover: added CIDRs are in next's cover and not in s's,
// removed ones the reverse. Removing a prefix s does not hold is a no-op.
func (s *Set) Apply(add, remove []Prefix) (next *Set, added, removed []Prefix) {
	a := slices.Clone(add)
	slices.SortFunc(a, compare)
	a = slices.Compact(a)
	r := slices.Clone(remove)
	slices.SortFunc(r, compare)
	r = slices.Compact(r)

	raw := make([]Prefix, 0, len(s.raw)+len(a))
	i, j := 0, 0
	for i < len(s.raw) || j < len(a) {
		var p Prefix
		switch {
		case j == len(a):
			p = s.raw[i]
			i++
		case i == len(s.raw):
			p = a[j]
			j++
		default:
			switch c := compare(s.raw[i], a[j]); {
			case c < 0:
				p = s.raw[i]
				i++
			case c > 0:
				p = a[j]
				j++
			default:
				p = s.raw[i]
				i++
				j++
			}
		}
		if _, found := slices.BinarySearchFunc(r, p, compare); !found {
			raw = append(raw, p)
		}
	}
	next = &Set{raw: raw, cover: aggregate(raw)}
	added, removed = diff(s.cover, next.cover)
	return next, added, removed
}

// Range is an inclusive address interval.
type Range struct {
	First, Last Addr
}

// Ranges returns the union of s as sorted, disjoint, non-adjacent intervals.
func (s *Set) Ranges() []Range {
	var out []Range
	for _, p := range s.cover {
		f, l := p.First(), p.Last()
		if n := len(out); n > 0 && !out[n-1].Last.isMax() && out[n-1].Last.add1() == f {
			out[n-1].Last = l
			continue
		}
		out = append(out, Range{f, l})
	}
	return out
}

// aggregate computes the minimal CIDR cover of raw (sorted by compare).
func aggregate(raw []Prefix) []Prefix {
	var out []Prefix
	var cur Range
	open := false
	for _, p := range raw {
		f, l := p.First(), p.Last()
		if open && (cur.Last.isMax() || !cur.Last.add1().Less(f)) {
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

// diff returns what is in next and not in prev (added) and the reverse.
func diff(prev, next []Prefix) (added, removed []Prefix) {
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
func Split(what string, ps []netip.Prefix) (v4, v6 []Prefix, err error) {
	var bad []string
	nbad := 0
	for i, p := range ps {
		if !p.IsValid() {
			if nbad++; nbad <= maxReported {
				bad = append(bad, fmt.Sprintf("%s[%d]: invalid prefix %q", what, i, p.String()))
			}
			continue
		}
		pfx, is4 := PrefixFrom(p)
		if is4 {
			v4 = append(v4, pfx)
		} else {
			v6 = append(v6, pfx)
		}
	}
	if nbad > 0 {
		msg := strings.Join(bad, "; ")
		if nbad > maxReported {
			msg += fmt.Sprintf("; and %d more", nbad-maxReported)
		}
		return nil, nil, fmt.Errorf("check %s: %s", what, msg)
	}
	return v4, v6, nil
}
