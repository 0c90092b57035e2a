package rxfilter

import "regexp/syntax"

// minUsefulCount is the least count worth a counter.
const minUsefulCount = 3

// counter is a second necessary condition, for regular expressions that
// count punctuation rather than spell words (CRS's "N special characters"
// rules): any match contains at least min bytes of set. The set holds only
// bytes that are neither letters nor digits, which no case folding
// reaches, and in a UTF-8 expression only ASCII bytes, each of which is a
// whole rune of the input.
type counter struct {
	set [256]bool
	min int
}

// newCounter returns the counter of re (simplified), or nil when no useful
// one exists. bytes says re matches bytes (rsc.io/binaryregexp) rather than
// UTF-8.
func newCounter(re *syntax.Regexp, bytes bool) *counter {
	limit := rune(0x80)
	if bytes {
		limit = 0x100
	}
	c := &counter{}
	c.collect(re, limit)
	c.min = c.minCount(re, limit)
	if c.min < minUsefulCount {
		return nil
	}
	return c
}

func alnum(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
}

// countable reports whether a literal rune of re is one byte of the set's
// kind: below limit, not a letter or digit, and not subject to case
// folding (a folded rune from 0x80 up may match other bytes).
func countable(r rune, fold bool, limit rune) bool {
	if r >= limit || alnum(r) {
		return false
	}
	return !fold || r < 0x80
}

// collect puts in the set the countable runes of re's literals and the
// runes of its small classes made of countable runes only.
func (c *counter) collect(re *syntax.Regexp, limit rune) {
	switch re.Op {
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		for _, r := range re.Rune {
			if countable(r, fold, limit) {
				c.set[r] = true
			}
		}
	case syntax.OpCharClass:
		if classCountable(re.Rune, limit) {
			for k := 0; k+1 < len(re.Rune); k += 2 {
				for r := re.Rune[k]; r <= re.Rune[k+1]; r++ {
					c.set[r] = true
				}
			}
		}
	}
	for _, s := range re.Sub {
		c.collect(s, limit)
	}
}

// classCountable: a class of at most 64 runes, none a letter or digit,
// all below limit.
func classCountable(ranges []rune, limit rune) bool {
	n := 0
	for k := 0; k+1 < len(ranges); k += 2 {
		lo, hi := ranges[k], ranges[k+1]
		if hi >= limit {
			return false
		}
		n += int(hi-lo) + 1
		if n > 64 {
			return false
		}
		for r := lo; r <= hi; r++ {
			if alnum(r) {
				return false
			}
		}
	}
	return n > 0
}

// minCount is the least number of set bytes any match of re contains.
func (c *counter) minCount(re *syntax.Regexp, limit rune) int {
	switch re.Op {
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		n := 0
		for _, r := range re.Rune {
			if countable(r, fold, limit) && c.set[r] {
				n++
			}
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		for k := 0; k+1 < len(re.Rune); k += 2 {
			lo, hi := re.Rune[k], re.Rune[k+1]
			if hi >= limit {
				return 0
			}
			for r := lo; r <= hi; r++ {
				if !c.set[r] {
					return 0
				}
			}
		}
		return 1
	case syntax.OpCapture:
		return c.minCount(re.Sub[0], limit)
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += c.minCount(s, limit)
		}
		return n
	case syntax.OpAlternate:
		m := -1
		for _, s := range re.Sub {
			if v := c.minCount(s, limit); m < 0 || v < m {
				m = v
			}
		}
		return max(m, 0)
	case syntax.OpPlus:
		return c.minCount(re.Sub[0], limit)
	case syntax.OpRepeat:
		return min(re.Min, 1000) * c.minCount(re.Sub[0], limit)
	}
	return 0 // empty-width, any character, star, quest, unknown
}

// enough reports whether s holds at least min bytes of the set.
func (c *counter) enough(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if c.set[s[i]] {
			if n++; n >= c.min {
				return true
			}
		}
	}
	return false
}
