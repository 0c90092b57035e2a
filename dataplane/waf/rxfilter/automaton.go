package rxfilter

// automaton is an Aho-Corasick automaton over literals, compiled into a
// DFA on byte classes (bytes that appear in no literal share class 0).
// It reads its input lower-cased, and reads U+212A (KELVIN SIGN) as k and
// U+017F (LONG S) as s, the two non-ASCII runes Go's case folding equates
// with ASCII letters.
type automaton struct {
	class  [256]uint8
	n      int     // byte classes
	delta  []int32 // state*n + class -> state
	outIdx []int32 // literals ending at state i: outs[outIdx[i]:outIdx[i+1]]
	outs   []int32
}

func newAutomaton(lits []string) automaton {
	var a automaton
	a.n = 1
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			if c := l[i]; a.class[c] == 0 {
				a.class[c] = uint8(a.n)
				a.n++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		a.class[c] = a.class[c+'a'-'A']
	}

	// The trie, with -1 for a missing edge.
	delta := make([]int32, a.n)
	for i := range delta {
		delta[i] = -1
	}
	out := [][]int32{nil}
	for li, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			k := int(s)*a.n + int(a.class[l[i]])
			if delta[k] < 0 {
				delta[k] = int32(len(out))
				out = append(out, nil)
				for range a.n {
					delta = append(delta, -1)
				}
			}
			s = delta[k]
		}
		out[s] = append(out[s], int32(li))
	}

	// Breadth first: fail links, outputs merged along them, missing edges
	// filled from the fail state's.
	fail := make([]int32, len(out))
	queue := []int32{}
	for c := 0; c < a.n; c++ {
		if t := delta[c]; t < 0 {
			delta[c] = 0
		} else {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		out[s] = append(out[s], out[fail[s]]...)
		for c := 0; c < a.n; c++ {
			k := int(s)*a.n + c
			if t := delta[k]; t < 0 {
				delta[k] = delta[int(fail[s])*a.n+c]
			} else {
				fail[t] = delta[int(fail[s])*a.n+c]
				queue = append(queue, t)
			}
		}
	}
	a.delta = delta
	a.outIdx = make([]int32, len(out)+1)
	for s, o := range out {
		a.outs = append(a.outs, o...)
		a.outIdx[s+1] = int32(len(a.outs))
	}
	return a
}

// next reads the byte (or the folded rune) at s[i] and returns its class
// and the index of the next one.
func (a *automaton) next(s string, i int) (uint8, int) {
	c := s[i]
	if c < 0x80 {
		return a.class[c], i + 1
	}
	switch {
	case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x84 && s[i+2] == 0xaa:
		return a.class['k'], i + 3
	case c == 0xc5 && i+1 < len(s) && s[i+1] == 0xbf:
		return a.class['s'], i + 2
	}
	return 0, i + 1
}

// any reports whether s contains one of the literals.
func (a *automaton) any(s string) bool {
	st := int32(0)
	for i := 0; i < len(s); {
		var c uint8
		c, i = a.next(s, i)
		st = a.delta[int(st)*a.n+int(c)]
		if a.outIdx[st] != a.outIdx[st+1] {
			return true
		}
	}
	return false
}

// scan sets found's bit of every literal s contains and reports whether
// it found any.
func (a *automaton) scan(s string, found []uint64) bool {
	st := int32(0)
	hit := false
	for i := 0; i < len(s); {
		var c uint8
		c, i = a.next(s, i)
		st = a.delta[int(st)*a.n+int(c)]
		if o, e := a.outIdx[st], a.outIdx[st+1]; o != e {
			hit = true
			for _, l := range a.outs[o:e] {
				found[l>>6] |= 1 << (l & 63)
			}
		}
	}
	return hit
}
