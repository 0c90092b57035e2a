package inject

import (
	"math/bits"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/corazawaf/libinjection-go"
)

// TestPrefixRule checks the six-token rule of sqliScan (prefix) against
// libinjection on random token sequences. On sentences of inert tokens
// alone (words, numbers, keywords of type k and f, AND, IN, fold
// functions), the rule decides, and agrees with libinjection both ways
// ("1 and 1 before x" is "1&1KN") unless two '&' are one token apart. With the tokens that break the
// rule mixed in (operators, parentheses, commas, dots, NOT, LIKE, IF,
// phrases...), in every position around the sixth, the pre-filter must
// still never clear what libinjection flags.
func TestPrefixRule(t *testing.T) {
	keys := make([]string, 0, len(words))
	for w := range words {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	var inert []string
	for _, w := range keys {
		e := words[w]
		if s, _ := inertWord(e, typeSymbols[e.typ]|e.extra); inertDigit(s) >= 0 && e.first == [2]uint64{} && e.second == [2]uint64{} &&
			singleWord([]byte(w)) {
			inert = append(inert, w)
		}
	}
	inert = append(inert, "1", "42", "0x1f", "0b1", "and", "AND", "x", "door", "Café", "in", "user", "database", "before")
	// Most blacklisted fingerprints of inert symbols mix numbers, '&' and
	// keywords: most tokens come from a few of those.
	core := []string{"1", "42", "x", "and", "AND", "before", "char"}
	plain := []string{"please", "deliver", "to", "the", "back", "door", "ring", "twice", "x", "id", "Café"}
	other := []string{"1", "42", "1e", "0x", "0x1f", "1.5", ".", ",", "(", ")", "()", "+", "-", "!", "~", "=", "||",
		"&&", "::", ";", "?", "[x]", "not", "in", "like", "if", "user", "and", "or", "xor", "select", "union"}
	n := 100000
	if testing.Short() {
		n = 10000
	}
	rng := rand.New(rand.NewPCG(17, 6))
	var b strings.Builder
	sentence := func(pick func() string) string {
		b.Reset()
		for i := range 6 + rng.IntN(3) {
			if i > 0 {
				b.WriteByte(' ')
			}
			w := pick()
			if rng.IntN(2) == 0 {
				w = strings.ToLower(w)
			}
			b.WriteString(w)
		}
		return b.String()
	}
	// Half the sentences start with a blacklisted fingerprint spelt with
	// inert tokens (but for "& x &", which the rule leaves to the
	// automaton).
	bySymbol := map[byte][]string{}
	for _, w := range inert {
		e := words[strings.ToUpper(w)]
		if e == nil {
			e = &noWord
		}
		s, _ := inertWord(e, typeSymbols[e.typ]|e.extra)
		if isDigit(w[0]) {
			s = sym1
		}
		c := sigma[bits.TrailingZeros16(s)]
		bySymbol[c] = append(bySymbol[c], w)
	}
	var blacklisted []string
	for _, p := range sqliPatterns {
		if len(p) == 5 && strings.Trim(p, "N1KF&") == "" && !andTwoApart(p) {
			blacklisted = append(blacklisted, p)
		}
	}
	flagged, spared := 0, 0
	for i := range n {
		var fp5 string
		if i%2 == 0 {
			fp5 = blacklisted[rng.IntN(len(blacklisted))]
		}
		k := 0
		s := sentence(func() string {
			k++
			if k <= len(fp5) {
				ws := bySymbol[fp5[k-1]]
				return ws[rng.IntN(len(ws))]
			}
			if rng.IntN(4) != 0 {
				return core[rng.IntN(len(core))]
			}
			return inert[rng.IntN(len(inert))]
		})
		is, fp := libinjection.IsSQLi(s)
		if is {
			flagged++
		}
		switch maybe := sqliMaybe([]byte(s)); {
		case is && !maybe:
			t.Fatalf("sqliMaybe(%q) = false; libinjection flags it (fingerprint %q)", s, fp)
		case maybe && !is:
			spared++ // "& x &" within six tokens: left to the automaton
		}
	}
	t.Logf("%d inert sentences: %d flagged by libinjection, %d more left to it", n, flagged, spared)
	if flagged < n/10 || spared > n/10 {
		t.Errorf("the sentences should reach the rule's edge (>= 10%% flagged) and the rule decide most (<= 10%% left)")
	}
	cleared := 0
	for range n {
		s := sentence(func() string {
			switch r := rng.IntN(10); {
			case r < 4:
				return plain[rng.IntN(len(plain))]
			case r < 7:
				return keys[rng.IntN(len(keys))]
			default:
				return other[rng.IntN(len(other))]
			}
		})
		if is, fp := libinjection.IsSQLi(s); is {
			if !sqliMaybe([]byte(s)) || !sqliMaybeMask([]byte(s), classMask([]byte(s))) {
				t.Fatalf("the pre-filter clears %q; libinjection flags it (fingerprint %q)", s, fp)
			}
			continue
		}
		if !sqliMaybe([]byte(s)) {
			cleared++
		}
	}
	t.Logf("%d mixed sentences, %d cleared by the pre-filter", n, cleared)
}

// andTwoApart reports whether fingerprint p has '&' one symbol after
// another '&'.
func andTwoApart(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '&' && p[i+2] == '&' {
			return true
		}
	}
	return false
}
