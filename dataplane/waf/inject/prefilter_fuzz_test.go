package inject

import (
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
	// '&' and '|' alone.
	"https://x.example/?a=1&b=union", "a|b or 1", "AT&T and 1 before x",
}
