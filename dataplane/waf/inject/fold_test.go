package inject

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/corazawaf/libinjection-go"
)

// TestFoldReplay checks the fold replay (fold.go) against libinjection on
// generated sentences made only of the tokens it models, one per word:
// words of every modelled type, IN, LIKE, NOT, USER, IF..., numbers, operators (unary or not), "&&",
// "||", commas, dots, colons, semicolons, '?' and parentheses. The
// fingerprint it folds must be libinjection's: a blacklisted one of four
// or five symbols is flagged by libinjection, one that is not blacklisted
// is not (shorter blacklisted ones may be cleared by libinjection's
// whitelist, which the replay leaves to it; so are the sentences where
// two words of a phrase meet, "not in"). And the pre-filter must never
// clear what libinjection flags.
func TestFoldReplay(t *testing.T) {
	type piece struct {
		s string
		t foldTok
	}
	var pieces []piece
	for w, e := range words {
		if t, ok := foldTokenOf([]byte(w), typeSymbols[e.typ]|e.extra, e); ok && singleWord([]byte(w)) &&
			len(w) < tokenSize {
			pieces = append(pieces, piece{strings.ToLower(w), t})
		}
	}
	sort.Slice(pieces, func(i, j int) bool { return pieces[i].s < pieces[j].s })
	var core []piece
	for _, w := range []string{"x", "door", "and", "or", "in", "like", "not", "user", "database", "if", "char", "before",
		"sleep", "version", "ifnull", "xor", "div", "true",
		// Words of phrases, which the fold may merge.
		"is", "at", "time", "similar", "to", "sounds", "with", "rollup", "natural", "join", "left", "outer"} {
		e := words[strings.ToUpper(w)]
		if e == nil {
			e = &noWord
		}
		if ft, ok := foldTokenOf([]byte(w), typeSymbols[e.typ]|e.extra, e); ok {
			core = append(core, piece{w, ft})
		}
	}
	for _, p := range []struct {
		s   string
		sym uint16
	}{
		{"1", sym1}, {"42", sym1}, {"1.5", sym1}, {"0x1f", sym1}, {".5", sym1}, {"1e5", sym1},
		{"+", symO}, {"-", symO}, {"!", symO}, {"~", symO}, {"!!", symO}, {"=", symO}, {"<", symO}, {">", symO},
		{"<=", symO}, {"/", symO}, {"*", symO}, {"%", symO}, {"|", symO}, {"&", symO}, {"^", symO}, {"&&", symAnd},
		{"||", symAnd}, {",", symComma}, {".", symDot}, {":", symColon}, {";", symSemi}, {"?", symQuestion},
		{"(", symLParen}, {")", symRParen}, {"(", symLParen}, {")", symRParen},
	} {
		ft, _ := foldTokenOf([]byte(p.s), p.sym, nil)
		core = append(core, piece{p.s, ft})
	}
	// Half the sentences spell a blacklisted fingerprint, token for
	// token, which the fold may or may not keep.
	bySymbol := map[byte][]piece{}
	for _, p := range append(core, pieces...) {
		c := fingerprintSymbol[p.t.typ]
		bySymbol[c] = append(bySymbol[c], p)
	}
	var spellable []string
	for _, p := range sqliPatterns {
		ok := true
		for i := 0; i < len(p); i++ {
			ok = ok && len(bySymbol[p[i]]) > 0
		}
		if ok {
			spellable = append(spellable, p)
		}
	}
	n := 200000
	if testing.Short() {
		n = 20000
	}
	rng := rand.New(rand.NewPCG(17, 7))
	var b strings.Builder
	var toks []foldTok
	flagged, whitelisted, cleared, merged := 0, 0, 0, 0
	for range n {
		b.Reset()
		toks = toks[:0]
		var spell string
		if rng.IntN(2) == 0 {
			spell = spellable[rng.IntN(len(spellable))]
		}
		for i := range max(1, len(spell)+rng.IntN(6)) {
			if i > 0 {
				b.WriteByte(' ')
			}
			p := core[rng.IntN(len(core))]
			switch {
			case i < len(spell):
				ps := bySymbol[spell[i]]
				p = ps[rng.IntN(len(ps))]
			case rng.IntN(4) == 0:
				p = pieces[rng.IntN(len(pieces))]
			}
			b.WriteString(p.s)
			toks = append(toks, p.t)
		}
		if last := &toks[len(toks)-1]; last.typ == ':' {
			last.typ = 'o' // libinjection reads a ':' that ends the input as an operator
		}
		s := b.String()
		is, fp := libinjection.IsSQLi(s)
		var vec [maxTokens + 3]foldTok
		var buf [maxTokens]byte
		k := foldTokens(toks, &vec)
		if k < 0 {
			merged++ // two words of a phrase meet: left to libinjection
			if is && !sqliMaybe([]byte(s)) {
				t.Fatalf("the pre-filter clears %q; libinjection flags it (fingerprint %q)", s, fp)
			}
			continue
		}
		for i := range k {
			buf[i] = fingerprintSymbol[vec[i].typ]
		}
		_, black := sqliPatternSet[string(buf[:k])]
		switch {
		case is && (!sqliMaybe([]byte(s)) || !sqliMaybeMask([]byte(s), classMask([]byte(s)))):
			t.Fatalf("the pre-filter clears %q; libinjection flags it (fingerprint %q)", s, fp)
		case is && !black:
			t.Fatalf("%q: the replay folds %q, not blacklisted; libinjection flags it as %q", s, buf[:k], fp)
		case !is && black && k >= 4:
			t.Fatalf("%q: the replay folds %q, blacklisted; libinjection clears it", s, buf[:k])
		case is:
			flagged++
		case black:
			whitelisted++
		default:
			cleared++
		}
	}
	t.Logf("%d sentences: %d flagged, %d whitelisted by libinjection, %d cleared, %d with a phrase merged", n, flagged,
		whitelisted, cleared, merged)
	if flagged < n/10 {
		t.Errorf("only %d flagged: the sentences should reach the blacklist often", flagged)
	}
}

// TestQuoteReplay checks quoteMaybe against libinjection: on names and
// prose with an apostrophe, which it must clear, on classic payloads
// with one quote, which it must not, and on generated sentences with one
// quote between or inside their tokens, where it must never clear what
// libinjection flags.
func TestQuoteReplay(t *testing.T) {
	for _, s := range []string{"O'Neil", "Lars O'Neil", "D'Angelo", "don't leave it at the door", "it's fine", "'quoted",
		"rock 'n roll", "l'été", "O'Neil-Smith, Jr.", "Baker's Street 221B", "5 o'clock"} {
		if is, fp := libinjection.IsSQLi(s); is {
			t.Fatalf("%q: libinjection flags it (%q); pick another example", s, fp)
		}
		if quoteMaybe([]byte(s), classMask([]byte(s))) {
			t.Errorf("quoteMaybe(%q) = true; want false", s)
		}
	}
	for _, s := range []string{"1' or 1=1", "x' or 'a", "admin' --", "1' union select 1", "' or 1=1#", "1' and sleep(5)",
		"x' and 1=1", "1' or true", "a'='a"} {
		if !quoteMaybe([]byte(s), classMask([]byte(s))) {
			t.Errorf("quoteMaybe(%q) = false; want true", s)
		}
	}
	core := []string{"1", "42", "x", "door", "neil", "o", "and", "or", "in", "like", "not", "user", "if", "char", "before",
		"sleep", "select", "union", "is", "+", "-", "=", "<", "!", "(", ")", ",", ".", ";", ":", "?", "||", "&&", "1.5",
		"0x1f", "[x]"}
	n := 200000
	if testing.Short() {
		n = 20000
	}
	rng := rand.New(rand.NewPCG(17, 8))
	var b strings.Builder
	flagged, cleared := 0, 0
	for range n {
		b.Reset()
		k := 1 + rng.IntN(7)
		quote := rng.IntN(2*k + 1)
		for i := range k {
			if quote == 2*i {
				b.WriteByte('\'')
			}
			if i > 0 && rng.IntN(3) != 0 {
				b.WriteByte(' ')
			}
			if quote == 2*i+1 {
				b.WriteByte('\'')
			}
			b.WriteString(core[rng.IntN(len(core))])
		}
		if quote == 2*k {
			b.WriteByte('\'')
		}
		s := b.String()
		is, fp := libinjection.IsSQLi(s)
		maybe := quoteMaybe([]byte(s), classMask([]byte(s)))
		switch {
		case is && (!maybe || !sqliMaybe([]byte(s)) || !sqliMaybeMask([]byte(s), classMask([]byte(s)))):
			t.Fatalf("the pre-filter clears %q; libinjection flags it (fingerprint %q)", s, fp)
		case is:
			flagged++
		case !maybe:
			cleared++
		}
	}
	t.Logf("%d sentences with a quote: %d flagged by libinjection, %d cleared by the replay, %d left to libinjection",
		n, flagged, cleared, n-flagged-cleared)
	if flagged < n/100 || cleared < n/4 {
		t.Errorf("the sentences should reach both sides of the blacklist")
	}
}
