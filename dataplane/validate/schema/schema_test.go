package schema

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
	"github.com/valyala/fastjson"
)

func mustRead(t testing.TB, doc string) *fastjson.Value {
	t.Helper()
	var r jsonbody.Reader
	v, err := r.Read([]byte(doc), 0)
	if err != nil {
		t.Fatalf("read %s: %v", doc, err)
	}
	return v
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		want         []string // each must appear in the error, in order
	}{
		{"unsupported keyword nested", `{"properties":{"items":{"unevaluatedItems":false}}}`,
			[]string{"compile schema: /properties/items/unevaluatedItems: keyword not supported"}},
		{"unsupported keyword at root", `{"dependentSchemas":{}}`, []string{"compile schema: /dependentSchemas: keyword not supported"}},
		{"every error is reported", `{"$dynamicRef":"#x","items":{"contentEncoding":"base64"},"minLength":-1}`,
			[]string{"/$dynamicRef: keyword not supported", "/items/contentEncoding: keyword not supported", "/minLength: must be a non-negative integer"}},
		{"draft 7 keywords", `{"definitions":{},"dependencies":{}}`, []string{"/definitions: keyword not supported", "/dependencies: keyword not supported"}},
		{"OpenAPI 3.0 nullable", `{"type":"string","nullable":true}`, []string{"/nullable: keyword not supported"}},
		{"unsupported format", `{"format":"idn-email"}`, []string{`compile schema: /format: format "idn-email" not supported`}},
		{"escaped location", `{"properties":{"a/b~c":{"$recursiveRef":"#"}}}`, []string{"/properties/a~1b~0c/$recursiveRef: keyword not supported"}},
		{"items array form", `{"items":[{}]}`, []string{"/items: must be a schema (the array form"}},
		{"ECMA lookahead", `{"pattern":"^(?=a)"}`, []string{"/pattern: pattern not supported by Go's RE2"}},
		{"ECMA backreference", `{"patternProperties":{"(a)\\1":{}}}`, []string{`/patternProperties/(a)\1: pattern not supported`}},
		{"ECMA \\u escape", `{"pattern":"\\u0041"}`, []string{"/pattern: pattern not supported"}},
		{"remote ref", `{"$ref":"https://example.com/s.json"}`, []string{`/$ref: reference "https://example.com/s.json" is not in this document`}},
		{"missing pointer", `{"$ref":"#/$defs/nope"}`, []string{`/$ref: reference "#/$defs/nope": no value at "/$defs/nope"`}},
		{"missing anchor", `{"$ref":"#nope"}`, []string{`/$ref: reference "#nope": no $anchor "nope"`}},
		{"ref cycle", `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}`,
			[]string{"reference cycle that never descends into the instance"}},
		{"self ref", `{"$ref":"#"}`, []string{"(document root): reference cycle"}},
		{"other dialect", `{"$schema":"http://json-schema.org/draft-07/schema#"}`, []string{`/$schema: dialect "http://json-schema.org/draft-07/schema#" not supported`}},
		{"bad type name", `{"type":"int"}`, []string{`/type: unknown type "int"`}},
		{"duplicate required", `{"required":["a","a"]}`, []string{`/required/1: "a" listed twice`}},
		{"multipleOf zero", `{"multipleOf":0}`, []string{"/multipleOf: must be greater than 0"}},
		{"minimum not a number", `{"minimum":"1"}`, []string{"/minimum: must be a number"}},
		{"fractional size", `{"maxItems":1.5}`, []string{"/maxItems: must be a non-negative integer"}},
		{"empty allOf", `{"allOf":[]}`, []string{"/allOf: must be a non-empty array of schemas"}},
		{"schema not an object", `{"properties":{"a":1}}`, []string{"/properties/a: schema must be an object or a boolean, not number"}},
		{"root not a schema", `[]`, []string{"(document root): schema must be an object or a boolean"}},
		{"id with fragment", `{"$id":"http://a.example/s#frag"}`, []string{"/$id: must not have a fragment"}},
		{"id resolving to no URL", `{"$id":"//000000000::"}`, []string{"/$id: invalid URI reference"}},
		{"ref resolving to no URL", `{"$ref":"//0::/x"}`, []string{`/$ref: invalid URI reference "//0::/x"`}},
		{"bad anchor", `{"$anchor":"1x"}`, []string{`/$anchor: invalid anchor name "1x"`}},
		{"malformed document", `{"type":"string",}`, []string{"compile schema: read json body: json_malformed"}},
		{"duplicate key in document", `{"type":"string","type":"integer"}`, []string{"compile schema: read json body: json_duplicate_key"}},
		{"unknown keyword in unused $defs", `{"$defs":{"x":{"discriminator":{}}}}`, []string{"/$defs/x/discriminator: keyword not supported"}},
		{"then without if still checked", `{"then":{"foo":1}}`, []string{"/then/foo: keyword not supported"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]byte(tc.schema))
			if err == nil {
				t.Fatalf("Compile(%s) succeeded", tc.schema)
			}
			msg := err.Error()
			for _, w := range tc.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Fatalf("Compile(%s) = %q; want it to contain %q", tc.schema, msg, w)
				}
				msg = msg[i+len(w):]
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "compile schema: ") {
					t.Errorf("error line %q does not start with \"compile schema: \"", line)
				}
			}
		})
	}
}

func TestViolations(t *testing.T) {
	for _, tc := range []struct {
		name, schema, doc string
		want              []Violation
	}{
		{"valid", `{"type":"object"}`, `{}`, nil},
		{"type", `{"type":["integer","null"]}`, `1.5`, []Violation{{"", "type: expected integer or null"}}},
		{"integer accepts 1.0", `{"type":"integer"}`, `1.0`, nil},
		{"nested property pointer", `{"properties":{"a":{"properties":{"b/c":{"type":"string"}}}}}`, `{"a":{"b/c":1}}`,
			[]Violation{{"/a/b~1c", "type: expected string"}}},
		{"array index pointer", `{"items":{"minimum":0}}`, `[1,-1,2,-3]`,
			[]Violation{{"/1", "minimum: less than 0"}, {"/3", "minimum: less than 0"}}},
		{"prefixItems and items false", `{"prefixItems":[{"type":"string"}],"items":false}`, `["a",1]`,
			[]Violation{{"/1", "items: item not allowed"}}},
		{"required from schema", `{"required":["name","id"]}`, `{"id":1}`, []Violation{{"", `required: missing property "name"`}}},
		{"dependentRequired", `{"dependentRequired":{"card":["cvv"]}}`, `{"card":"x"}`,
			[]Violation{{"", `dependentRequired: property "card" requires "cvv"`}}},
		{"additional property at parent, unnamed", `{"properties":{"o":{"properties":{"a":{}},"additionalProperties":false}}}`, `{"o":{"a":1,"secret-name":2}}`,
			[]Violation{{"/o", "additionalProperties: property not allowed"}}},
		{"additional property schema at parent", `{"additionalProperties":{"type":"integer"}}`, `{"leak-me":"x"}`,
			[]Violation{{"", "type: expected integer"}}},
		{"pattern property at parent", `{"patternProperties":{"^x-":{"type":"integer"}}}`, `{"x-leak":{"deep":"x"}}`,
			[]Violation{{"", "type: expected integer"}}},
		{"nested under pattern property stays at parent", `{"patternProperties":{"^x":{"properties":{"a":{"type":"integer"}}}}}`, `{"xsecret":{"a":"s"}}`,
			[]Violation{{"", "type: expected integer"}}},
		{"propertyNames at object", `{"propertyNames":{"pattern":"^[a-z]+$"}}`, `{"ok":1,"NOT-OK":2}`,
			[]Violation{{"", "propertyNames: property name not allowed"}}},
		{"propertyNames with const and enum", `{"propertyNames":{"enum":["a","b"]}}`, `{"a":1,"b":2}`, nil},
		{"propertyNames type", `{"propertyNames":{"type":"integer"}}`, `{"1":1}`, []Violation{{"", "propertyNames: property name not allowed"}}},
		{"string lengths in code points", `{"minLength":3,"maxLength":3}`, `"€😀é"`, nil},
		{"minLength", `{"minLength":4}`, `"€😀é"`, []Violation{{"", "minLength: shorter than 4 characters"}}},
		{"maxLength", `{"maxLength":2}`, `"€😀é"`, []Violation{{"", "maxLength: longer than 2 characters"}}},
		{"minLength saturated", `{"minLength":1000000000000000000}`, `"abc"`,
			[]Violation{{"", "minLength: shorter than 9223372036854775807 characters"}}},
		{"minLength beyond int64", `{"minLength":18446744073709551617}`, `"abc"`,
			[]Violation{{"", "minLength: shorter than 9223372036854775807 characters"}}},
		{"pattern unanchored", `{"pattern":"b+"}`, `"abbc"`, nil},
		{"pattern", `{"pattern":"^[a-z]+$"}`, `"abc1"`, []Violation{{"", "pattern: does not match ^[a-z]+$"}}},
		{"format", `{"format":"uuid"}`, `"x"`, []Violation{{"", "format: not a valid uuid"}}},
		{"format ignores non-strings", `{"format":"email"}`, `12`, nil},
		{"numeric bounds", `{"minimum":1,"maximum":5,"exclusiveMinimum":1,"exclusiveMaximum":5}`, `5`,
			[]Violation{{"", "exclusiveMaximum: not less than 5"}}},
		{"exclusiveMinimum", `{"exclusiveMinimum":1.5}`, `1.5`, []Violation{{"", "exclusiveMinimum: not greater than 1.5"}}},
		{"bounds exact beyond float64", `{"maximum":9007199254740993}`, `9007199254740994`,
			[]Violation{{"", "maximum: greater than 9007199254740993"}}},
		{"multipleOf decimal exact", `{"multipleOf":0.01}`, `19.99`, nil},
		{"multipleOf decimal inexact in float", `{"multipleOf":0.1}`, `0.3`, nil},
		{"multipleOf fails", `{"multipleOf":0.01}`, `19.999`, []Violation{{"", "multipleOf: not a multiple of 0.01"}}},
		{"multipleOf huge exponent", `{"multipleOf":7}`, `1e400`, []Violation{{"", "multipleOf: not a multiple of 7"}}},
		{"multipleOf huge exponent ok", `{"multipleOf":5}`, `1e400`, nil},
		{"enum canonical", `{"enum":[{"a":[1,2.0]},"x"]}`, `{"a":[1.0,2]}`, nil},
		{"enum", `{"enum":["a","b"]}`, `"c"`, []Violation{{"", "enum: value not in the list"}}},
		{"enum distinguishes false and 0", `{"enum":[false]}`, `0`, []Violation{{"", "enum: value not in the list"}}},
		{"const", `{"const":{"a":1}}`, `{"a":1,"b":2}`, []Violation{{"", "const: value differs from the constant"}}},
		{"uniqueItems", `{"uniqueItems":true}`, `[{"a":1,"b":[1]},{"b":[1.0],"a":1}]`, []Violation{{"", "uniqueItems: items are not unique"}}},
		{"uniqueItems hashed", `{"uniqueItems":true}`, `[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,{"x":[1,2]},{"x":[1,2.0]}]`,
			[]Violation{{"", "uniqueItems: items are not unique"}}},
		{"uniqueItems hashed distinct", `{"uniqueItems":true}`, `[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,1.5,"1",[1],{"1":1},true,false,null]`, nil},
		{"contains", `{"contains":{"const":1}}`, `[2,3]`, []Violation{{"", "contains: no item matches"}}},
		{"minContains", `{"contains":{"const":1},"minContains":2}`, `[1,3]`, []Violation{{"", "minContains: fewer than 2 matching items"}}},
		{"maxContains", `{"contains":{"const":1},"maxContains":1}`, `[1,1]`, []Violation{{"", "maxContains: more than 1 matching items"}}},
		{"minItems maxItems", `{"minItems":2,"maxItems":1}`, `[1]`, []Violation{{"", "minItems: fewer than 2 items"}}},
		{"min and maxProperties", `{"minProperties":2,"maxProperties":0}`, `{"a":1}`,
			[]Violation{{"", "minProperties: fewer than 2 properties"}, {"", "maxProperties: more than 0 properties"}}},
		{"allOf reports details", `{"allOf":[{"properties":{"a":{"type":"string"}}},{"required":["b"]}]}`, `{"a":1}`,
			[]Violation{{"/a", "type: expected string"}, {"", `required: missing property "b"`}}},
		{"anyOf", `{"anyOf":[{"type":"string"},{"minimum":5}]}`, `1`, []Violation{{"", "anyOf: no subschema matches"}}},
		{"oneOf none", `{"oneOf":[{"type":"string"},{"minimum":5}]}`, `1`, []Violation{{"", "oneOf: no subschema matches"}}},
		{"oneOf many", `{"oneOf":[{"type":"integer"},{"minimum":0}]}`, `1`, []Violation{{"", "oneOf: more than one subschema matches"}}},
		{"not", `{"not":{"type":"null"}}`, `null`, []Violation{{"", "not: value matches the excluded schema"}}},
		{"if then", `{"if":{"properties":{"kind":{"const":"card"}}},"then":{"required":["number"]},"else":{"required":["iban"]}}`,
			`{"kind":"card"}`, []Violation{{"", `required: missing property "number"`}}},
		{"if else", `{"if":{"properties":{"kind":{"const":"card"}}},"then":{"required":["number"]},"else":{"required":["iban"]}}`,
			`{"kind":"sepa"}`, []Violation{{"", `required: missing property "iban"`}}},
		{"false schema", `{"properties":{"a":false}}`, `{"a":1}`, []Violation{{"/a", "false: no value allowed"}}},
		{"ref with siblings", `{"$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s","maxLength":1}}}`, `{"a":"xy"}`,
			[]Violation{{"/a", "maxLength: longer than 1 characters"}}},
		{"anchor ref", `{"$defs":{"s":{"$anchor":"str","type":"string"}},"items":{"$ref":"#str"}}`, `["a",1]`,
			[]Violation{{"/1", "type: expected string"}}},
		{"recursive tree", `{"$id":"https://example.com/tree","type":"object","required":["v"],"properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"tree"}}}}`,
			`{"v":1,"kids":[{"v":2,"kids":[{"v":"x"}]},{"kids":[]}]}`,
			[]Violation{{"/kids/0/kids/0/v", "type: expected integer"}, {"/kids/1", `required: missing property "v"`}}},
		{"bounded", `{"items":{"type":"string"}}`, `[1,2,3,4,5,6,7,8,9,10,11,12]`, []Violation{
			{"/0", "type: expected string"}, {"/1", "type: expected string"}, {"/2", "type: expected string"}, {"/3", "type: expected string"},
			{"/4", "type: expected string"}, {"/5", "type: expected string"}, {"/6", "type: expected string"}, {"/7", "type: expected string"}}},
		{"annotations have no effect", `{"title":"t","description":"d","default":1,"examples":[1],"deprecated":true,"readOnly":true,"writeOnly":true,"$comment":"c","$schema":"https://json-schema.org/draft/2020-12/schema"}`, `"x"`, nil},
		{"boolean true schema", `true`, `{"a":[1]}`, nil},
		{"boolean false schema", `false`, `{}`, []Violation{{"", "false: no value allowed"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile([]byte(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			v := mustRead(t, tc.doc)
			got := s.Validate(v, nil)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Validate(%s, %s) =\n  %q\nwant\n  %q", tc.schema, tc.doc, got, tc.want)
			}
			if s.Valid(v) != (len(tc.want) == 0) {
				t.Errorf("Valid = %v", s.Valid(v))
			}
		})
	}
}

// TestValidateAppends checks that Validate appends to dst and that the
// bound applies per call.
func TestValidateAppends(t *testing.T) {
	s, err := Compile([]byte(`{"items":{"type":"string"}}`))
	if err != nil {
		t.Fatal(err)
	}
	v := mustRead(t, `[1,2,3,4,5,6,7,8,9,10]`)
	dst := []Violation{{"/x", "earlier"}}
	dst = s.Validate(v, dst)
	if len(dst) != 1+MaxViolations || dst[0].Reason != "earlier" {
		t.Fatalf("Validate appended %d: %v", len(dst)-1, dst)
	}
}

func TestCompileAt(t *testing.T) {
	openapi := `{
	  "openapi": "3.1.0",
	  "info": {"title": "shop", "version": "1"},
	  "paths": {"/orders": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}}}}},
	  "components": {"schemas": {
	    "Order": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}},
	    "Item": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}, "sub": {"$ref": "#/components/schemas/Item"}}},
	    "Broken": {"type": "object", "x-internal": true}
	  }}
	}`
	s, err := CompileAt([]byte(openapi), "/components/schemas/Order")
	if err != nil {
		t.Fatal(err)
	}
	if s.Location() != "/components/schemas/Order" {
		t.Errorf("Location() = %q", s.Location())
	}
	got := s.Validate(mustRead(t, `{"items":[{"sku":"a","sub":{"sku":1}},{}]}`), nil)
	want := []Violation{{"/items/0/sub/sku", "type: expected string"}, {"/items/1", `required: missing property "sku"`}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate = %q; want %q", got, want)
	}
	// The request body's schema, reached through its own $ref.
	s2, err := CompileAt([]byte(openapi), "#/paths/~1orders/post/requestBody/content/application~1json/schema")
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Validate(mustRead(t, `{}`), nil); len(got) != 1 || got[0].Reason != `required: missing property "items"` {
		t.Errorf("Validate through the operation = %q", got)
	}
	// Errors name pointers into the whole document.
	_, err = CompileAt([]byte(openapi), "/components/schemas/Broken")
	if err == nil || !strings.Contains(err.Error(), "compile schema: /components/schemas/Broken/x-internal: keyword not supported") {
		t.Errorf("CompileAt(Broken) = %v", err)
	}
	if _, err := CompileAt([]byte(openapi), "/components/schemas/Nope"); err == nil || !strings.Contains(err.Error(), `compile schema: pointer "/components/schemas/Nope"`) {
		t.Errorf("CompileAt(Nope) = %v", err)
	}
	// A reference to the document root is to a non-schema here.
	if _, err := CompileAt([]byte(`{"a":{"$ref":"#"},"info":{}}`), "/a"); err == nil {
		t.Error("a $ref to an OpenAPI document's root compiled")
	}
}

func TestConcurrentValidate(t *testing.T) {
	in := loadBench(t)
	s, err := Compile(in.schema)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p jsonbody.Pool
			for i := range 200 {
				r := p.Get()
				body := in.valid
				if (g+i)%2 == 1 {
					body = in.invalid
				}
				v, err := r.Read(body, 0)
				if err != nil {
					t.Error(err)
					return
				}
				got := s.Validate(v, nil)
				if (len(got) == 0) != ((g+i)%2 == 0) {
					t.Errorf("goroutine %d run %d: %v", g, i, got)
				}
				p.Put(r)
			}
		}()
	}
	wg.Wait()
}

// TestInvalidOrder pins what the 400 response for the benchmark's invalid
// order would list.
func TestInvalidOrder(t *testing.T) {
	in := loadBench(t)
	s, err := Compile(in.schema)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Validate(mustRead(t, string(in.invalid)), nil)
	want := []Violation{
		{"/id", "format: not a valid uuid"},
		{"/customer/name", "minLength: shorter than 1 characters"},
		{"/customer/email", "format: not a valid email"},
		{"/customer/address", `required: missing property "country"`},
		{"/status", "enum: value not in the list"},
		{"/currency", "pattern: does not match ^[A-Z]{3}$"},
		{"/created_at", "format: not a valid date-time"},
		{"/delivery_date", "format: not a valid date"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate(invalid order) =\n%s", fmt.Sprintf("%q", got))
	}
}

// TestWorkBudget: a recursive schema whose oneOf branches both descend into
// the same children costs 2^depth checks; the budget refuses such a
// document quickly instead.
func TestWorkBudget(t *testing.T) {
	s, err := Compile([]byte(`{"oneOf":[
		{"properties":{"c":{"$ref":"#"}},"not":{"required":["b"]}},
		{"properties":{"c":{"$ref":"#"}},"not":{"required":["a"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Repeat(`{"c":`, 60) + `{"a":1}` + strings.Repeat(`,"a":1}`, 60)
	v := mustRead(t, doc)
	start := time.Now()
	got := s.Validate(v, nil)
	if len(got) == 0 || got[len(got)-1].Reason != ReasonTooCostly {
		t.Errorf("Validate = %q; want %q last", got, ReasonTooCostly)
	}
	if s.Valid(v) {
		t.Error("Valid = true past the budget")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	// A shallow document of the same shape is within budget and valid.
	shallow := mustRead(t, strings.Repeat(`{"c":`, 5)+`{"a":1}`+strings.Repeat(`,"a":1}`, 5))
	if got := s.Validate(shallow, nil); len(got) != 0 {
		t.Errorf("shallow: %q", got)
	}
}

// TestCompileAtOutsideRefs: a schema compiled at a pointer reaches $anchor
// and $id targets elsewhere in the document, as it reaches JSON pointers;
// anchors in data (const, enum, default, examples) are not targets, and
// errors in parts never reached are not reported.
func TestCompileAtOutsideRefs(t *testing.T) {
	doc := `{"$defs": {
	  "node": {"$anchor": "node", "type": "object", "required": ["id"]},
	  "byid": {"$id": "https://example.test/tag", "type": "string", "maxLength": 3},
	  "anc2": {"type": "object", "properties": {"n": {"$ref": "#node"}, "t": {"$ref": "https://example.test/tag"}}},
	  "data": {"const": {"$anchor": "fake"}},
	  "fake": {"type": "object", "properties": {"f": {"$ref": "#fake"}}},
	  "broken": {"x-unknown": 1}
	}}`
	s, err := CompileAt([]byte(doc), "/$defs/anc2")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Validate(mustRead(t, `{"n":{},"t":"long"}`), nil)
	want := []Violation{{"/n", `required: missing property "id"`}, {"/t", "maxLength: 4 code points, at most 3"}}
	if len(got) != 2 || got[0].Pointer != want[0].Pointer || got[1].Pointer != want[1].Pointer {
		t.Errorf("Validate = %q; want violations at /n and /t", got)
	}
	if _, err := CompileAt([]byte(doc), "/$defs/fake"); err == nil || !strings.Contains(err.Error(), `no $anchor "fake"`) {
		t.Errorf("an anchor inside const resolved: %v", err)
	}
}
