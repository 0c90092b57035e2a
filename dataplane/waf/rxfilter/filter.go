// Package rxfilter computes, once per regular expression, a necessary
// condition on its input: the literals any match must contain, as an
// and/or query (Google codesearch's index/regexp.go idea, on whole
// literals instead of trigrams), and checks it with one Aho-Corasick scan
// of the input, which also records the input's bytes for the one-byte
// literals. A regular expression that counts punctuation (at least N of a
// set of bytes) gets that count as a second condition. When a condition
// fails, the regular expression cannot match and need not run. Go's
// regexp (Compile) and rsc.io/binaryregexp (CompileBytes) are both
// covered.
//
// The filter must never say "cannot match" for an input the regular
// expression matches: a filter that is wrong that way skips a WAF rule. So
// the analysis gives up precision wherever it is unsure, never soundness:
// an unknown operation may match anything, a non-ASCII rune is an unknown
// character, a large character class is an unknown character, and the
// input is compared lower-cased, with the two non-ASCII runes that Go's
// case folding maps to ASCII letters (U+212A KELVIN SIGN to k, U+017F
// LATIN SMALL LETTER LONG S to s) mapped too. A regular expression whose
// condition is empty (it may match any input, e.g. one that can match the
// empty string without a literal) gets no filter. FuzzFilter and
// FuzzFilterBytes check the promise on random expressions and inputs.
package rxfilter

import (
	"fmt"
	"regexp/syntax"
	"slices"
)

// Filter is the compiled condition of one regular expression. It is
// immutable and safe for concurrent use.
//
// Unless the query is one or of literals (scanned until the first is
// found), one-byte literals are not in the automaton: the scan records
// which byte classes it saw, and a one-byte literal is a look-up there.
type Filter struct {
	q     *query
	lits  []string  // the automaton's literals
	eval  []node    // the query; eval[0] is the root
	ac    automaton // scans for lits
	anyOf bool      // the query is "one of lits": stop at the first found
	count *counter  // nil, or a least count of punctuation bytes
}

// node is a query node over literal indexes and byte classes.
type node struct {
	op     qop
	lits   []int32 // sorted indexes into Filter.lits
	single []uint8 // byte classes of one-byte literals
	sub    []int32 // indexes into Filter.eval
}

// Compile returns the filter of a regular expression in Go's syntax
// parsed with flags (syntax.Perl for regexp.Compile), or nil when no
// useful filter exists: the regular expression may match any input.
func Compile(expr string, flags syntax.Flags) (*Filter, error) {
	re, err := syntax.Parse(expr, flags)
	if err != nil {
		return nil, fmt.Errorf("compile filter: %w", err)
	}
	return newFilter(re.Simplify(), false), nil
}

// newFilter builds the filter of re (simplified); bytes says it matches
// bytes, not UTF-8. It returns nil when no useful filter exists.
func newFilter(re *syntax.Regexp, bytes bool) *Filter {
	q := analyze(re).cond()
	count := newCounter(re, bytes)
	if q.op == qAll && count == nil {
		return nil
	}
	f := &Filter{q: q, count: count}
	f.anyOf = q.op == qOr && len(q.sub) == 0
	index := map[string]int32{}
	var single []byte
	var collect func(q *query)
	collect = func(q *query) {
		for _, l := range q.lits {
			if len(l) == 1 && !f.anyOf {
				single = append(single, l[0])
				continue
			}
			if _, ok := index[l]; !ok {
				index[l] = int32(len(f.lits))
				f.lits = append(f.lits, l)
			}
		}
		for _, s := range q.sub {
			collect(s)
		}
	}
	collect(q)
	f.ac = newAutomaton(f.lits, single)
	f.eval = append(f.eval, node{})
	f.eval[0] = f.build(q, index)
	return f
}

func (f *Filter) build(q *query, index map[string]int32) node {
	n := node{op: q.op}
	for _, l := range q.lits {
		if i, ok := index[l]; ok {
			n.lits = append(n.lits, i)
		} else {
			n.single = append(n.single, f.ac.class[l[0]])
		}
	}
	slices.Sort(n.lits)
	for _, s := range q.sub {
		c := f.build(s, index)
		f.eval = append(f.eval, c)
		n.sub = append(n.sub, int32(len(f.eval)-1))
	}
	return n
}

// String is the condition, for tests and debugging: literals in quotes,
// a space for "and", | for "or", "-" for "matches nothing", "+" for no
// literal condition, then the least count of punctuation bytes if any.
func (f *Filter) String() string {
	if f.count == nil {
		return f.q.String()
	}
	var set []byte
	for b, in := range f.count.set {
		if in {
			set = append(set, byte(b))
		}
	}
	return fmt.Sprintf("%s; %d of %s", f.q.String(), f.count.min, quoteLit(string(set)))
}

// MayMatch reports whether the regular expression may match s: false
// means it cannot.
func (f *Filter) MayMatch(s string) bool {
	if f.count != nil && !f.count.enough(s) {
		return false
	}
	switch f.q.op {
	case qNone:
		return false
	case qAll:
		return true
	}
	if f.anyOf {
		return f.ac.any(s)
	}
	var found [maxFound]int32
	var seen present
	n, ok := f.ac.collect(s, &found, &seen)
	if !ok {
		return true // too many literals to track: may match
	}
	return f.holds(0, found[:n], &seen)
}

func (f *Filter) holds(i int32, found []int32, seen *present) bool {
	n := &f.eval[i]
	switch n.op {
	case qAll:
		return true
	case qNone:
		return false
	case qAnd:
		for _, k := range n.single {
			if !seen.has(k) {
				return false
			}
		}
		for _, l := range n.lits {
			if !slices.Contains(found, l) {
				return false
			}
		}
		for _, s := range n.sub {
			if !f.holds(s, found, seen) {
				return false
			}
		}
		return true
	}
	for _, k := range n.single {
		if seen.has(k) {
			return true
		}
	}
	// An or node may list hundreds of literals, and few are found: look
	// each found one up in the node's sorted list.
	for _, l := range found {
		if _, ok := slices.BinarySearch(n.lits, l); ok {
			return true
		}
	}
	for _, s := range n.sub {
		if f.holds(s, found, seen) {
			return true
		}
	}
	return false
}
