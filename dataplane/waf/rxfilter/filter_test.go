package rxfilter

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode"

	"rsc.io/binaryregexp"
	bsyntax "rsc.io/binaryregexp/syntax"
)

func TestCompileConditions(t *testing.T) {
	for _, tc := range []struct {
		name, expr, want string // want "" means no filter
	}{
		{"literal", `select`, `"select"`},
		{"folded literal", `(?i)SeLeCt`, `"select"`},
		{"concat with gap", `union\s+select`, `"select" ("union\x09"|"union\x0a"|"union\x0c"|"union\x0d"|"union ")`},
		{"alternation", `(?:union|select|insert)`, `"insert"|"select"|"union"`},
		{"alternation with a shorter member", `(?:select|elect)`, `"elect"`},
		{"optional part", `ab?c`, `"abc"|"ac"`},
		{"star alone", `a*`, ``},
		{"empty alternative", `(?:abc|)`, ``},
		{"anchors", `^admin$`, `"admin"`},
		{"small class", `[Ss]elect`, `"select"`},
		{"large class", `[a-z]+foo`, `"foo"`},
		{"non-ASCII rune is unknown", `café`, `"caf"`},
		{"plus", `(?:ab)+c`, `"ab" "c"`},
		{"repeat", `x{2,}y`, `"xx" "y"`},
		{"dot", `ab.cd`, `"ab" "cd"`},
		{"single letters", `a.b|c`, `"c"|("a" "b")`},
		{"single punctuation kept", `\w[;|]`, `";"|"|"`},
		{"class joins the run", `a[;|]b`, `"a;b"|"a|b"`},
		{"no match", `[^\x00-\x{10FFFF}]`, `-`},
		{"nested or in and", `(?:foo|bar)\s*\(`, `"(" ("bar"|"foo")`},
		{"empty", ``, ``},
		{"punctuation count", `(?:[!-/:-@][^!-/:-@]*?){4}`, `+; 4 of "!\x22#$%&'()*+,-./:;<=>?@"`},
		{"count of a literal", `(?:--|;)\s*(?:--|;)\s*(?:--|;)`, `("--"|";") ("--"|";") ("--"|";"); 3 of "\x09\x0a\x0c\x0d -;"`},
		{"letters are not counted", `(?:[a-z][^a-z]*){5}`, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.expr, syntax.Perl)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if f != nil {
				got = f.String()
			}
			if got != tc.want {
				t.Fatalf("Compile(%q) = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
}

func TestMayMatch(t *testing.T) {
	for _, tc := range []struct {
		name, expr, input string
		want              bool
	}{
		{"found", `(?i)union\s+select`, "1 UNION SELECT 2", true},
		{"one missing", `(?i)union\s+select`, "union of workers", false},
		{"none", `(?:foo|bar)\s*\(`, "Blue widget, large", false},
		{"or of and", `(?:foo|bar)\s*\(`, "bar (x)", true},
		{"or without and", `(?:foo|bar)\s*\(`, "bar x", false},
		{"kelvin sign folds to k", `(?i)kill`, "\u212aill", true},
		{"long s folds to s", `(?i)script`, "\u017fcript", true},
		{"case-sensitive still filtered lower-cased", `SELECT`, "select", true},
		{"empty input", `abc`, "", false},
		{"no match", `[^\x00-\x{10FFFF}]`, "anything", false},
		{"too few punctuation bytes", `(?:[!-/:-@][^!-/:-@]*?){4}`, "Blue widget, large.", false},
		{"enough punctuation bytes", `(?:[!-/:-@][^!-/:-@]*?){4}`, "a'b'c--", true},
		{"letters present", `b\W*u\W*s\W*y`, "B-u-S-y", true},
		{"a letter missing", `b\W*u\W*s\W*y`, "json.order_id", false},
		{"letter folded from kelvin", `(?i)k\W*e`, "\u212a-e", true},
		{"letters and a literal", `(?:ab)+c`, "xxabyyc", true},
		{"literal missing", `(?:ab)+c`, "xxacyyb", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.expr, syntax.Perl)
			if err != nil || f == nil {
				t.Fatalf("Compile(%q) = %v, %v", tc.expr, f, err)
			}
			if got := f.MayMatch(tc.input); got != tc.want {
				t.Fatalf("%s.MayMatch(%q) = %v, want %v", f, tc.input, got, tc.want)
			}
			if m := regexp.MustCompile(tc.expr).MatchString(tc.input); m && !f.MayMatch(tc.input) {
				t.Fatalf("unsound: %q matches %q", tc.expr, tc.input)
			}
		})
	}
}

// TestFoldingToASCII checks the premise of the input mapping: the only
// non-ASCII runes whose case folding reaches an ASCII letter are U+212A
// and U+017F.
func TestFoldingToASCII(t *testing.T) {
	var got []rune
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < 0x80 {
				got = append(got, r)
				break
			}
		}
	}
	if len(got) != 2 || got[0] != 0x017f || got[1] != 0x212a {
		t.Fatalf("non-ASCII runes folding to ASCII: %U", got)
	}
}

// checkSound fails when re matches s and f says it cannot.
func checkSound(t *testing.T, expr string, re *regexp.Regexp, f *Filter, s string) {
	t.Helper()
	if f != nil && !f.MayMatch(s) && re.MatchString(s) {
		t.Fatalf("unsound filter %s of %q: says no for %q, which matches", f, expr, s)
	}
}

// FuzzFilter: for any regular expression and input, the filter never
// says "cannot match" when the regular expression matches. Seeds:
// testdata/fuzz/FuzzFilter.
func FuzzFilter(f *testing.F) {
	f.Add(`(?i)union\s+select`, "1 UNION SELECT 2")
	f.Add(`(?:foo|bar)\s*\(`, "bar (x)")
	f.Add(`(?i)k[^a]?s`, "\u212a\u017f")
	f.Fuzz(func(t *testing.T, expr, input string) {
		if len(expr) > 200 || strings.Contains(expr, "{") && len(expr) > 50 {
			return // keep compile times small
		}
		for _, prefix := range []string{"", "(?s)", "(?sm)", "(?i)"} {
			re, err := regexp.Compile(prefix + expr)
			if err != nil {
				return
			}
			flt, err := Compile(prefix+expr, syntax.Perl)
			if err != nil {
				t.Fatalf("regexp compiles %q, the filter does not: %v", expr, err)
			}
			checkSound(t, prefix+expr, re, flt, input)
			// Every match found is itself an input the filter must accept.
			for _, m := range re.FindAllString(input, 4) {
				checkSound(t, prefix+expr, re, flt, m)
			}
		}
	})
}

// TestCompileBytes: byte regular expressions (rsc.io/binaryregexp) get the
// same literals, non-ASCII bytes are unknown, and counts may include them.
func TestCompileBytes(t *testing.T) {
	for _, tc := range []struct {
		name, expr, want string
	}{
		{"literal", `(?i)select\xac`, `"select"`},
		{"control bytes", `\xac\xed\x00\x05`, `"\x00\x05"; 4 of "\x00\x05\xac\xed"`},
		{"bytes counted", `(?:(?:[!-/]|\xc2\xb4)[^!-/]*?){3}`, `+; 3 of "!\x22#$%&'()*+,-./\xb4\xc2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := CompileBytes(tc.expr, bsyntax.Perl)
			if err != nil || f == nil {
				t.Fatalf("CompileBytes(%q) = %v, %v", tc.expr, f, err)
			}
			if got := f.String(); got != tc.want {
				t.Fatalf("CompileBytes(%q) = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
}

// FuzzFilterBytes is FuzzFilter for byte regular expressions. Seeds:
// testdata/fuzz/FuzzFilterBytes.
func FuzzFilterBytes(f *testing.F) {
	f.Add(`(?:(?:[!-/]|\xc2\xb4)[^!-/]*?){3}`, "a\xc2\xb4b!c#")
	f.Add(`(?i)\xe0bc`, "\xc0BC")
	f.Fuzz(func(t *testing.T, expr, input string) {
		if len(expr) > 200 || strings.Contains(expr, "{") && len(expr) > 50 {
			return
		}
		re, err := binaryregexp.Compile(expr)
		if err != nil {
			return
		}
		flt, err := CompileBytes(expr, bsyntax.Perl)
		if err != nil {
			t.Fatalf("binaryregexp compiles %q, the filter does not: %v", expr, err)
		}
		if flt == nil {
			return
		}
		for _, s := range append([]string{input}, re.FindAllString(input, 4)...) {
			if !flt.MayMatch(s) && re.MatchString(s) {
				t.Fatalf("unsound filter %s of %q: says no for %q, which matches", flt, expr, s)
			}
		}
	})
}
