package schema

import (
	"strings"
	"testing"
)

// TestNumericKeywordsExact: the numeric keywords compare the instance's
// exact decimal value, never float64 (which rounds 0.10000000000000001 to
// 0.1 and 9007199254740993 to 2^53, and finds 19.99 not a multiple of
// 0.01).
func TestNumericKeywordsExact(t *testing.T) {
	for _, tc := range []struct {
		name, schema, doc string
		valid             bool
	}{
		{"maximum 0.1, just above, float rounds it down", `{"maximum":0.1}`, `0.10000000000000001`, false},
		{"maximum 0.1, equal written longer", `{"maximum":0.1}`, `0.1000000000000000000000`, true},
		{"maximum 0.1, just below", `{"maximum":0.1}`, `0.09999999999999999999`, true},
		{"maximum 2^53, 2^53+1", `{"maximum":9007199254740992}`, `9007199254740993`, false},
		{"maximum 2^53, 2^53+1 as exponent", `{"maximum":9007199254740992}`, `9.007199254740993e15`, false},
		{"maximum 2^53, equal", `{"maximum":9007199254740992}`, `9007199254740992.0`, true},
		{"exclusiveMaximum 2^53, equal", `{"exclusiveMaximum":9007199254740992}`, `9007199254740992`, false},
		{"minimum 2^53+1, 2^53", `{"minimum":9007199254740993}`, `9007199254740992`, false},
		{"exclusiveMinimum 0.1, just above", `{"exclusiveMinimum":0.1}`, `0.10000000000000001`, true},
		{"exclusiveMinimum 0.1, equal", `{"exclusiveMinimum":0.1}`, `1e-1`, false},
		{"minimum -0.1, just below", `{"minimum":-0.1}`, `-0.10000000000000001`, false},
		{"maximum int64 max, one above", `{"maximum":9223372036854775807}`, `9223372036854775808`, false},
		{"maximum 1e308, 1e309 (float: +Inf)", `{"maximum":1e308}`, `1e309`, false},
		{"minimum 1e-320, 0 (float: subnormal)", `{"exclusiveMinimum":0}`, `1e-400`, true},
		{"exclusiveMinimum 0, tiny negative", `{"exclusiveMinimum":0}`, `-1e-400`, false},
		{"maximum 1e400, 1e401", `{"maximum":1e400}`, `1e401`, false},
		// Exponents up to 2^56 are held exactly; beyond, a number is refused
		// wherever a number keyword applies (saturating them made
		// 1e(2^50+1) pass a maximum of 1e(2^50)).
		{"huge exponents stay ordered", `{"maximum":1e72057594037927935}`, `1e72057594037927936`, false},
		{"huge negative exponents stay ordered", `{"minimum":1e-72057594037927935}`, `1e-72057594037927936`, false},
		{"huge exponent, shifted digits equal", `{"maximum":1e72057594037927936}`, `10e72057594037927935`, true},
		{"huge exponent, fraction digits", `{"exclusiveMaximum":1e72057594037927936}`, `0.99999e72057594037927936`, true},
		{"exponent out of range, maximum", `{"maximum":1e300}`, `1e72057594037927937`, false},
		{"exponent out of range, minimum", `{"minimum":0}`, `-1e72057594037927937`, false},
		{"exponent out of range, tiny", `{"exclusiveMinimum":0}`, `1e-72057594037927937`, false},
		{"exponent out of range, type number", `{"type":"integer"}`, `1e99999999999999999999`, false},
		{"exponent out of range, no keyword", `{"type":"number"}`, `1e99999999999999999999`, true},
		{"exponent out of range, enum", `{"enum":[1,2]}`, `1e99999999999999999999`, false},
		{"exponent out of range, uniqueItems", `{"uniqueItems":true}`, `[1e99999999999999999999,1e99999999999999999999]`, false},
		{"exponent out of range, uniqueItems hashed", `{"uniqueItems":true}`,
			`[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,1e99999999999999999999,1e99999999999999999999]`, false},
		{"exponent out of range, two infinities", `{"uniqueItems":true}`, `[1e99999999999999999999,-1e99999999999999999999]`, true},
		{"exponent out of range, infinity and underflow", `{"uniqueItems":true}`, `[1e99999999999999999999,1e-99999999999999999999]`, true},
		{"exponent out of range, a zero mantissa is zero", `{"uniqueItems":true}`, `[0e99999999999999999999,1e-99999999999999999999]`, false},
		{"exponent out of range, two underflows", `{"uniqueItems":true}`, `[1e-99999999999999999999,-2e-99999999999999999999]`, false},
		{"exponent out of range, two infinities hashed", `{"uniqueItems":true}`,
			`[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,1e99999999999999999999,-1e99999999999999999999]`, true},
		{"multipleOf 0.01, 19.99", `{"multipleOf":0.01}`, `19.99`, true},
		{"multipleOf 0.01, 19.999", `{"multipleOf":0.01}`, `19.999`, false},
		{"multipleOf 0.1, 0.3 (float: 2.9999999999999996)", `{"multipleOf":0.1}`, `0.3`, true},
		{"multipleOf 0.01, 1e-17 off", `{"multipleOf":0.01}`, `19.99000000000000001`, false},
		{"multipleOf 2, 2^53+1", `{"multipleOf":2}`, `9007199254740993`, false},
		{"multipleOf 3, 1e400+...", `{"multipleOf":3}`, `3e400`, true},
		{"integer 2^53+0.5", `{"type":"integer"}`, `9007199254740992.5`, false},
		{"integer 1.0", `{"type":"integer"}`, `1.0`, true},
		{"integer 1e-400", `{"type":"integer"}`, `1e-400`, false},
		{"const 0.1 vs 0.10000000000000001", `{"const":0.1}`, `0.10000000000000001`, false},
		{"enum 2^53 vs 2^53+1", `{"enum":[9007199254740992]}`, `9007199254740993`, false},
		{"uniqueItems 2^53 and 2^53+1", `{"uniqueItems":true}`, `[9007199254740992,9007199254740993]`, true},
		{"uniqueItems 1 and 1.0", `{"uniqueItems":true}`, `[1,1.0]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Compile([]byte(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			v := mustRead(t, tc.doc)
			if got := s.Valid(v); got != tc.valid {
				t.Errorf("%s against %s: Valid = %v; want %v", tc.doc, tc.schema, got, tc.valid)
			}
			if got := len(s.Validate(v, nil)) == 0; got != tc.valid {
				t.Errorf("%s against %s: Validate valid = %v; want %v", tc.doc, tc.schema, got, tc.valid)
			}
		})
	}
}

// TestNumericKeywordsOutOfRange: a schema may not hold a number it cannot
// compare exactly; the error names the keyword.
func TestNumericKeywordsOutOfRange(t *testing.T) {
	for _, tc := range []struct{ name, schema, want string }{
		{"maximum", `{"maximum":1e72057594037927937}`, "/maximum: number out of range"},
		{"exclusiveMinimum", `{"exclusiveMinimum":-1e-99999999999999999999}`, "/exclusiveMinimum: number out of range"},
		{"multipleOf", `{"multipleOf":1e-72057594037927937}`, "/multipleOf: number out of range"},
		{"const", `{"const":{"a":[1,1e99999999999999999999]}}`, "/const/a/1: number out of range"},
		{"enum", `{"enum":[1,1e99999999999999999999]}`, "/enum/1: number out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]byte(tc.schema))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile(%s) = %v; want an error containing %q", tc.schema, err, tc.want)
			}
		})
	}
}
