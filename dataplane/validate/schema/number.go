package schema

import (
	"bytes"
	"math/big"
	"math/bits"
)

// decimal is a JSON number held exactly: the value is ±0.digits × 10^exp,
// with no leading or trailing zeros in digits. Zero has no digits. Numbers
// are compared and divided in this form, never through float64, so 1.0 is
// an integer, 0.0075 is a multiple of 0.0001, and integers beyond 2^53 keep
// their last digits.
type decimal struct {
	neg    bool
	digits []byte
	exp    int64
}

// maxExp bounds the exponent a number may be written with, so that the
// exponents held (that one plus the body's length at most) and their
// differences (isMultipleOf) fit in an int64 exactly. A larger exponent is
// refused rather than saturated: two saturated exponents would compare
// equal, and 1e(2^56+1) would pass a maximum of 1e(2^56). No system
// represents such a number; a schema may not use one.
const maxExp = 1 << 56

// parseDecimal reads the JSON number text b, reusing b's memory for the
// digits. It reports false for text that is not a JSON number (fastjson
// accepts NaN and Inf when the value did not come through jsonbody), and
// for an exponent beyond ±maxExp.
func parseDecimal(b []byte) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(b) && b[i] == '-' {
		d.neg = true
		i++
	}
	w := 0 // digits are compacted to b[:w]
	intDigits := 0
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		b[w] = b[i]
		w++
		i++
	}
	intDigits = i - start
	if intDigits == 0 || intDigits > 1 && b[0] == '0' { // the digits are compacted to b[0:]
		return decimal{}, false // no digits, or a leading zero ("01")
	}
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			b[w] = b[i]
			w++
			i++
		}
		if i == fs {
			return decimal{}, false
		}
	}
	var e int64
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if e <= maxExp { // 10*maxExp+9 fits in an int64
				e = e*10 + int64(b[i]-'0')
			}
			i++
		}
		if i == es || e > maxExp {
			return decimal{}, false
		}
		if eneg {
			e = -e
		}
	}
	if i != len(b) {
		return decimal{}, false
	}
	digits := b[:w]
	exp := e + int64(intDigits)
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
		exp--
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return decimal{}, true
	}
	d.digits = digits
	d.exp = exp
	return d, true
}

func (d decimal) isZero() bool { return len(d.digits) == 0 }

// isInteger reports whether d has no fractional part.
func (d decimal) isInteger() bool {
	return d.isZero() || d.exp >= int64(len(d.digits))
}

// cmpDecimal returns -1, 0 or +1 as a is less than, equal to or greater than b.
func cmpDecimal(a, b decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	if sa == 0 {
		return 0
	}
	m := cmpMagnitude(a, b)
	if sa < 0 {
		return -m
	}
	return m
}

func (d decimal) sign() int {
	switch {
	case d.isZero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

func cmpMagnitude(a, b decimal) int {
	switch {
	case a.exp < b.exp:
		return -1
	case a.exp > b.exp:
		return 1
	}
	// Same exponent: without trailing zeros, digit strings order as values.
	return bytes.Compare(a.digits, b.digits)
}

// isMultipleOf reports whether a / m is an integer, exactly; m > 0.
//
// With a = A × 10^ka and m = M × 10^km (A, M integers without trailing
// zeros), a/m = (A/M) × 10^(ka-km). If ka < km the quotient needs A to be
// a multiple of 10, which A is not; otherwise A × 10^(ka-km) mod M decides.
func isMultipleOf(a, m decimal) bool {
	if a.isZero() {
		return true
	}
	ka := a.exp - int64(len(a.digits))
	km := m.exp - int64(len(m.digits))
	if ka < km {
		return false
	}
	k := ka - km
	if len(m.digits) <= 19 {
		mv := digitsValue(m.digits)
		return mulMod(digitsMod(a.digits, mv), powMod(10, uint64(k), mv), mv) == 0
	}
	// Rare: a divisor with more than 19 significant digits. big.Int allocates.
	av, mv := new(big.Int), new(big.Int)
	av.SetString(string(a.digits), 10)
	mv.SetString(string(m.digits), 10)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(k), mv)
	av.Mul(av.Mod(av, mv), p)
	return av.Mod(av, mv).Sign() == 0
}

// digitsMod returns the decimal digits' value mod m, digit by digit, so an
// instance number of any length needs no big integer.
func digitsMod(digits []byte, m uint64) uint64 {
	var r uint64
	for _, c := range digits {
		hi, lo := bits.Mul64(r, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		hi += carry
		_, r = bits.Div64(hi, lo, m)
	}
	return r
}

func digitsValue(digits []byte) uint64 {
	var v uint64
	for _, c := range digits {
		v = v*10 + uint64(c-'0')
	}
	return v
}

// mulMod returns a*b mod m for a, b < m, through a 128-bit product.
func mulMod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, rem := bits.Div64(hi, lo, m)
	return rem
}

// powMod returns base^e mod m by squaring, so huge exponents cost log(e).
func powMod(base, e, m uint64) uint64 {
	if m == 1 {
		return 0
	}
	result := uint64(1)
	base %= m
	for e > 0 {
		if e&1 == 1 {
			result = mulMod(result, base, m)
		}
		base = mulMod(base, base, m)
		e >>= 1
	}
	return result
}

// decimalInt returns d as a non-negative int, saturating, for the size
// keywords (minLength and the like), and whether d is a non-negative
// integer at all.
func decimalInt(d decimal) (int, bool) {
	if d.neg && !d.isZero() || !d.isInteger() {
		return 0, false
	}
	if d.isZero() {
		return 0, true
	}
	if d.exp > 18 {
		return int(^uint(0) >> 1), true
	}
	v := 0
	for i := range int(d.exp) {
		v *= 10
		if i < len(d.digits) {
			v += int(d.digits[i] - '0')
		}
	}
	return v, true
}
