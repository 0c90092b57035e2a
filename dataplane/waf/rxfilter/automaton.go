package rxfilter

// automaton is an Aho-Corasick automaton over literals, compiled into a
// DFA on byte classes (bytes that appear in no literal share class 0).
// It reads its input lower-cased, and reads U+212A (KELVIN SIGN) as k and
// U+017F (LONG S) as s, the two non-ASCII runes Go's case folding equates
// with ASCII letters.
//
// States are numbered so that those where a literal ends come last
// (from firstOut on), and delta holds each target premultiplied by n, so
// the scan loop is one load and one compare per byte.
type automaton struct {
	class    [256]uint8
	n        int32   // byte classes
	delta    []int32 // state*n + class -> next state*n
	firstOut int32   // first state (times n) where a literal ends
	outIdx   []int32 // literals ending at state firstOut+i: outs[outIdx[i]:outIdx[i+1]]
	outs     []int32
}

// newAutomaton builds the automaton of lits; extra are bytes that get a
// class of their own (for collect's presence bits) without being literals.
func newAutomaton(lits []string, extra []byte) automaton {
	var a automaton
	n := 1
	for _, c := range extra {
		if a.class[c] == 0 {
			a.class[c] = uint8(n)
			n++
		}
	}
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			if c := l[i]; a.class[c] == 0 {
				a.class[c] = uint8(n)
				n++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		a.class[c] = a.class[c+'a'-'A']
	}
	a.n = int32(n)

	// The trie, with -1 for a missing edge.
	delta := make([]int32, n)
	for i := range delta {
		delta[i] = -1
	}
	out := [][]int32{nil}
	for li, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			k := int(s)*n + int(a.class[l[i]])
			if delta[k] < 0 {
				delta[k] = int32(len(out))
				out = append(out, nil)
				for range n {
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
	for c := 0; c < n; c++ {
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
		for c := 0; c < n; c++ {
			k := int(s)*n + c
			if t := delta[k]; t < 0 {
				delta[k] = delta[int(fail[s])*n+c]
			} else {
				fail[t] = delta[int(fail[s])*n+c]
				queue = append(queue, t)
			}
		}
	}

	// Renumber: states without output first (the root has none: no
	// literal is empty), then those with.
	renum := make([]int32, len(out))
	next := int32(0)
	for s := range out {
		if len(out[s]) == 0 {
			renum[s] = next
			next++
		}
	}
	firstOut := next
	a.outIdx = []int32{0}
	for s := range out {
		if len(out[s]) > 0 {
			renum[s] = next
			next++
			a.outs = append(a.outs, out[s]...)
			a.outIdx = append(a.outIdx, int32(len(a.outs)))
		}
	}
	a.delta = make([]int32, len(delta))
	for s := range out {
		for c := 0; c < n; c++ {
			a.delta[int(renum[s])*n+c] = renum[delta[s*n+c]] * int32(n)
		}
	}
	a.firstOut = firstOut * int32(n)
	return a
}

// fold reads the non-ASCII byte s[i]: the class of k or s for the two
// runes that fold to them, else class 0, and the index after it.
func (a *automaton) fold(s string, i int) (int32, int) {
	switch {
	case s[i] == 0xe2 && i+2 < len(s) && s[i+1] == 0x84 && s[i+2] == 0xaa:
		return int32(a.class['k']), i + 3
	case s[i] == 0xc5 && i+1 < len(s) && s[i+1] == 0xbf:
		return int32(a.class['s']), i + 2
	}
	return 0, i + 1
}

// any reports whether s contains one of the literals.
func (a *automaton) any(s string) bool {
	delta, class, firstOut := a.delta, &a.class, a.firstOut
	st := int32(0)
	for i := 0; i < len(s); {
		c := s[i]
		var k int32
		if c < 0x80 {
			k = int32(class[c])
			i++
		} else {
			k, i = a.fold(s, i)
		}
		st = delta[st+k]
		if st >= firstOut {
			return true
		}
	}
	return false
}

// maxFound is how many distinct literals collect records before it gives
// up (and the filter says "may match").
const maxFound = 32

// present is a set of byte classes.
type present [3]uint64 // up to 129 classes

func (p *present) has(k uint8) bool { return p[k>>6]&(1<<(k&63)) != 0 }

// collect records in found the distinct literals s contains and returns
// how many, and in seen the classes of its bytes; ok is false when there
// were more than maxFound literals.
func (a *automaton) collect(s string, found *[maxFound]int32, seen *present) (n int, ok bool) {
	delta, class, firstOut := a.delta, &a.class, a.firstOut
	st := int32(0)
	for i := 0; i < len(s); {
		c := s[i]
		var k int32
		if c < 0x80 {
			k = int32(class[c])
			i++
		} else {
			k, i = a.fold(s, i)
		}
		seen[k>>6] |= 1 << (k & 63)
		st = delta[st+k]
		if st < firstOut {
			continue
		}
		o := (st - firstOut) / a.n
	next:
		for _, l := range a.outs[a.outIdx[o]:a.outIdx[o+1]] {
			for _, f := range found[:n] {
				if f == l {
					continue next
				}
			}
			if n == maxFound {
				return n, false
			}
			found[n] = l
			n++
		}
	}
	return n, true
}
