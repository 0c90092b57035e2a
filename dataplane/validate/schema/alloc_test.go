//go:build !race

package schema

import (
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
)

// allocCases are valid documents whose validation must not allocate: the
// benchmark order, and one case per keyword family that has a fast path.
var allocCases = []struct {
	name, schema, doc string
}{
	{"numbers", `{"type":"integer","minimum":1,"exclusiveMaximum":1e3,"multipleOf":3}`, `999`},
	{"big multipleOf", `{"multipleOf":0.0001}`, `12345678901234567.0075`},
	{"strings", `{"type":"string","minLength":2,"maxLength":10,"pattern":"^h","format":"hostname"}`, `"hello"`},
	{"formats", `{"prefixItems":[{"format":"email"},{"format":"uuid"},{"format":"date-time"},{"format":"date"},{"format":"time"},{"format":"ipv4"},{"format":"ipv6"},{"format":"hostname"},{"format":"uri"}]}`,
		`["a@b.example","2eb8aa08-aa98-11ea-b4aa-73b441d16380","2026-01-02T03:04:05.6+01:00","2024-02-29","23:59:60Z","10.0.0.1","::ffff:10.0.0.1","xn--ll-0ea.example","https://a.example/p?q#f"]`},
	{"enum and const", `{"enum":[1,"a",{"k":[1.0,null]}],"allOf":[{"const":{"k":[1,null]}}]}`, `{"k":[1e0,null]}`},
	{"uniqueItems pairwise", `{"uniqueItems":true}`, `[1,2,"a",{"a":1},{"a":2},[1],[2]]`},
	{"uniqueItems hashed", `{"uniqueItems":true}`, `[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,{"a":1},{"a":2},"x","y"]`},
	{"contains", `{"contains":{"type":"integer"},"minContains":2,"maxContains":3}`, `["a",1,2,"b"]`},
	{"objects", `{"required":["a"],"dependentRequired":{"a":["b"]},"properties":{"a":{"type":"integer"}},"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":{"type":"boolean"},"propertyNames":{"maxLength":5},"minProperties":1,"maxProperties":5}`,
		`{"a":1,"b":true,"x-y":"z"}`},
	{"applicators", `{"anyOf":[{"type":"string"},{"type":"integer"}],"oneOf":[{"minimum":5},{"maximum":2}],"not":{"const":3},"if":{"minimum":6},"then":{"maximum":7},"else":{"minimum":0}}`, `7`},
	{"recursive ref", `{"$defs":{"t":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/$defs/t"}}}}},"$ref":"#/$defs/t"}`,
		`{"children":[{"children":[{"children":[]}]},{}]}`},
}

func TestValidateAllocs(t *testing.T) {
	in := loadBench(t)
	cases := append(allocCases[:len(allocCases):len(allocCases)], struct{ name, schema, doc string }{
		"order 1 KB", string(in.schema), string(in.valid),
	})
	for _, tc := range cases {
		s, err := Compile([]byte(tc.schema))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var r jsonbody.Reader
		v, err := r.Read([]byte(tc.doc), 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := s.Validate(v, nil); len(got) != 0 {
			t.Fatalf("%s: not valid: %v", tc.name, got)
		}
		var dst []Violation
		if n := testing.AllocsPerRun(100, func() { dst = s.Validate(v, dst[:0]) }); n != 0 {
			t.Errorf("Validate(%s) allocates %v times per run; want 0", tc.name, n)
		}
		if n := testing.AllocsPerRun(100, func() { s.Valid(v) }); n != 0 {
			t.Errorf("Valid(%s) allocates %v times per run; want 0", tc.name, n)
		}
		body := []byte(tc.doc)
		if n := testing.AllocsPerRun(100, func() {
			v, _ := r.Read(body, 0)
			dst = s.Validate(v, dst[:0])
		}); n != 0 {
			t.Errorf("Read+Validate(%s) allocates %v times per run; want 0", tc.name, n)
		}
	}
}

// TestValidInvalidAllocs: Valid on an invalid document stops at the first
// failure and, like every non-collecting check, builds no pointer.
func TestValidInvalidAllocs(t *testing.T) {
	in := loadBench(t)
	s, err := Compile(in.schema)
	if err != nil {
		t.Fatal(err)
	}
	var r jsonbody.Reader
	v, err := r.Read(in.invalid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { s.Valid(v) }); n != 0 {
		t.Errorf("Valid(invalid order) allocates %v times per run; want 0", n)
	}
}
