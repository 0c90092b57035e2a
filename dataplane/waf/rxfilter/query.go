package rxfilter

import (
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits of the analysis. Past them it gives up precision, never soundness.
const (
	maxExact     = 64 // strings in a node's exact set before it becomes a condition
	maxClassSize = 12 // runes in a character class expanded into single characters
)

// qop is the kind of a query node.
type qop uint8

const (
	qAll  qop = iota // every input (no condition)
	qNone            // no input (the regexp cannot match anything)
	qAnd             // every sub-query and every literal
	qOr              // at least one sub-query or literal
)

// query is a necessary condition on an input, over lower-cased ASCII
// literals the input must contain.
type query struct {
	op   qop
	lits []string // qAnd, qOr: literals (lower-case ASCII)
	sub  []*query // qAnd, qOr: sub-queries
}

var (
	allQuery  = &query{op: qAll}
	noneQuery = &query{op: qNone}
)

func (q *query) String() string {
	switch q.op {
	case qAll:
		return "+"
	case qNone:
		return "-"
	}
	sep := " "
	if q.op == qOr {
		sep = "|"
	}
	var parts []string
	for _, l := range q.lits {
		parts = append(parts, quoteLit(l))
	}
	for _, s := range q.sub {
		parts = append(parts, "("+s.String()+")")
	}
	return strings.Join(parts, sep)
}

func quoteLit(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// and returns the conjunction of a and b, simplified.
func and(a, b *query) *query {
	switch {
	case a.op == qNone || b.op == qNone:
		return noneQuery
	case a.op == qAll:
		return b
	case b.op == qAll:
		return a
	}
	q := &query{op: qAnd}
	for _, x := range []*query{a, b} {
		if x.op == qAnd {
			q.lits = append(q.lits, x.lits...)
			q.sub = append(q.sub, x.sub...)
		} else if x.op == qOr && len(x.lits) == 1 && len(x.sub) == 0 {
			q.lits = append(q.lits, x.lits[0])
		} else {
			q.sub = append(q.sub, x)
		}
	}
	return q.simplify()
}

// or returns the disjunction of a and b, simplified.
func or(a, b *query) *query {
	switch {
	case a.op == qAll || b.op == qAll:
		return allQuery
	case a.op == qNone:
		return b
	case b.op == qNone:
		return a
	}
	q := &query{op: qOr}
	for _, x := range []*query{a, b} {
		if x.op == qOr {
			q.lits = append(q.lits, x.lits...)
			q.sub = append(q.sub, x.sub...)
		} else if x.op == qAnd && len(x.lits) == 1 && len(x.sub) == 0 {
			q.lits = append(q.lits, x.lits[0])
		} else {
			q.sub = append(q.sub, x)
		}
	}
	return q.simplify()
}

// orLits is the query "contains one of lits". An empty string among them
// is contained in every input; no literal at all matches nothing.
func orLits(lits []string) *query {
	if len(lits) == 0 {
		return noneQuery
	}
	for _, l := range lits {
		if l == "" {
			return allQuery
		}
	}
	return (&query{op: qOr, lits: slices.Clone(lits)}).simplify()
}

// simplify removes duplicate and redundant literals of an and/or node:
// in an and, a literal contained in another literal of the node is implied
// by it; in an or, a literal that contains another is implied by it.
func (q *query) simplify() *query {
	if q.op != qAnd && q.op != qOr {
		return q
	}
	for _, l := range q.lits {
		if l == "" {
			if q.op == qOr {
				return allQuery
			}
		}
	}
	lits := slices.DeleteFunc(slices.Clone(q.lits), func(s string) bool { return s == "" })
	sort.Strings(lits)
	lits = slices.Compact(lits)
	keep := lits[:0:0]
	for i, l := range lits {
		redundant := false
		for j, m := range lits {
			if i == j {
				continue
			}
			if q.op == qAnd && len(m) > len(l) && strings.Contains(m, l) {
				redundant = true // m implies l
			}
			if q.op == qOr && len(m) < len(l) && strings.Contains(l, m) {
				redundant = true // l implies m, and m suffices
			}
			if redundant {
				break
			}
		}
		if !redundant {
			keep = append(keep, l)
		}
	}
	q.lits = keep
	if len(q.lits)+len(q.sub) == 0 {
		if q.op == qAnd {
			return allQuery
		}
		return noneQuery
	}
	if len(q.lits) == 0 && len(q.sub) == 1 {
		return q.sub[0]
	}
	return q
}

// info is what the analysis knows of a sub-expression: whether it can
// match the empty string, the set of all strings it can match (exact, nil
// when unknown or too large), and a condition any match satisfies.
//
// Strings are in the filter's alphabet: ASCII, lower-cased. A rune outside
// it (non-ASCII) is treated as an unknown character.
type info struct {
	canEmpty bool
	exact    []string
	match    *query
}

// cond is the whole condition of i: its match query and, when its exact
// set is known, "contains one of them".
func (i info) cond() *query {
	if i.exact == nil {
		return i.match
	}
	return and(i.match, orLits(i.exact))
}

func anyCharInfo() info  { return info{match: allQuery} }
func emptyInfo() info    { return info{canEmpty: true, exact: []string{""}, match: allQuery} }
func anyMatchInfo() info { return info{canEmpty: true, match: allQuery} }
func noMatchInfo() info  { return info{exact: []string{}, match: noneQuery} }

// analyze computes the info of re (after Simplify).
func analyze(re *syntax.Regexp) info {
	switch re.Op {
	case syntax.OpNoMatch:
		return noMatchInfo()
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return emptyInfo()
	case syntax.OpLiteral:
		parts := make([]info, len(re.Rune))
		for k, r := range re.Rune {
			parts[k] = runeInfo(r)
		}
		return concatAll(parts)
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return anyCharInfo()
	case syntax.OpCharClass:
		return classInfo(re.Rune)
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpStar:
		return anyMatchInfo()
	case syntax.OpQuest:
		return alternate(analyze(re.Sub[0]), emptyInfo())
	case syntax.OpPlus:
		// x+ is x x*: any match contains a match of x.
		return concat(analyze(re.Sub[0]), anyMatchInfo())
	case syntax.OpRepeat:
		if re.Min == 0 {
			return anyMatchInfo()
		}
		return concat(analyze(re.Sub[0]), anyMatchInfo())
	case syntax.OpConcat:
		parts := make([]info, 0, len(re.Sub))
		for _, s := range re.Sub {
			if s.Op == syntax.OpPlus {
				// x+ is x x*: x joins the run before it.
				parts = append(parts, analyze(s.Sub[0]), anyMatchInfo())
				continue
			}
			parts = append(parts, analyze(s))
		}
		return concatAll(parts)
	case syntax.OpAlternate:
		i := noMatchInfo()
		for _, s := range re.Sub {
			i = alternate(i, analyze(s))
		}
		return i
	}
	// An operation this analysis does not know: it may match anything.
	return anyMatchInfo()
}

// runeInfo is one rune of a literal. The filter lower-cases ASCII input
// and maps the two non-ASCII runes that fold to ASCII letters (KELVIN SIGN
// to k, LATIN SMALL LETTER LONG S to s), so a case-sensitive or folded
// ASCII rune is its lower-case letter. Any other rune is unknown.
func runeInfo(r rune) info {
	if r >= utf8.RuneSelf {
		return anyCharInfo()
	}
	return info{exact: []string{string(lower(byte(r)))}, match: allQuery}
}

// classInfo is a character class: the set of its runes when small and
// ASCII, else an unknown character.
func classInfo(ranges []rune) info {
	var set []string
	n := 0
	for k := 0; k+1 < len(ranges); k += 2 {
		lo, hi := ranges[k], ranges[k+1]
		if hi >= utf8.RuneSelf {
			return anyCharInfo()
		}
		n += int(hi-lo) + 1
		if n > maxClassSize*2 { // a folded class lists both cases
			return anyCharInfo()
		}
		for r := lo; r <= hi; r++ {
			set = append(set, string(lower(byte(r))))
		}
	}
	sort.Strings(set)
	set = slices.Compact(set)
	if len(set) == 0 {
		return noMatchInfo()
	}
	if len(set) > maxClassSize {
		return anyCharInfo()
	}
	return info{exact: set, match: allQuery}
}

// concatAll is the concatenation of parts. Runs of parts whose exact sets
// are known keep them across a part whose set is not: in a b* c d, any
// match contains a, and contains one of the strings of c d.
func concatAll(parts []info) info {
	acc := emptyInfo() // everything before tail; exact only while nothing broke
	tail := emptyInfo()
	broke := false
	canEmpty := true
	for _, p := range parts {
		canEmpty = canEmpty && p.canEmpty
		if p.exact != nil {
			if t := concat(tail, p); t.exact != nil {
				tail = t
				continue
			}
		}
		// The run ends here: tail becomes a condition.
		broke = true
		acc = info{match: and(acc.cond(), tail.cond())}
		if p.exact != nil {
			tail = p
		} else {
			acc = info{match: and(acc.match, p.cond())}
			tail = emptyInfo()
		}
	}
	if !broke {
		tail.canEmpty = canEmpty
		return tail
	}
	return info{canEmpty: canEmpty, match: and(acc.match, tail.cond())}
}

func concat(x, y info) info {
	xy := info{canEmpty: x.canEmpty && y.canEmpty}
	if x.exact != nil && y.exact != nil && len(x.exact)*len(y.exact) <= maxExact {
		xy.exact = make([]string, 0, len(x.exact)*len(y.exact))
		for _, a := range x.exact {
			for _, b := range y.exact {
				xy.exact = append(xy.exact, a+b)
			}
		}
		sort.Strings(xy.exact)
		xy.exact = slices.Compact(xy.exact)
		xy.match = and(x.match, y.match)
		return xy
	}
	xy.match = and(x.cond(), y.cond())
	return xy
}

func alternate(x, y info) info {
	xy := info{canEmpty: x.canEmpty || y.canEmpty}
	if x.exact != nil && y.exact != nil && len(x.exact)+len(y.exact) <= maxExact {
		// Both conditions widen to the union: (mx and ex) or (my and ey)
		// implies (mx or my) and (ex or ey).
		xy.exact = append(slices.Clone(x.exact), y.exact...)
		sort.Strings(xy.exact)
		xy.exact = slices.Compact(xy.exact)
		xy.match = or(x.match, y.match)
		return xy
	}
	xy.match = or(x.cond(), y.cond())
	return xy
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
