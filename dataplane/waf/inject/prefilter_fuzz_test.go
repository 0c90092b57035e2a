package inject

import (
	"bytes"
	"strings"
	"testing"

	"github.com/corazawaf/libinjection-go"
)

// FuzzPrefilter is the differential check of the pre-filters' promise:
// whenever sqliMaybe or xssMaybe answers false, libinjection must not flag
// the input either.
func FuzzPrefilter(f *testing.F) {
	for _, s := range prefilterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkPrefilter(t, s)
	})
}

func checkPrefilter(t *testing.T, s string) {
	t.Helper()
	if !sqliMaybe([]byte(s)) || !sqliMaybeMask([]byte(s), classMask([]byte(s))) {
		if is, fp := libinjection.IsSQLi(s); is {
			t.Errorf("sqliMaybe(%q) = false; libinjection flags it as SQLi (fingerprint %q)", s, fp)
		}
	}
	if singleWord([]byte(s)) {
		if is, _ := libinjection.IsSQLi(s); is || libinjection.IsXSS(s) {
			t.Errorf("singleWord(%q) = true; libinjection flags it", s)
		}
	}
	if !xssMaybe([]byte(s)) && libinjection.IsXSS(s) {
		t.Errorf("xssMaybe(%q) = false; libinjection flags it as XSS", s)
	}
	// The trie walk of blackAttrBefore against the former suffix look-ups,
	// before every '='.
	for i := bytes.IndexByte([]byte(s), '='); i >= 0; i = indexByteFrom([]byte(s), i+1, '=') {
		if got, want := blackAttrBefore([]byte(s[:i])), blackAttrBeforeRef([]byte(s[:i])); got != want {
			t.Errorf("blackAttrBefore(%q) = %v; the reference says %v", s[:i], got, want)
		}
	}
	// sqliKeywords against the lexer it stands in for: where it finds no
	// keyword, the keyword-only pass must not act either (up to 64 bytes,
	// so that the pass keeps every token before its first keyword).
	if v := []byte(s); len(v) <= 64 && !has(classMask(v), bHigh) && sqliKeywordOnly(v, classMask(v)) &&
		!sqliKeywords(v, has(classMask(v), bDigit)) && sqliScan(v, true) {
		t.Errorf("sqliKeywords(%q) = false; the lexer reads a keyword in it", s)
	}
}

var prefilterSeeds = []string{
	"1 union select 1", "1 or 1=1", "admin' --", "x@y.z", "1.e(1)", "0x41 and 1", "$1,000 in 2 days",
	"user(1)", "@@version", "a.b.c", "in the box", "1 like 2", "if 1 then", "; drop table x",
	"NOT IN (1)", "order by 1", "1 - in - 2", "sleep 5", "a && b || c", "[x] y", "a ? b : c",
	"style=x", "onload = x", "x onerror=alert(1)", "href=javascript:1", "a=b&c=d",
	// Words that start inside a run of word bytes (sqliKeywords).
	"0xfin", "15in", "1ein", "1.in", "a.in", "x\x01in", "0x1fOR 1", "15T10 and", "1dor", "1.5eor", "0b1in",
	".5in", "abc.def.or", "sys.stragg.x", "dbms_lock.sleep 5", "not.in", "select.1", "is not", "door or 1",
	// Six inert tokens first (prefix), and what may follow them.
	"1 and 1 before x y", "please deliver to the back door and ring", "x in y and z before w", "user and 1 before char x",
	"a b c d e (1)", "a b c d and -1", "a b c d in (1)", "a b c d user(1)", "and x and y z w", "1 and 1 before x or 1=1",
	"a b c and d not 1", "a b c d e' or 1=1--", "leave x 1 char and 0x1f", "a b c d e # x",
	// '&' and '|' alone, and black attribute names before '='.
	"https://x.example/?a=1&b=union", "a|b or 1", "AT&T and 1 before x", "x xlink:href=1", "data-onclick=1", "ONLOAD\t=x",
	// The fold replay: operators, phrases that meet or not, IN, LIKE, USER.
	"https://shop.example.com/campaigns/leave-small?utm_source=newsletter&id=241178", "in and not.", "x not in (1)",
	"1 not like 2", "user(1) or 1=1", "; if 1 sleep 5", "a, -1 and 1=1", "x is not 1", "1) or (1", "at 1 time",
	// One quote (quoteMaybe).
	"Lars O'Neil", "don't", "1' or 1=1", "x' and '", "[a'b] c", "a' ; drop x", "1'", "'", "it's 1 or 2",
}

// blackAttrBeforeRef is the former blackAttrBefore, the reference of the
// trie walk: it reports whether the attribute name that libinjection would
// see just before an '=' at the end of b can be black: some suffix of the
// last run of name bytes, upper-cased, is in xssBlackAttrs.
func blackAttrBeforeRef(b []byte) bool {
	end := len(b)
	for end > 0 && isH5White(b[end-1]) {
		end--
	}
	start := end
	for start > 0 && end-start < maxBlackAttr {
		c := b[start-1]
		if isH5White(c) || c == '/' || c == '=' || c == '>' {
			break
		}
		start--
	}
	if end-start < 2 {
		return false
	}
	// Quick reject on the last two bytes, shared by every black name.
	last2 := uint16(upperASCII(b[end-2]))<<8 | uint16(upperASCII(b[end-1]))
	if !blackAttrEnds[last2] {
		return false
	}
	var buf [maxBlackAttr]byte
	for i := start; i < end; i++ {
		buf[i-start] = upperASCII(b[i])
	}
	name := buf[:end-start]
	// Black names are "ON" + an event, or one of a few others.
	for _, a := range blackAttrOthers {
		if len(a) <= len(name) && string(name[len(name)-len(a):]) == a {
			return true
		}
	}
	for i := 0; i+2 < len(name); i++ {
		if name[i] == 'O' && name[i+1] == 'N' {
			if _, ok := blackAttrSet[string(name[i:])]; ok {
				return true
			}
		}
	}
	return false
}

// blackAttrSet holds the black names starting with "ON"; blackAttrOthers
// the rest.
var blackAttrSet, blackAttrOthers = func() (map[string]struct{}, []string) {
	m := make(map[string]struct{}, len(xssBlackAttrs))
	var others []string
	for _, a := range xssBlackAttrs {
		if strings.HasPrefix(a, "ON") {
			m[a] = struct{}{}
		} else {
			others = append(others, a)
		}
	}
	return m, others
}()

var blackAttrEnds = func() (t [1 << 16]bool) {
	for _, a := range xssBlackAttrs {
		t[uint16(a[len(a)-2])<<8|uint16(a[len(a)-1])] = true
	}
	return t
}()

// TestBlackAttrTrie compares the trie walk with the reference on every
// black name: as it is, lower-cased, cut, extended, padded with white
// space, after other name bytes and past the 64-byte limit.
func TestBlackAttrTrie(t *testing.T) {
	for _, a := range xssBlackAttrs {
		for _, s := range []string{a, strings.ToLower(a), "x" + a, a[1:], a[:len(a)-1], a + "x", " " + a + " \t",
			"data-" + strings.ToLower(a), "a/" + a, "b=" + a, "c>" + a, strings.Repeat("y", maxBlackAttr-len(a)) + a,
			strings.Repeat("y", maxBlackAttr-len(a)+1) + a, strings.Repeat("Y", maxBlackAttr+3)} {
			if got, want := blackAttrBefore([]byte(s)), blackAttrBeforeRef([]byte(s)); got != want {
				t.Errorf("blackAttrBefore(%q) = %v; the reference says %v", s, got, want)
			}
		}
	}
}
