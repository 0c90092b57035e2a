package schema

import (
	"math/big"
	"testing"
)

func dec(t *testing.T, s string) decimal {
	t.Helper()
	d, ok := parseDecimal([]byte(s))
	if !ok {
		t.Fatalf("parseDecimal(%q) failed", s)
	}
	return d
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in     string
		neg    bool
		digits string
		exp    int64
	}{
		{"0", false, "", 0},
		{"-0", false, "", 0},
		{"0.000e10", false, "", 0},
		{"1", false, "1", 1},
		{"10", false, "1", 2},
		{"-10", true, "1", 2},
		{"-0.01", true, "1", -1},
		{"1.0", false, "1", 1},
		{"0.5", false, "5", 0},
		{"0.05", false, "5", -1},
		{"-12.340e2", true, "1234", 4},
		{"1E-3", false, "1", -2},
		{"123456789012345678901234567890", false, "12345678901234567890123456789", 30},
		{"1e72057594037927936", false, "1", maxExp + 1},
		{"1e-72057594037927936", false, "1", -maxExp + 1},
		{"0.0001e72057594037927936", false, "1", maxExp - 3},
		{"1e0000000000000000000000000000000000001", false, "1", 2},
	} {
		d := dec(t, tc.in)
		if d.neg != tc.neg || string(d.digits) != tc.digits || d.exp != tc.exp {
			t.Errorf("parseDecimal(%q) = %v %q %d; want %v %q %d", tc.in, d.neg, d.digits, d.exp, tc.neg, tc.digits, tc.exp)
		}
	}
	for _, bad := range []string{"", "-", "NaN", "inf", "-Inf", "1.", ".5", "1e", "1e+", "0x10", "1 ", "01", "-01", "00", "-00.5", "+1",
		"1e72057594037927937", "1e-72057594037927937", "1e999999999999999999999", "1e99999999999999999999999999999"} {
		if _, ok := parseDecimal([]byte(bad)); ok {
			t.Errorf("parseDecimal(%q) succeeded", bad)
		}
	}
}

func TestCmpDecimal(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1", "1.0", 0},
		{"0", "-0", 0},
		{"1", "2", -1},
		{"-1", "-2", 1},
		{"-1", "1", -1},
		{"0.1", "0.10000000000000001", -1},
		{"9007199254740993", "9007199254740992", 1},
		{"1e400", "1e399", 1},
		{"-1e400", "1e-400", -1},
		{"12", "123", -1},
		{"0.12", "0.123", -1},
		{"100", "99.999", 1},
	} {
		if got := cmpDecimal(dec(t, tc.a), dec(t, tc.b)); got != tc.want {
			t.Errorf("cmp(%s, %s) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
		if got := cmpDecimal(dec(t, tc.b), dec(t, tc.a)); got != -tc.want {
			t.Errorf("cmp(%s, %s) = %d; want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestIsInteger(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "1.0": true, "1e2": true, "1.5e1": true, "1.5": false, "1e-1": false,
		"12345678901234567890.0": true, "1.00000000000000000001": false, "-3": true,
	} {
		if got := dec(t, in).isInteger(); got != want {
			t.Errorf("isInteger(%s) = %v", in, got)
		}
	}
}

func TestIsMultipleOf(t *testing.T) {
	for _, tc := range []struct {
		a, m string
		want bool
	}{
		{"0", "7", true},
		{"10", "2", true},
		{"7", "2", false},
		{"0.0075", "0.0001", true},
		{"0.00751", "0.0001", false},
		{"0.3", "0.1", true},
		{"19.99", "0.01", true},
		{"4.5", "1.5", true},
		{"35", "1.5", false},
		{"1e308", "0.123456789", false},
		{"12391239123", "1e-8", true},
		{"1e400", "5", true},
		{"1e400", "3", false},
		{"-12", "4", true},
		{"1.5", "3", false},
		{"123456789012345678901234567890", "10", true},
		{"123456789012345678901234567891", "3", false},
		{"123456789012345678901234567890", "123456789012345678901234567890", true},
		{"246913578024691357802469135780", "123456789012345678901234567890", true},
		{"246913578024691357802469135781", "123456789012345678901234567890", false},
		{"18446744073709551615", "18446744073709551615", true},
		{"36893488147419103230", "18446744073709551615", true},
	} {
		if got := isMultipleOf(dec(t, tc.a), dec(t, tc.m)); got != tc.want {
			t.Errorf("isMultipleOf(%s, %s) = %v; want %v", tc.a, tc.m, got, tc.want)
		}
		// Cross-check with exact rationals.
		ra, _ := new(big.Rat).SetString(tc.a)
		rm, _ := new(big.Rat).SetString(tc.m)
		if len(tc.a) < 40 && !(tc.a == "1e400") {
			q := new(big.Rat).Quo(ra, rm)
			if q.IsInt() != tc.want {
				t.Errorf("table error: %s / %s integral = %v", tc.a, tc.m, q.IsInt())
			}
		}
	}
}

func TestDecimalInt(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "3": 3, "2.0": 2, "1e3": 1000, "1e30": int(^uint(0) >> 1)} {
		if got, ok := decimalInt(dec(t, in)); !ok || got != want {
			t.Errorf("decimalInt(%s) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{"-1", "1.5", "1e-1"} {
		if _, ok := decimalInt(dec(t, in)); ok {
			t.Errorf("decimalInt(%s) succeeded", in)
		}
	}
}
