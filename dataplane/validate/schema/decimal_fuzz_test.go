package schema

import (
	"math/big"
	"regexp"
	"testing"
)

// jsonNumber is RFC 8259's number grammar.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// smallExponent: numbers whose exponent big.Rat expands cheaply.
var smallExponent = regexp.MustCompile(`^[^eE]{0,60}([eE][-+]?0*[0-9]{0,3})?$`)

// FuzzDecimal: parseDecimal takes exactly the JSON numbers (exponents
// within ±maxExp), and comparison, integrality and multipleOf agree with
// exact rationals (math/big) wherever big.Rat can afford the exponent.
func FuzzDecimal(f *testing.F) {
	for _, s := range [][2]string{
		{"0.10000000000000001", "0.1"}, {"9007199254740993", "9007199254740992"}, {"19.99", "0.01"},
		{"0.3", "0.1"}, {"1e400", "3"}, {"-0", "0.0e5"}, {"12345678901234567.0075", "0.0001"},
		{"123456789012345678901234567890", "123456789012345678901234567890e-5"}, {"1e72057594037927936", "1e-72057594037927936"},
		{"1E+2", "1e-2"}, {"NaN", "Infinity"}, {"01", "1."},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, oka := parseDecimal([]byte(a))
		db, okb := parseDecimal([]byte(b))
		if jsonNumber.MatchString(a) && smallExponent.MatchString(a) && !oka {
			t.Fatalf("parseDecimal(%q) refused a JSON number", a)
		}
		if oka && !jsonNumber.MatchString(a) {
			t.Fatalf("parseDecimal(%q) took a non-number", a)
		}
		if !oka || !okb {
			return
		}
		if c := cmpDecimal(da, db); c != -cmpDecimal(db, da) {
			t.Fatalf("cmp(%s, %s) = %d is not antisymmetric", a, b, c)
		}
		if !smallExponent.MatchString(a) || !smallExponent.MatchString(b) {
			return
		}
		ra, _ := new(big.Rat).SetString(a)
		rb, _ := new(big.Rat).SetString(b)
		if ra == nil || rb == nil {
			t.Fatalf("big.Rat cannot read %q or %q", a, b)
		}
		if got, want := cmpDecimal(da, db), ra.Cmp(rb); got != want {
			t.Fatalf("cmp(%s, %s) = %d; want %d", a, b, got, want)
		}
		if got, want := da.isInteger(), ra.IsInt(); got != want {
			t.Fatalf("isInteger(%s) = %v; want %v", a, got, want)
		}
		if rb.Sign() > 0 {
			if got, want := isMultipleOf(da, db), new(big.Rat).Quo(ra, rb).IsInt(); got != want {
				t.Fatalf("isMultipleOf(%s, %s) = %v; want %v", a, b, got, want)
			}
		}
		// decimalInt saturates from 10^18 (it bounds sizes: minLength and
		// the like), and is exact below.
		if n, ok := decimalInt(da); ok && ra.Num().IsInt64() && ra.Num().Int64() < 1e18 && n != int(ra.Num().Int64()) {
			t.Fatalf("decimalInt(%s) = %d; want %s", a, n, ra.RatString())
		} else if ok && ra.Cmp(new(big.Rat).SetInt64(1e18)) >= 0 && n != int(^uint(0)>>1) {
			t.Fatalf("decimalInt(%s) = %d; want saturation", a, n)
		}
	})
}
