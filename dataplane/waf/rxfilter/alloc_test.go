//go:build !race

package rxfilter

import (
	"regexp/syntax"
	"testing"
)

// TestMayMatchAllocatesNothing: the check runs for every rule and input.
func TestMayMatchAllocatesNothing(t *testing.T) {
	for _, e := range benchExprs {
		f, err := Compile("(?sm)"+e.expr, syntax.Perl)
		if err != nil || f == nil {
			t.Fatal(e.name, err)
		}
		for _, in := range []string{benchValue, "1 union select 2", "concat( select"} {
			if n := testing.AllocsPerRun(100, func() { f.MayMatch(in) }); n != 0 {
				t.Errorf("%s on %q: %v allocations", e.name, in, n)
			}
		}
	}
}
