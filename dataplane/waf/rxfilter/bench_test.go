package rxfilter

import (
	"regexp"
	"regexp/syntax"
	"testing"
)

// benchExprs are shaped like CRS's: a large keyword alternation (one
// literal suffices), and keywords followed by syntax (an and of ors).
var benchExprs = []struct{ name, expr string }{
	{"any-of", `(?i)\b(?:s(?:elect|leep|ubstr)|u(?:nion|pdate)|insert|delete|drop|alter|exec(?:ute)?|benchmark|waitfor|having|order\s+by|group\s+by)\b`},
	{"and-or", `(?i)(?:concat|char|ascii|hex|unhex|bin|ord|substr(?:ing)?|mid|left|right)\s*\(\s*(?:select|0x|\d)`},
}

const benchValue = "Leave at the front desk; call if no answer. Happy birthday! Enjoy & see you soon :) 1200 Market Street, Suite 400"

func BenchmarkMayMatch(b *testing.B) {
	for _, e := range benchExprs {
		f, err := Compile("(?sm)"+e.expr, syntax.Perl)
		if err != nil || f == nil {
			b.Fatal(e.name, err)
		}
		re := regexp.MustCompile("(?sm)" + e.expr)
		b.Run(e.name+"/filter", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(benchValue)))
			for b.Loop() {
				if f.MayMatch(benchValue) {
					b.Fatal("benign value passes")
				}
			}
		})
		b.Run(e.name+"/regexp", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(benchValue)))
			for b.Loop() {
				if re.MatchString(benchValue) {
					b.Fatal("benign value matches")
				}
			}
		})
	}
}
