package inject

import (
	"bytes"
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the pre-filters that decide, without allocating, that
// libinjection cannot flag a value, so that IsSQLi and IsXSS (0.3-3 us and
// 1-28 allocations per call in libinjection-go v0.3.6) run only on the few
// values that could be attacks.
//
// Both filters are conservative: they answer "maybe" for anything they do not
// model exactly, and "no" only where the argument below holds. The tests
// check that argument against libinjection itself on every corpus and in a
// differential fuzz target (FuzzPrefilter).
//
// # SQLi
//
// libinjection tokenizes the input, folds the tokens and looks the first
// five folded token types (the fingerprint) up in a blacklist. sqliMaybe
// replays the tokenizer on a subset of inputs and argues about the
// fingerprint without building it:
//
//   - Inputs with a quote, backtick, '#', '\', '{', '}', NUL, "--", "/*" or a
//     "$$"/"$tag$" string are "maybe": they produce strings or comments, or
//     make libinjection try more than one parse (the quote contexts and the
//     MySQL reparse). Without them libinjection makes exactly one pass, in
//     ANSI mode, which the lexer below mirrors token by token (same token
//     boundaries, same types), including keyword look-ups with Go's Unicode
//     upper-casing as libinjection does.
//   - A token whose type is outside sigma (E, U, B, A: SELECT, UNION, GROUP
//     BY, COLLATE...) is "maybe".
//   - Folding never invents a type, except in the cases listed in
//     libinjection's fold(): merging two words into a phrase ("ORDER BY"),
//     IN becoming an operator or a bare word, LIKE or a few column-like words
//     (USER, PASSWORD...) becoming functions before '(', IF after ';'
//     becoming T. Merges are excluded by refusing any input that contains
//     both words of a phrase (sqlPairs); the other conversions are modelled
//     by giving the token a set of possible types. Every other fold removes
//     tokens. So the fingerprint is a subsequence of the token type sequence
//     (one type chosen per token among its possible types).
//   - The input is therefore "maybe" exactly when some blacklisted
//     fingerprint over sigma is a subsequence of it. A small NFA over a trie
//     of those fingerprints (sqliPatterns) answers that in one pass.
//     Fingerprints that libinjection's whitelist always clears (three tokens
//     with a keyword in the middle: "nkn", "1k1"...) are left out.
//   - Where the automaton finds a blacklisted subsequence, or two words of
//     a phrase, and every token is one that fold.go models (no string,
//     variable, money or SQL type), the fold itself is replayed on the
//     tokens and its fingerprint looked up: URLs and sentences with a
//     keyword somewhere ("campaigns/leave-small?id=1") are cleared there.
//   - A value with one single quote and none of the other unsafe bytes (a
//     name such as "O'Neil", "don't") is replayed in both of the readings
//     libinjection makes of it, around one string token (quoteMaybe).
//   - Sentences are decided by their first six tokens instead (prefix):
//     when those are inert (words, numbers, keywords no fold acts on),
//     the fingerprint is the first five, and libinjection reads no further.
//     Prose full of "and", "in", "before" costs six tokens, not an
//     automaton over all of it.
//
// # XSS
//
// libinjection's HTML5 tokenizer parses the input in five contexts. Every
// token it flags is a tag, comment or doctype (which need '<') or an
// attribute value following an attribute name in its black lists (which
// needs '='). xssMaybe answers "maybe" when the input has '<', or has a '='
// preceded (modulo white space) by a suffix that is a black attribute name.

// sigma lists the fingerprint symbols the SQLi lexer can produce, in the
// order of their bit in a symbol mask. Upper case: libinjection upper-cases
// the fingerprint before the blacklist look-up, so sql types (t) and T-SQL
// words (T) share T.
const sigma = "N1.,O:;?FTVK&()"

const (
	symN = 1 << iota
	sym1
	symDot
	symComma
	symO
	symColon
	symSemi
	symQuestion
	symF
	symT
	symV
	symK
	symAnd
	symLParen
	symRParen
)

const nsym = len(sigma)

// Byte classes of libinjection's tokenizer (its byteParsers table).
const (
	cWhite  = iota // parseWhite
	cWord          // parseWord, and the letters whose special parsers need a quote
	cNumber        // parseNumber: digits and '.'
	cOp1           // parseOperator1: % + ^ ~
	cOp2           // parseOperator2: ! & * : < = > |
	cDash          // parseDash
	cSlash         // parseSlash
	cMoney         // parseMoney
	cVar           // parseVar
	cBWord         // parseBWord: [
	cOther         // parseOther: ? ]
	cLParen        // parseByte (
	cRParen        // parseByte )
	cComma         // parseByte ,
	cSemi          // parseByte ;
	cUnsafe        // strings, comments, escapes, braces, NUL: not modelled
)

var byteClass = func() (t [256]uint8) {
	for i := range t {
		switch {
		case i == 0:
			t[i] = cUnsafe
		case i <= 32 || i == 127 || i == 0xA0:
			t[i] = cWhite
		case i >= 0x80, i == '_', i >= 'a' && i <= 'z', i >= 'A' && i <= 'Z':
			t[i] = cWord
		case i >= '0' && i <= '9', i == '.':
			t[i] = cNumber
		}
	}
	for _, c := range "%+^~" {
		t[c] = cOp1
	}
	for _, c := range "!&*:<=>|" {
		t[c] = cOp2
	}
	for _, c := range "\"'`#\\{}" {
		t[c] = cUnsafe
	}
	t['-'], t['/'], t['$'], t['@'], t['['] = cDash, cSlash, cMoney, cVar, cBWord
	t['?'], t[']'] = cOther, cOther
	t['('], t[')'], t[','], t[';'] = cLParen, cRParen, cComma, cSemi
	return t
}()

// wordStop is libinjection's wordAcceptTable: the bytes that end a word.
var wordStop = stopTable(" []{}<>:\\?=@!#~+-*/&|^%(),';\t\n\v\f\r\"\xa0\x00")

// varStop is libinjection's varAcceptTable, plus NUL (strLenCSpn stops there).
var varStop = stopTable(" <>:\\?=@!#~+-*/&|^%(),';\t\n\v\f\r'`\"\x00")

func stopTable(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

// libinjection keeps at most tokenSize-1 bytes of a token and looks up whole
// words only when shorter than tokenSize.
const tokenSize = 32

// wordInfo is what the lexer needs to know about an upper-cased word.
type wordInfo struct {
	typ    uint8     // libinjection's type for the word; 0 when it is not a keyword
	extra  uint16    // symbols a fold may turn the token into (IN, LIKE, USER...)
	first  [2]uint64 // phrases (sqlPairs) this word starts
	second [2]uint64 // phrases this word ends
}

var words = buildWords()

// foldFunctions are the words libinjection's fold turns into a function
// before '(' (it matches them ASCII-case-insensitively).
var foldFunctions = []string{
	"USER_ID", "USER_NAME", "DATABASE", "PASSWORD", "USER", "CURRENT_USER",
	"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP",
}

// noWord is what lookupWord returns for a word it does not know.
var noWord wordInfo

func buildWords() map[string]*wordInfo {
	m := make(map[string]wordInfo, len(sqlWordTypes)+64)
	for w, t := range sqlWordTypes {
		m[w] = wordInfo{typ: t}
	}
	if len(sqlPairs) > 128 {
		panic("inject: more than 128 phrase pairs; widen wordInfo masks")
	}
	for i, p := range sqlPairs {
		a, b := m[p[0]], m[p[1]]
		a.first[i/64] |= 1 << (i % 64)
		b.second[i/64] |= 1 << (i % 64)
		m[p[0]], m[p[1]] = a, b
	}
	add := func(w string, s uint16) {
		e := m[w]
		e.extra |= s
		m[w] = e
	}
	add("IN", symK|symO|symN)
	add("LIKE", symO|symF)
	for _, w := range foldFunctions {
		add(w, symF|symN)
	}
	ptrs := make(map[string]*wordInfo, len(m))
	for w, e := range m {
		ptrs[w] = &e
	}
	return ptrs
}

// typeSymbols maps a libinjection token type to its symbol; 0 means the type
// is outside sigma.
var typeSymbols = func() (t [256]uint16) {
	t[0], t['n'] = symN, symN
	t['1'], t['.'], t[','], t['o'], t[':'], t[';'], t['?'] = sym1, symDot, symComma, symO, symColon, symSemi, symQuestion
	t['f'], t['t'], t['T'], t['v'], t['k'], t['&'] = symF, symT, symT, symV, symK, symAnd
	t['('], t[')'] = symLParen, symRParen
	return t
}()

// twoCharOps is libinjection's look-up of two-byte operators: the type of
// "xy" at index x<<8|y, 0 when it is not an operator.
var twoCharOps = func() (t [1 << 16]uint8) {
	for w, typ := range sqlWordTypes {
		if len(w) == 2 && byteClass[w[0]] == cOp2 {
			t[int(w[0])<<8|int(w[1])] = typ
		}
	}
	return t
}()

// wordTable is words as an open-addressing hash table on the packed,
// upper-cased word (wordKey). The keywords of ordinary text ("in", "and",
// "at", "before") reach it on every sentence, and it answers them for less
// than the map: a multiply-mix of the packed key instead of a string hash,
// one probe of a small slot array, and a tag that rules out most other
// words without reading their entry.
var wordTable = buildWordTable()

// wordKey is an upper-cased word of at most 32 bytes, packed eight bytes
// to a uint64 (little-endian, zero padding: no key holds a NUL).
type wordKey [4]uint64

type wordEntry struct {
	key  wordKey
	info *wordInfo
}

type keywordTable struct {
	// slots holds entry index+1 in its low wordSlotBits bits, 0 for an
	// empty slot, and a tag of the key's hash in the others.
	slots   [wordTableSlots]uint16
	entries []wordEntry
}

const (
	wordTableBits  = 12
	wordTableSlots = 1 << wordTableBits // a quarter full
	wordSlotBits   = 11                 // room for the entries, index+1
	wordSlotMask   = 1<<wordSlotBits - 1
)

func (k *wordKey) hash() uint64 {
	return (k[0]*0x9e3779b97f4a7c15 ^ k[1]*0xc2b2ae3d27d4eb4f ^ k[2]*0x165667b19e3779f9 ^ k[3]) * 0xff51afd7ed558ccd
}

func buildWordTable() *keywordTable {
	t := &keywordTable{}
	if len(words) >= wordSlotMask {
		panic("inject: too many keywords for wordTable")
	}
	for w, e := range words {
		if len(w) > len(wordKey{})*8 {
			panic("inject: keyword longer than a wordKey: " + w)
		}
		var k wordKey
		for i := 0; i < len(w); i++ {
			k[i/8] |= uint64(w[i]) << (i % 8 * 8)
		}
		t.entries = append(t.entries, wordEntry{key: k, info: e})
		h := k.hash()
		tag := wordTag(h)
		for i := h >> (64 - wordTableBits); ; i = (i + 1) & (wordTableSlots - 1) {
			if t.slots[i] == 0 {
				t.slots[i] = tag | uint16(len(t.entries))
				break
			}
		}
	}
	return t
}

// wordTag is the tag of hash h in a slot: the bits below those of the
// slot's index.
func wordTag(h uint64) uint16 {
	return uint16(h>>(64-wordTableBits-(16-wordSlotBits))) << wordSlotBits
}

// get returns the entry of k, nil when k is not a keyword.
func (t *keywordTable) get(k *wordKey) *wordInfo {
	h := k.hash()
	tag := wordTag(h)
	for i := h >> (64 - wordTableBits); ; i = (i + 1) & (wordTableSlots - 1) {
		s := t.slots[i]
		if s == 0 {
			return nil
		}
		if s&^wordSlotMask == tag {
			if e := &t.entries[s&wordSlotMask-1]; e.key == *k {
				return e.info
			}
		}
	}
}

// lookupWord returns what the lexer knows of word w, upper-cased the way
// libinjection's searchKeyword does (strings.ToUpper). ok is false when the
// upper-cased form cannot be a key (too long, or not ASCII: every key is),
// and the entry is then noWord. Entries are shared: read only.
func lookupWord(w []byte) (*wordInfo, bool) {
	if !keywordShape(w) {
		return &noWord, false
	}
	var k wordKey
	n := 0
	for i := 0; i < len(w); {
		c := w[i]
		if c < utf8.RuneSelf {
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			i++
		} else {
			r, size := utf8.DecodeRune(w[i:])
			i += size
			r = unicode.ToUpper(r)
			if r >= utf8.RuneSelf {
				return &noWord, false
			}
			c = byte(r)
		}
		if n == len(k)*8 || c == 0 {
			return &noWord, false
		}
		k[n/8] |= uint64(c) << (n % 8 * 8)
		n++
	}
	if e := wordTable.get(&k); e != nil {
		return e, true
	}
	return &noWord, false
}

// keywordShapes has a bit for each (first byte, second byte, length) of the
// keys of words, upper-cased (the second byte 0 for one-byte keys, lengths
// capped at 31): most words of ordinary text have a shape no key has, and
// skip the hash and the map. Bytes outside ASCII are not indexed: a word
// that starts with one is looked up in full, as Unicode upper-casing can
// make ASCII of it.
var keywordShapes = func() (t [32][32]uint32) {
	for w := range words {
		var c1 byte
		if len(w) > 1 {
			c1 = w[1]
		}
		t[shapeCode[w[0]]][shapeCode[c1]] |= 1 << min(len(w), 31)
	}
	return t
}()

// shapeCode folds a byte to 5 bits for keywordShapes: letters (either
// case) to 1-26, every other byte to one of a few shared codes.
var shapeCode = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		switch {
		case c == 0:
			t[i] = 0
		case c >= 'a' && c <= 'z':
			t[i] = c - 'a' + 1
		case c >= 'A' && c <= 'Z':
			t[i] = c - 'A' + 1
		case c == '_':
			t[i] = 27
		case c >= '0' && c <= '9':
			t[i] = 28
		case c == '.' || c == '$' || c == '@':
			t[i] = 29
		case c >= 0x80:
			t[i] = 31
		default:
			t[i] = 30
		}
	}
	return t
}()

// keywordShape reports whether w may be a key of words (false is a proof
// that it is not).
func keywordShape(w []byte) bool {
	if len(w) == 0 {
		return false
	}
	c0 := w[0]
	var c1 byte
	if len(w) > 1 {
		c1 = w[1]
	}
	if c0 >= 128 || c1 >= 128 {
		return true
	}
	return keywordShapes[shapeCode[c0]][shapeCode[c1]]&(1<<min(len(w), 31)) != 0
}

// singleWord reports whether v is one word of letters, digits and '_'
// (and non-ASCII bytes) that does not start with a digit: ids, enum values,
// object keys. libinjection reads it as a single token, and flags no
// one-token fingerprint but X (comments and braces), so neither IsSQLi nor
// IsXSS (no '<', no '=') can flag it.
func singleWord(v []byte) bool {
	if len(v) == 0 || byteClass[v[0]] != cWord {
		return false
	}
	for _, c := range v[1:] {
		if byteClass[c] != cWord && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// sqliHard are the bytes that stop the keyword-only pass of sqliMaybeMask:
// strings, comments, escapes, braces, money and variables, and
// parentheses. '&' and '|' alone are operators (a URL's query, "AT&T");
// "&&" and "||", the '&' type, stop it too.
const sqliHard = bQuote | bDQuote | bBacktick | bHash | bBackslash | bLBrace | bRBrace | bNUL | bDollar | bAt |
	bLParen | bRParen

// sqliMaybeMask is sqliMaybe for a value whose class mask is m. Every
// blacklisted fingerprint over sigma has a keyword symbol (F, T, K, &) or
// a parenthesis or a variable (checked in TestSQLiPatternsNeedKeyword),
// and the symbols outside sigma come from keywords too; so a value without
// the bytes of sqliHard, "--" and "/*" is SQLi only if one of its tokens is
// a keyword: the lexer keeps the symbols of the tokens before the first
// keyword and feeds the automaton only from there (sqliScan).
//
// Most values have no such keyword, and sqliKeywords proves it in one
// table pass before the lexer runs.
func sqliMaybeMask(v []byte, m uint64) bool {
	if !sqliKeywordOnly(v, m) {
		if hasAny(m, bQuote|bDQuote|bNUL) {
			return quoteMaybe(v, m) // see sqliMaybe
		}
		return sqliScan(v, false)
	}
	if !has(m, bHigh) && !sqliKeywords(v, has(m, bDigit)) {
		return false
	}
	return sqliScan(v, true)
}

// sqliKeywordOnly reports whether v, whose class mask is m, is SQLi only
// if one of its tokens is a keyword: it has none of the bytes of
// sqliHard, no "--", "/*", "&&" or "||" (the only operators of '&' and
// '|' whose symbol is not plain, checked in TestSQLiPatternsNeedKeyword).
func sqliKeywordOnly(v []byte, m uint64) bool {
	return m&sqliHard == 0 && (m&bDash == 0 || !bytes.Contains(v, dashdash)) && (!has(m, bSlash|bStar) || !bytes.Contains(v, slashStar)) &&
		(m&bAmp == 0 || !bytes.Contains(v, ampamp)) && (m&bPipe == 0 || !bytes.Contains(v, pipepipe))
}

var ampamp, pipepipe = []byte("&&"), []byte("||")

// sqliKeywords reports whether a token of v may be a keyword that the
// lexer's keyword-only pass acts on (sqliMaybeMask): a word whose symbol
// is not plain, or a word of a phrase (sqlPairs) whose other word may be
// in v too. v must be ASCII (non-ASCII is upper-cased as Unicode) and
// without the bytes of sqliHard; digits says whether it has a digit.
//
// It does not follow the lexer's token boundaries; it tries every word
// the lexer could read in each run of word bytes (those wordStop does not
// end). A word runs from a letter (or '_') to the end of the run, or to a
// '.' inside it, where the lexer also looks a word up. It starts at the
// start of the run, or after a byte that can end another token inside a
// run: a digit, a '.', a control byte, and, when v has a digit (a number
// can read letters: "0x1fg", "15T10"), a hex digit or 'x'. Reading v
// backwards, the hash of each word is one step from the next one's, and a
// Bloom filter of the keywords (sqlKeyBloom) rules out almost all of
// them; the few left are looked up.
func sqliKeywords(v []byte, digits bool) bool {
	after := kwEndAny
	if digits {
		after |= kwEndInNumber
	}
	var first, second [2]uint64
	var h uint64    // kwHash of v[p:end]
	var dots uint32 // bit k: v[p+k] is a '.'
	end := len(v)   // the end of the run p is in
	for p := len(v) - 1; p >= 0; p-- {
		c := kwBytes[v[p]]
		if c.flags&kwStop != 0 {
			h, dots, end = 0, 0, p
			continue
		}
		h = bits.RotateLeft64(h, 7) ^ uint64(c.upper)
		dots = dots<<1 | uint32(c.flags&kwDot)
		if c.flags&kwWord == 0 || p > 0 && kwBytes[v[p-1]].flags&after == 0 {
			continue
		}
		if end-p < tokenSize && sqlKeyBloom.has(h) {
			if e, ok := lookupWord(v[p:end]); ok && sqliActs(e, &first, &second) {
				return true
			}
		}
		for d := dots &^ 1; d != 0; d &= d - 1 {
			k := bits.TrailingZeros32(d)
			if k >= tokenSize-1 {
				break
			}
			if !keywordShape(v[p : p+k]) {
				continue
			}
			if e, ok := lookupWord(v[p : p+k]); ok && sqliActs(e, &first, &second) {
				return true
			}
		}
	}
	return false
}

// kwBytes is what sqliKeywords needs to know of a byte: its upper case,
// whether it ends a run (wordStop) or starts a word (a letter or '_'),
// whether it is a '.', and after which bytes a token may start inside a
// run (kwEndAny, kwEndInNumber).
var kwBytes = func() (t [256]struct{ upper, flags uint8 }) {
	for i := range t {
		c := byte(i)
		t[i].upper = upperASCII(c)
		switch {
		case wordStop[c]:
			t[i].flags = kwStop | kwEndAny
		case byteClass[c] == cWord:
			t[i].flags = kwWord
			if hexDigits[c] || c == 'x' || c == 'X' {
				t[i].flags |= kwEndInNumber
			}
		default:
			t[i].flags = kwEndAny
		}
		if c == '.' {
			t[i].flags |= kwDot
		}
	}
	return t
}()

const (
	kwDot uint8 = 1 << iota // must be bit 0 (sqliKeywords shifts it in)
	kwStop
	kwWord
	kwEndAny
	kwEndInNumber
)

// sqliActs reports whether the keyword-only pass acts on a token looked up
// as e, given the phrase words seen before (first, second: updated).
func sqliActs(e *wordInfo, first, second *[2]uint64) bool {
	if sqliKeyword(e) {
		return true
	}
	first[0] |= e.first[0]
	first[1] |= e.first[1]
	second[0] |= e.second[0]
	second[1] |= e.second[1]
	return first[0]&second[0] != 0 || first[1]&second[1] != 0
}

// sqliKeyword reports whether e's symbols are not all plain.
func sqliKeyword(e *wordInfo) bool {
	sym := typeSymbols[e.typ]
	return sym == 0 || (sym|e.extra)&^plainSymbols != 0
}

// kwHash is the hash sqliKeywords computes of an upper-case word, from its
// last byte to its first.
func kwHash(w string) uint64 {
	var h uint64
	for i := len(w) - 1; i >= 0; i-- {
		h = bits.RotateLeft64(h, 7) ^ uint64(w[i])
	}
	return h
}

// sqlKeyBloom holds the keywords sqliActs may act on: 16 KiB, two bits a
// key in one 64-bit word (a blocked Bloom filter), for a false positive
// rate near 1 in 1000 per word tried.
var sqlKeyBloom = func() (b keyBloom) {
	for w, e := range words {
		if sqliKeyword(e) || e.first != [2]uint64{} || e.second != [2]uint64{} {
			b.add(kwHash(w))
		}
	}
	return b
}()

// sqlWordBloom holds every keyword, hashed from its first byte to its
// last as wordToken reads it: most words miss it, and skip lookupWord.
var sqlWordBloom = func() (b keyBloom) {
	for w := range words {
		var h uint64
		for i := 0; i < len(w); i++ {
			h = bits.RotateLeft64(h, 7) ^ uint64(w[i])
		}
		b.add(h)
	}
	return b
}()

// keyBloom is a blocked Bloom filter of words hashed with rotate-xor
// (cheap per byte but unmixed): add and has mix the hash with a multiply,
// whose high bits give the word's index and its two bits.
type keyBloom [2048]uint64

func (b *keyBloom) add(h uint64) {
	h *= 0x9e3779b97f4a7c15
	b[h>>53] |= keyBloomBits(h)
}

func (b *keyBloom) has(h uint64) bool {
	h *= 0x9e3779b97f4a7c15
	m := keyBloomBits(h)
	return b[h>>53]&m == m
}

func keyBloomBits(h uint64) uint64 { return 1<<(h>>47&63) | 1<<(h>>41&63) }

var slashStar = []byte("/*")

// sqliMaybe reports whether libinjection's IsSQLi could flag v. false is a
// proof that it does not.
func sqliMaybe(v []byte) bool {
	// A quote anywhere makes libinjection parse again as if the input
	// started inside a string, even when the first pass swallows the quote
	// (in a [bracket word]); the lexer models the first pass only.
	if bytes.IndexByte(v, '\'') >= 0 || bytes.IndexByte(v, '"') >= 0 || bytes.IndexByte(v, 0) >= 0 {
		return quoteMaybe(v, classMask(v))
	}
	return sqliScan(v, false)
}

// plainSymbols are the symbols of tokens that are not keywords: numbers,
// bare words, punctuation and operators.
const plainSymbols = symN | sym1 | symDot | symComma | symO | symColon | symSemi | symQuestion

// sqliScan is sqliMaybe for a value without quotes or NUL. lazy (for a
// value without the bytes of sqliHard) defers the automaton to the first
// keyword: until then the symbols are only kept, and a value that has none
// answers false (see sqliMaybeMask), in one pass.
func sqliScan(v []byte, lazy bool) bool {
	var lx sqliLexer
	lx.nfa.reset()
	var pending [64]uint16 // symbols kept while lazy
	npending := 0
	var firstSeen, secondSeen [2]uint64
	var pre prefix
	hit := false // the automaton matched: v is "maybe" unless prefix or the fold replay decides
	for pos := 0; pos < len(v); {
		c := v[pos]
		var sym uint16
		var inert uint16 // the token's symbol when it is inert (see prefix)
		var needsNext bool
		switch byteClass[c] {
		case cWhite:
			pos++
			continue
		case cUnsafe:
			return true
		case cWord:
			n, e, ok := wordToken(v, pos)
			if !ok {
				return true
			}
			pos += n
			firstSeen[0] |= e.first[0]
			firstSeen[1] |= e.first[1]
			secondSeen[0] |= e.second[0]
			secondSeen[1] |= e.second[1]
			if firstSeen[0]&secondSeen[0] != 0 || firstSeen[1]&secondSeen[1] != 0 {
				// Two words that libinjection could merge: only the
				// replay, which merges where its fold would, decides.
				return replayMaybe(v)
			}
			sym = typeSymbols[e.typ]
			if sym == 0 {
				return true
			}
			sym |= e.extra
			if sym&symF != 0 && n >= 2 && v[pos-n]|0x20 == 'i' && v[pos-n+1]|0x20 == 'f' {
				sym |= symT // IF after ';' becomes T-SQL
			}
			inert, needsNext = inertWord(e, sym)
		case cNumber:
			var n int
			n, sym = numberToken(v, pos)
			pos += n
			if sym == 0 {
				continue // "1e": libinjection drops it
			}
			inert = sym
		case cOp1:
			pos++
			sym = symO
		case cOp2:
			if pos+1 >= len(v) {
				pos++
				sym = symO
				break
			}
			if c == '<' && pos+2 < len(v) && v[pos+1] == '=' && v[pos+2] == '>' {
				pos += 3
				sym = symO
				break
			}
			if t := twoCharOps[int(c)<<8|int(v[pos+1])]; t != 0 {
				pos += 2
				sym = typeSymbols[t]
				if sym == 0 {
					return true
				}
				break
			}
			pos++
			if c == ':' {
				sym = symColon
			} else {
				sym = symO
			}
		case cDash:
			if pos+1 < len(v) && v[pos+1] == '-' {
				return true // a comment in every mode
			}
			pos++
			sym = symO
		case cSlash:
			if pos+1 < len(v) && v[pos+1] == '*' {
				return true
			}
			pos++
			sym = symO
		case cMoney:
			n, s, ok := moneyToken(v, pos)
			if !ok {
				return true
			}
			pos += n
			sym = s
		case cVar:
			n, s, ok := varToken(v, pos)
			if !ok {
				return true
			}
			pos += n
			sym = s
		case cBWord:
			end := bytes.IndexByte(v[pos:], ']')
			if end < 0 {
				pos = len(v)
			} else {
				pos += end + 1
			}
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
		}
		if !pre.dead {
			if decided, maybe := pre.add(inert, needsNext); decided {
				return maybe
			}
		}
		if hit && pre.dead {
			return replayMaybe(v)
		}
		if hit {
			continue // the automaton has answered; the prefix may still clear v
		}
		if lazy {
			if sym&^plainSymbols == 0 && npending < len(pending) {
				pending[npending] = sym
				npending++
				continue
			}
			// The first keyword (or too many tokens): replay.
			lazy = false
			for _, p := range pending[:npending] {
				if lx.nfa.step(p) {
					hit = true
					break
				}
			}
		}
		if !hit && lx.nfa.step(sym) {
			hit = true
		}
		if hit && pre.dead {
			return replayMaybe(v)
		}
	}
	if hit {
		return replayMaybe(v)
	}
	return false
}

// prefix decides a value by its first six tokens when they are inert:
// bare words, numbers, keywords of type k or f, and '&' (AND), none of
// which any of libinjection's folds acts on (its folds need strings,
// operators, parentheses, commas, dots, semicolons, SQL types, braces,
// variables, IN or LIKE or a fold function before '(', IF after ';', two
// '&' one token apart, or a phrase, which sqliScan refuses before).
// libinjection then keeps the first five tokens unchanged: its fold reads
// a sixth token, only to try folding it with the fifth, and stops. So the
// fingerprint is the five symbols, and the value is SQLi exactly when
// they are a blacklisted fingerprint (sqliPatterns5); whatever follows the
// sixth token is never read (the quotes that start other passes are
// refused before).
//
// Two tokens are inert only with what follows them: IN becomes a bare word
// when no '(' follows it, a fold function (USER, DATABASE...) stays what it
// is, and '&' folds a unary operator or a SQL type after it; in the fifth
// position, the sixth must then be inert too. Any other sixth token is
// fine: it can only fold with the fifth, and an inert fifth token folds
// with nothing but a phrase.
type prefix struct {
	n         int  // tokens read
	key       int  // the symbols so far, as digits of base len(inertSymbols)
	and1      bool // the token before the last one is '&'
	and0      bool // the last token is '&'
	needsNext bool // the last token is inert only if the next one is
	dead      bool // a token was not inert: the rule does not apply
}

// inertSymbols are the symbols of inert tokens, in the order of their
// digit in prefix.key.
var inertSymbols = [...]uint16{symN, sym1, symK, symF, symAnd}

const inertPrefixes = 5 * 5 * 5 * 5 * 5 // len(inertSymbols)^5

// sqliPatterns5 says, for each key of five inert symbols, whether they are
// a fingerprint of sqliPatterns.
var sqliPatterns5 = func() (t [inertPrefixes]bool) {
	for _, p := range sqliPatterns {
		if len(p) != 5 {
			continue
		}
		key, ok := 0, true
		for i := 0; i < len(p); i++ {
			s := strings.IndexByte(sigma, p[i])
			d := inertDigit(1 << s)
			if d < 0 {
				ok = false
				break
			}
			key = key*len(inertSymbols) + d
		}
		if ok {
			t[key] = true
		}
	}
	return t
}()

// inertDigit is the digit of symbol s in a prefix key, -1 when a token of
// that symbol is not inert.
func inertDigit(s uint16) int {
	for i, x := range inertSymbols {
		if x == s {
			return i
		}
	}
	return -1
}

var inWord = words["IN"]

// inertWord returns the symbol of a word token looked up as e, whose
// possible symbols are sym, when it is inert (0 when not), and whether it
// is inert only if the next token is.
func inertWord(e *wordInfo, sym uint16) (uint16, bool) {
	base := typeSymbols[e.typ]
	switch {
	case e == inWord:
		return symN, true // IN not before '(' is a bare word
	case sym&symT != 0 && base != symT:
		return 0, false // IF: T-SQL after ';'
	case e.extra == 0:
		return base, base == symAnd
	case e.extra == symF|symN && (base == symN || base == symF):
		return base, true // a fold function not before '('
	}
	return 0, false
}

// add feeds the next token: its symbol when it is inert (0 when not) and
// whether it is inert only if the next one is. It reports whether the
// first six tokens decide the value, and then whether it may be SQLi.
func (p *prefix) add(inert uint16, needsNext bool) (decided, maybe bool) {
	if p.n == 5 {
		// The sixth token: it must be inert when the fifth needs it, and
		// not a second '&' one token after another.
		if (p.needsNext || p.and1) && (inert == 0 || inert == symAnd && p.and1) {
			p.dead = true
			return false, false
		}
		p.dead = true // decided: nothing more to read
		return true, sqliPatterns5[p.key]
	}
	d := inertDigit(inert)
	if inert == 0 || d < 0 || inert == symAnd && p.and1 {
		p.dead = true
		return false, false
	}
	p.key = p.key*len(inertSymbols) + d
	p.and1, p.and0 = p.and0, inert == symAnd
	p.needsNext = needsNext
	p.n++
	return false, false
}

type sqliLexer struct {
	nfa nfa
}

// wordToken mirrors parseWord from pos: the length of the token and what the
// lexer knows of it. ok is false for a token it does not model.
func wordToken(v []byte, pos int) (n int, e *wordInfo, ok bool) {
	e = &noWord
	end := pos
	special := -1 // the first '.' or '`'
	var h uint64  // kwHash of the word, but from its first byte to its last
	var high byte // a byte >= 0x80: lookupWord upper-cases it as Unicode
	for end < len(v) {
		c := v[end]
		if wordStop[c] {
			break
		}
		if (c == '.' || c == '`') && special < 0 {
			special = end - pos
		}
		h = bits.RotateLeft64(h, 7) ^ uint64(kwBytes[c].upper)
		high |= c
		end++
	}
	w := v[pos:end]
	// A '.' or '`' inside the word: libinjection looks up what comes before
	// it and, if that is a keyword, ends the token there ("SELECT.1").
	limit := min(len(w), tokenSize-1)
	for i := special; special >= 0 && i < limit; i++ {
		if w[i] == '.' || w[i] == '`' {
			if w[i] == '`' {
				return 0, e, false
			}
			if p, found := lookupWord(w[:i]); found && p.typ != 0 && p.typ != 'n' {
				return i, p, true
			}
		}
	}
	// Longer words stay bare words: libinjection does not look them up,
	// cannot merge them (a merge must fit tokenSize) and compares the fold
	// names against a value truncated to tokenSize-1 bytes.
	if len(w) < tokenSize && (high >= utf8.RuneSelf || sqlWordBloom.has(h)) {
		if p, found := lookupWord(w); found {
			e = p
		}
	}
	return len(w), e, true
}

// numberToken mirrors parseNumber: the bytes consumed and the symbol of the
// token produced, 0 when libinjection produces none.
func numberToken(v []byte, pos int) (int, uint16) {
	if v[pos] == '0' && pos+1 < len(v) {
		var digits *[256]bool
		switch v[pos+1] {
		case 'x', 'X':
			digits = &hexDigits
		case 'b', 'B':
			digits = &binDigits
		}
		if digits != nil {
			n := 0
			for pos+2+n < len(v) && digits[v[pos+2+n]] {
				n++
			}
			if n == 0 {
				return 2, symN
			}
			return 2 + n, sym1
		}
	}
	start := pos
	for pos < len(v) && isDigit(v[pos]) {
		pos++
	}
	if pos < len(v) && v[pos] == '.' {
		pos++
		for pos < len(v) && isDigit(v[pos]) {
			pos++
		}
		if pos-start == 1 {
			return 1, symDot
		}
	}
	haveE, haveExp := false, false
	if pos < len(v) && (v[pos] == 'e' || v[pos] == 'E') {
		haveE = true
		pos++
		if pos < len(v) && (v[pos] == '+' || v[pos] == '-') {
			pos++
		}
		for pos < len(v) && isDigit(v[pos]) {
			haveExp = true
			pos++
		}
	}
	if pos < len(v) {
		switch v[pos] {
		case 'd', 'D', 'f', 'F':
			switch {
			case pos+1 == len(v):
				pos++
			case isSQLWhite(v[pos+1]) || v[pos+1] == ';':
				pos++
			case v[pos+1] == 'u' || v[pos+1] == 'U':
				pos++
			}
		}
	}
	if haveE && !haveExp {
		return pos - start, 0
	}
	return pos - start, sym1
}

var hexDigits = digitTable("0123456789ABCDEFabcdef")
var binDigits = digitTable("01")
var moneyDigits = digitTable("0123456789.,")

func digitTable(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isSQLWhite is libinjection's isByteWhite.
func isSQLWhite(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0xA0, 0:
		return true
	}
	return false
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// moneyToken mirrors parseMoney; ok is false for its string forms.
func moneyToken(v []byte, pos int) (int, uint16, bool) {
	if pos+1 == len(v) {
		return 1, symN, true
	}
	n := 0
	for pos+1+n < len(v) && moneyDigits[v[pos+1+n]] {
		n++
	}
	switch {
	case n == 0:
		if v[pos+1] == '$' {
			return 0, 0, false // $$ string $$
		}
		x := 0
		for pos+1+x < len(v) && isASCIILetter(v[pos+1+x]) {
			x++
		}
		if x == 0 || pos+x+1 == len(v) || v[pos+x+1] != '$' {
			return 1, symN, true
		}
		return 0, 0, false // $tag$ string $tag$
	case n == 1 && v[pos+1] == '.':
		wn, e, ok := wordToken(v, pos)
		if !ok {
			return 0, 0, false
		}
		sym := typeSymbols[e.typ]
		if sym == 0 || e.first != [2]uint64{} || e.second != [2]uint64{} {
			return 0, 0, false
		}
		return wn, sym | e.extra, true
	default:
		return n + 1, sym1, true
	}
}

// varToken mirrors parseVar for '@' and "@@" variables.
func varToken(v []byte, pos int) (int, uint16, bool) {
	p := pos + 1
	if p < len(v) && v[p] == '@' {
		p++
	}
	if p < len(v) && (v[p] == '`' || v[p] == '\'' || v[p] == '"') {
		return 0, 0, false
	}
	end := p
	for end < len(v) && !varStop[v[end]] {
		end++
	}
	sym := uint16(symV)
	if end-p < tokenSize {
		// @user( is folded into a function like user(.
		if e, ok := lookupWord(v[p:end]); ok && e.extra&symF != 0 {
			sym |= symF
		}
	}
	return end - pos, sym, true
}

// nfa finds whether any of sqliPatterns is a subsequence of the symbols fed
// to it. Its state is the set of trie nodes (pattern prefixes) matched so
// far, kept in a list; the set only grows. A node's edge on a symbol is
// followed once, as its child is in the set from then on: each node keeps
// the edges not followed yet (open), and a token skips, without reading
// the trie, the nodes that have none on its symbols (a sentence repeats
// its few symbols).
type nfa struct {
	active [maxActive]uint16
	open   [maxActive]uint16
	n      int
}

// maxActive bounds the work per token; an input whose set of matched
// prefixes grows past it is sent to libinjection.
const maxActive = 96

func (a *nfa) reset() {
	a.active[0], a.open[0] = 0, trie[0].edges
	a.n = 1
}

// step feeds one token that may have any of the symbols in mask. It reports
// true when a whole pattern has been matched, or the state grew too large.
func (a *nfa) step(mask uint16) bool {
	n := a.n
	for i := 0; i < n; i++ {
		f := a.open[i] & mask
		if f == 0 {
			continue
		}
		a.open[i] &^= f
		node := &trie[a.active[i]]
		for ; f != 0; f &= f - 1 {
			c := node.child[bits.TrailingZeros16(f)]
			if trie[c].terminal {
				return true
			}
			if a.has(c) {
				continue
			}
			if a.n == maxActive {
				return true
			}
			a.active[a.n], a.open[a.n] = c, trie[c].edges
			a.n++
		}
	}
	return false
}

func (a *nfa) has(c uint16) bool {
	for _, x := range a.active[:a.n] {
		if x == c {
			return true
		}
	}
	return false
}

type trieNode struct {
	child    [nsym]uint16
	edges    uint16 // symbols with a child
	terminal bool
}

// trie holds sqliPatterns; node 0 is the root.
var trie = buildTrie(sqliPatterns)

func buildTrie(patterns []string) []trieNode {
	t := []trieNode{{}}
	for _, p := range patterns {
		n := 0
		for i := 0; i < len(p); i++ {
			s := strings.IndexByte(sigma, p[i])
			if s < 0 {
				panic("inject: pattern " + p + " has a symbol outside sigma")
			}
			if t[n].edges&(1<<s) == 0 {
				t = append(t, trieNode{})
				t[n].child[s] = uint16(len(t) - 1)
				t[n].edges |= 1 << s
			}
			n = int(t[n].child[s])
		}
		t[n].terminal = true
	}
	if len(t) > 1<<16 {
		panic("inject: fingerprint trie too large for uint16 node ids")
	}
	return t
}

// xssMaybeMask is xssMaybe for a value whose class mask is m.
func xssMaybeMask(v []byte, m uint64) bool {
	if m&(bLT|bNUL|bEq) == 0 {
		return false
	}
	return xssMaybe(v)
}

// xssMaybe reports whether libinjection's IsXSS could flag v. false is a
// proof that it does not.
func xssMaybe(v []byte) bool {
	if bytes.IndexByte(v, '<') >= 0 || bytes.IndexByte(v, 0) >= 0 {
		return true
	}
	for i := bytes.IndexByte(v, '='); i >= 0; {
		if blackAttrBefore(v[:i]) {
			return true
		}
		j := bytes.IndexByte(v[i+1:], '=')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// blackAttrBefore reports whether the attribute name that libinjection would
// see just before an '=' at the end of b can be black: some suffix of the
// last run of name bytes (at most maxBlackAttr of them), upper-cased, is in
// xssBlackAttrs. It reads the run backwards along a trie of the reversed
// names, so that most names are ruled out in a byte or two.
func blackAttrBefore(b []byte) bool {
	end := len(b)
	for end > 0 && isH5White(b[end-1]) {
		end--
	}
	n := 0 // the trie node of the reversed suffix read so far
	for i := end - 1; i >= 0 && end-i <= maxBlackAttr; i-- {
		c := b[i]
		if isH5White(c) || c == '/' || c == '=' || c == '>' {
			return false
		}
		if n = blackAttrTrie.child(n, upperASCII(c)); n < 0 {
			return false
		}
		if blackAttrTrie.nodes[n].terminal {
			return true
		}
	}
	return false
}

func isH5White(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func upperASCII(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// attrTrie holds names reversed: a node's edges are the bytes that may
// come before the suffix it stands for.
type attrTrie struct {
	nodes []attrNode
	edges []attrEdge
}

type attrNode struct {
	first, n int32 // its edges, edges[first:first+n]
	terminal bool
}

type attrEdge struct {
	c     byte
	child int32
}

// child returns the node reached from node n by byte c, -1 for none.
func (t *attrTrie) child(n int, c byte) int {
	nd := &t.nodes[n]
	for _, e := range t.edges[nd.first : nd.first+nd.n] {
		if e.c == c {
			return int(e.child)
		}
	}
	return -1
}

var blackAttrTrie = buildAttrTrie(xssBlackAttrs)

func buildAttrTrie(names []string) *attrTrie {
	type node struct {
		next     map[byte]int
		terminal bool
	}
	nodes := []node{{next: map[byte]int{}}}
	for _, a := range names {
		if len(a) > maxBlackAttr || len(a) < 2 {
			panic("inject: black attribute " + a + " not 2 to maxBlackAttr bytes long")
		}
		n := 0
		for i := len(a) - 1; i >= 0; i-- {
			c, ok := nodes[n].next[a[i]]
			if !ok {
				nodes = append(nodes, node{next: map[byte]int{}})
				c = len(nodes) - 1
				nodes[n].next[a[i]] = c
			}
			n = c
		}
		nodes[n].terminal = true
	}
	t := &attrTrie{nodes: make([]attrNode, len(nodes))}
	for i, nd := range nodes {
		t.nodes[i] = attrNode{first: int32(len(t.edges)), n: int32(len(nd.next)), terminal: nd.terminal}
		cs := make([]byte, 0, len(nd.next))
		for c := range nd.next {
			cs = append(cs, c)
		}
		slices.Sort(cs)
		for _, c := range cs {
			t.edges = append(t.edges, attrEdge{c: c, child: int32(nd.next[c])})
		}
	}
	return t
}

const maxBlackAttr = 64 // libinjection ignores longer names (maxNormalizedTokenLen)
