package inject

import "bytes"

// This file replays libinjection's fold on the tokens of sqliScan, for the
// values its automaton cannot clear: the automaton only knows that the
// fingerprint is a subsequence of the tokens, and a URL or a sentence
// with a keyword somewhere ("campaigns/leave-small?id=1", "in and not")
// has many blacklisted subsequences that its fold never produces. The
// replay is exact for the tokens it models (foldTok), a port of
// libinjection-go's sqliState.fold (v0.3.6) rule for rule; a value with any
// other token (a string, a variable, money, a SQL type) is left to the
// automaton. TestFoldReplay checks it against libinjection on generated
// sentences, FuzzPrefilter on everything.

// foldTok is a token as libinjection's fold sees it: its type and the
// facts of its value that the fold's rules read.
type foldTok struct {
	typ   byte // libinjection's type: n 1 . , o : ; ? f k & ( ) T s
	flags uint8
	word  *wordInfo // a word's entry: its phrases
}

const (
	ftUnary  uint8 = 1 << iota // + - ! ~ !! NOT
	ftIn                       // the keyword IN
	ftLike                     // the operator LIKE
	ftFoldFn                   // USER_ID, DATABASE, USER...: a function before '('
	ftUser                     // USER
	ftIf                       // a function whose name starts with IF
)

// maxFoldTokens bounds the tokens kept for the replay; a value with more
// is left to the automaton.
const maxFoldTokens = 32

// foldMaybe reports whether the fingerprint libinjection folds toks into
// is blacklisted (in sqliPatterns), or may be: when two words of a phrase
// meet where libinjection would merge them.
func foldMaybe(toks []foldTok) bool {
	var vec [maxTokens + 3]foldTok
	var buf [maxTokens]byte
	n := foldTokens(toks, &vec)
	if n < 0 {
		return true
	}
	for i := 0; i < n; i++ {
		buf[i] = fingerprintSymbol[vec[i].typ]
	}
	_, ok := sqliPatternSet[string(buf[:n])]
	return ok
}

// maxTokens is libinjection's LIBINJECTION_SQLI_MAX_TOKENS.
const maxTokens = 5

var fingerprintSymbol = func() (t [256]byte) {
	for _, c := range []byte("1.,:;?&()T") {
		t[c] = c
	}
	t['n'], t['o'], t['f'], t['k'], t['s'] = 'N', 'O', 'F', 'K', 'S'
	return t
}()

// sqliPatternSet holds the blacklisted fingerprints the replay can fold
// into, strings included.
var sqliPatternSet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(sqliPatterns)+len(sqliStringPatterns))
	for _, p := range sqliPatterns {
		m[p] = struct{}{}
	}
	for _, p := range sqliStringPatterns {
		m[p] = struct{}{}
	}
	return m
}()

func (t *foldTok) unary() bool { return t.typ == 'o' && t.flags&ftUnary != 0 }

// foldTokens is sqliState.fold on toks: it leaves the folded tokens in
// vec and returns their number (at most maxTokens), or -1 where two words
// of a phrase meet (merge), which it does not replay.
func foldTokens(toks []foldTok, vec *[maxTokens + 3]foldTok) int {
	next := 0
	tokenize := func(dst *foldTok) bool {
		if next == len(toks) {
			*dst = foldTok{}
			return false
		}
		*dst = toks[next]
		next++
		return true
	}
	pos, left, more := 0, 0, true
	for more {
		more = tokenize(&vec[0])
		if !(vec[0].typ == '(' || vec[0].unary()) {
			break
		}
	}
	if !more {
		return 0
	}
	pos++
	for {
		if pos >= maxTokens {
			if (vec[0].typ == '1' && (vec[1].typ == 'o' || vec[1].typ == ',') && vec[2].typ == '(' &&
				vec[3].typ == '1' && vec[4].typ == ')') ||
				(vec[0].typ == 'n' && vec[1].typ == 'o' && vec[2].typ == '(' &&
					(vec[3].typ == 'n' || vec[3].typ == '1') && vec[4].typ == ')') ||
				(vec[0].typ == '1' && vec[1].typ == ')' && vec[2].typ == ',' && vec[3].typ == '(' && vec[4].typ == '1') ||
				(vec[0].typ == 'n' && vec[1].typ == ')' && vec[2].typ == 'o' && vec[3].typ == '(' && vec[4].typ == 'n') {
				if pos > maxTokens {
					vec[1] = vec[maxTokens]
					left, pos = 1, 2
				} else {
					pos, left = 1, 0
				}
			}
		}
		if !more || left >= maxTokens {
			left = pos
			break
		}
		for more && pos <= maxTokens && pos-left < 2 {
			if more = tokenize(&vec[pos]); more {
				pos++
			}
		}
		if pos-left < 2 {
			left = pos
			continue
		}
		a, b := &vec[left], &vec[left+1]
		switch {
		case a.typ == 's' && b.typ == 's':
			pos--
			continue
		case a.typ == ';' && b.typ == ';':
			pos--
			continue
		case (a.typ == 'o' || a.typ == '&') && b.unary():
			pos--
			left = 0
			continue
		case a.typ == '(' && b.unary():
			pos--
			if left > 0 {
				left--
			}
			continue
		case a.word != nil && b.word != nil && (a.word.first[0]&b.word.second[0] != 0 || a.word.first[1]&b.word.second[1] != 0):
			return -1 // merge
		case a.typ == ';' && b.typ == 'f' && b.flags&ftIf != 0:
			b.typ = 'T'
			continue
		case a.typ == 'n' && b.typ == '(' && a.flags&ftFoldFn != 0:
			a.typ = 'f'
			continue
		case a.typ == 'k' && a.flags&ftIn != 0:
			if b.typ == '(' {
				a.typ = 'o'
			} else {
				a.typ = 'n'
			}
			continue
		case a.typ == 'o' && a.flags&ftLike != 0:
			if b.typ == '(' && !(left > 0 && operand(vec[left-1].typ)) {
				a.typ = 'f'
			}
		case a.typ == '(' && b.typ == '(':
			pos--
			left = 0
			continue
		case a.typ == ')' && b.typ == ')':
			pos--
			left = 0
			continue
		}
		for more && pos <= maxTokens && pos-left < 3 {
			if more = tokenize(&vec[pos]); more {
				pos++
			}
		}
		if pos-left < 3 {
			left = pos
			continue
		}
		a, b, c := &vec[left], &vec[left+1], &vec[left+2]
		switch {
		case a.typ == '1' && b.typ == 'o' && c.typ == '1':
			pos -= 2
			left = 0
			continue
		case a.typ == 'o' && b.typ != '(' && c.typ == 'o':
			pos -= 2
			left = 0
			continue
		case a.typ == '&' && c.typ == '&':
			pos -= 2
			left = 0
			continue
		case (a.typ == 'n' || a.typ == '1') && b.typ == 'o' && (c.typ == '1' || c.typ == 'n'):
			pos -= 2
			left = 0
			continue
		case (a.typ == 'n' || a.typ == '1' || a.typ == 's') && b.typ == ',' && (c.typ == '1' || c.typ == 'n' || c.typ == 's'):
			pos -= 2
			left = 0
			continue
		case a.typ == ',' && b.unary() && c.typ == '(':
			*b = *c
			pos--
			left = 0
			continue
		case a.typ == 'k' && b.unary() && (c.typ == '1' || c.typ == 'n' || c.typ == 'f' || c.typ == 's'):
			*b = *c
			pos--
			left = 0
			continue
		case a.typ == ',' && b.unary() && (c.typ == '1' || c.typ == 'n' || c.typ == 's'):
			*b = *c
			left = 0
			pos -= 3
			continue
		case a.typ == ',' && b.unary() && c.typ == 'f':
			*b = *c
			pos--
			left = 0
			continue
		case a.typ == 'n' && b.typ == '.' && c.typ == 'n':
			pos -= 2
			left = 0
			continue
		case a.typ == 'f' && b.typ == '(' && c.typ != ')':
			if a.flags&ftUser != 0 {
				a.typ = 'n'
			}
		}
		left++
	}
	return min(left, maxTokens)
}

// operand is isOperandBefore's test of a type.
func operand(t byte) bool { return t == '1' || t == 'n' || t == ')' || t == 's' }

var likeWord, notWord, userWord = words["LIKE"], words["NOT"], words["USER"]

// foldTokenOf returns the foldTok of the token tok that sqliScan read as
// symbol sym (word: its entry, for a word token), and false when the
// replay does not model it.
func foldTokenOf(tok []byte, sym uint16, word *wordInfo) (foldTok, bool) {
	if word != nil {
		t := foldTok{typ: word.typ, word: word}
		switch t.typ {
		case 0:
			t.typ = 'n'
		case 'n', '1', 'k', 'f', '&', 'o':
		default:
			return t, false // T-SQL words, SQL types, variables
		}
		switch {
		case word == inWord:
			t.flags = ftIn
		case word == likeWord:
			t.flags = ftLike
		case word == notWord:
			t.flags = ftUnary
		}
		if word.extra == symF|symN {
			t.flags |= ftFoldFn
		}
		if word == userWord {
			t.flags |= ftUser
		}
		if t.typ == 'f' && len(tok) >= 2 && tok[0]|0x20 == 'i' && tok[1]|0x20 == 'f' {
			t.flags |= ftIf
		}
		return t, true
	}
	var t foldTok
	switch sym {
	case symN:
		t.typ = 'n'
	case sym1:
		t.typ = '1'
	case symDot:
		t.typ = '.'
	case symComma:
		t.typ = ','
	case symColon:
		t.typ = ':'
	case symSemi:
		t.typ = ';'
	case symQuestion:
		t.typ = '?'
	case symAnd:
		t.typ = '&'
	case symLParen:
		t.typ = '('
	case symRParen:
		t.typ = ')'
	case symO:
		t.typ = 'o'
		switch string(tok) {
		case "+", "-", "!", "~", "!!":
			t.flags = ftUnary
		}
	default:
		return t, false
	}
	return t, true
}

// replayMaybe is sqliMaybe for a value without quotes or NUL where the
// automaton found a blacklisted subsequence, or two words of a phrase
// met: the replay of the fold on its tokens, when it models them all.
func replayMaybe(v []byte) bool {
	var buf [maxFoldTokens]foldTok
	toks, _, ok := lexFold(v, 0, len(v), buf[:0])
	return !ok || foldMaybe(toks)
}

// quoteMaybe is sqliMaybe for a value, whose class mask is m, with a
// single quote: a name ("O'Neil") or prose ("don't"). libinjection reads
// it twice (check): as it is, where the quote starts a string that runs
// to the end, and as if it started inside a string, which the quote ends.
// With one quote, and no other byte that starts a string, an escape or a
// comment, both readings are the tokens around the quote and one string
// (S), and the replay folds each. Anything else is "maybe".
func quoteMaybe(v []byte, m uint64) bool {
	if hasAny(m, bDQuote|bBacktick|bHash|bBackslash|bLBrace|bRBrace|bNUL) ||
		has(m, bDash) && bytes.Contains(v, dashdash) || has(m, bSlash|bStar) && bytes.Contains(v, slashStar) {
		return true
	}
	q := bytes.IndexByte(v, '\'')
	if q < 0 || bytes.IndexByte(v[q+1:], '\'') >= 0 {
		return true
	}
	var buf [maxFoldTokens]foldTok
	toks, last, ok := lexFold(v, 0, q, buf[:0])
	if !ok || len(toks) == cap(toks) {
		return true
	}
	// A letter of B'', E'', N'', Q'', X'', U&'' or NQ'' strings at the
	// start of the token before the quote: that token and the quote start
	// a string of another kind.
	if last >= 0 && q-last <= 2 && stringPrefix[v[last]] || q > 0 && v[q-1] == '&' {
		return true
	}
	if foldMaybe(append(toks, foldTok{typ: 's'})) {
		return true
	}
	toks, _, ok = lexFold(v, q+1, len(v), append(buf[:0], foldTok{typ: 's'}))
	return !ok || foldMaybe(toks)
}

// stringPrefix holds the letters whose parsers in libinjection read a
// string when a quote follows (parseBString, parseEString...).
var stringPrefix = func() (t [256]bool) {
	for _, c := range []byte("BbEeNnQqUuXx") {
		t[c] = true
	}
	return t
}()

// lexFold appends to toks the tokens that start in v[from:to], read as
// sqliScan reads them (the bytes of v after to are their lookahead), and
// returns the start of the last one (-1 for none). It reports false when
// one is not modelled (foldTokenOf), or does not end by to, or toks is
// full.
func lexFold(v []byte, from, to int, toks []foldTok) ([]foldTok, int, bool) {
	last := -1
	for pos := from; pos < to; {
		c := v[pos]
		start := pos
		var sym uint16
		var word *wordInfo
		switch byteClass[c] {
		case cWhite:
			pos++
			continue
		case cWord:
			n, e, ok := wordToken(v, pos)
			if !ok {
				return toks, last, false
			}
			pos += n
			sym, word = typeSymbols[e.typ], e
		case cNumber:
			var n int
			n, sym = numberToken(v, pos)
			pos += n
			if sym == 0 {
				continue
			}
		case cOp1:
			pos++
			sym = symO
		case cOp2:
			switch {
			case pos+1 >= len(v):
				pos++
				sym = symO
			case c == '<' && pos+2 < len(v) && v[pos+1] == '=' && v[pos+2] == '>':
				pos += 3
				sym = symO
			case twoCharOps[int(c)<<8|int(v[pos+1])] != 0:
				sym = typeSymbols[twoCharOps[int(c)<<8|int(v[pos+1])]]
				pos += 2
			case c == ':':
				pos++
				sym = symColon
			default:
				pos++
				sym = symO
			}
		case cDash, cSlash:
			if pos+1 < len(v) && (c == '-' && v[pos+1] == '-' || c == '/' && v[pos+1] == '*') {
				return toks, last, false // a comment
			}
			pos++
			sym = symO
		case cBWord:
			end := bytes.IndexByte(v[pos:], ']')
			if end < 0 {
				return toks, last, false
			}
			pos += end + 1
			sym = symN
		case cOther:
			pos++
			sym = symQuestion
		case cLParen:
			pos++
			sym = symLParen
		case cRParen:
			pos++
			sym = symRParen
		case cComma:
			pos++
			sym = symComma
		case cSemi:
			pos++
			sym = symSemi
		default:
			return toks, last, false // strings, money, variables
		}
		t, ok := foldTokenOf(v[start:pos], sym, word)
		if !ok || pos > to || len(toks) == cap(toks) {
			return toks, last, false
		}
		toks = append(toks, t)
		last = start
	}
	return toks, last, true
}
