package openapi

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// doc30 wraps paths (YAML, indented under "paths:") in a 3.0 document.
func doc30(paths string, extra ...string) string {
	return "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n" + paths + strings.Join(extra, "")
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string // substrings of the error, each on its own line
	}{
		{"not a document", "- a\n- b\n", []string{"openapi: (document root): the document must be an object, not array"}},
		{"swagger 2", "swagger: '2.0'\npaths: {}\n", []string{"openapi: /swagger: Swagger 2.0 is not supported"}},
		{"version", "openapi: 3.2.0\npaths: {}\n", []string{`openapi: /openapi: version "3.2.0" not supported`}},
		{"version missing", "paths: {}\n", []string{"openapi: /openapi: must be a version string"}},
		{"no operations", doc30("  {}\n"), []string{"openapi: /paths: no operations"}},
		{"malformed JSON", `{"openapi": "3.0.0",}`, []string{"openapi: parse JSON: read json body: json_malformed"}},
		{"duplicate JSON key", `{"openapi": "3.0.0", "openapi": "3.1.0"}`, []string{"json_duplicate_key"}},
		{"duplicate YAML key", "openapi: 3.0.0\nopenapi: 3.1.0\n", []string{`openapi: parse YAML: line 2: key "openapi" defined twice`}},
		{"YAML merge key", "openapi: 3.0.0\nx: &a {b: 1}\ny:\n  <<: *a\n", []string{"merge keys (<<) are not supported"}},
		{"YAML alias bomb", "openapi: 3.0.0\na: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
			"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
			[]string{"more than 1048576 values"}},
		{"YAML two documents", "openapi: 3.0.0\n---\nopenapi: 3.1.0\n", []string{"more than one document"}},
		{"YAML NaN", doc30("  /a:\n    get:\n      parameters:\n        - {name: a, in: query, schema: {maximum: .nan}}\n"), []string{"not a JSON number"}},
		{"deepObject", doc30("  /orders:\n    get:\n      parameters:\n        - name: filter\n          in: query\n          style: deepObject\n          schema: {type: object}\n"),
			[]string{"openapi: /paths/~1orders/get/parameters/0: style deepObject not supported (query parameters: form) (line 9)"}},
		{"pipeDelimited by $ref", doc30("  /orders:\n    get:\n      parameters:\n        - $ref: '#/components/parameters/P'\n",
			"components:\n  parameters:\n    P: {name: p, in: query, style: pipeDelimited, schema: {type: array, items: {type: string}}}\n"),
			[]string{"openapi: /components/parameters/P: style pipeDelimited not supported"}},
		{"matrix path", doc30("  /o/{id}:\n    get:\n      parameters:\n        - {name: id, in: path, required: true, style: matrix, schema: {type: string}}\n"),
			[]string{"openapi: /paths/~1o~1{id}/get/parameters/0: style matrix not supported (path parameters: simple)"}},
		{"object parameter", doc30("  /o:\n    get:\n      parameters:\n        - {name: f, in: query, schema: {type: object}}\n"),
			[]string{"openapi: /paths/~1o/get/parameters/0/schema: object parameters are not supported"}},
		{"array in path", doc30("  /o/{ids}:\n    get:\n      parameters:\n        - {name: ids, in: path, required: true, schema: {type: array, items: {type: integer}}}\n"),
			[]string{"array parameters are supported in the query only"}},
		{"array not exploded", doc30("  /o:\n    get:\n      parameters:\n        - {name: ids, in: query, explode: false, schema: {type: array, items: {type: integer}}}\n"),
			[]string{"explode false not supported for arrays"}},
		{"content parameter", doc30("  /o:\n    get:\n      parameters:\n        - {name: f, in: query, content: {application/json: {schema: {type: object}}}}\n"),
			[]string{"openapi: /paths/~1o/get/parameters/0/content: parameters with content are not supported"}},
		{"misspelt field", doc30("  /o:\n    get:\n      parameters:\n        - {name: f, in: query, requried: true, schema: {type: string}}\n"),
			[]string{"openapi: /paths/~1o/get/parameters/0/requried: unknown field"}},
		{"path variable without parameter", doc30("  /o/{id}:\n    get: {}\n"), []string{"openapi: /paths/~1o~1{id}/get: path variable {id} has no path parameter"}},
		{"path parameter without variable", doc30("  /o:\n    get:\n      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n"),
			[]string{`openapi: /paths/~1o/get/parameters/0: path parameter "id" is not a variable of the path template`}},
		{"path parameter not required", doc30("  /o/{id}:\n    get:\n      parameters:\n        - {name: id, in: path, required: false, schema: {type: string}}\n"),
			[]string{"a path parameter must be required"}},
		{"3.1 type list in 3.0", doc30("  /o:\n    get:\n      parameters:\n        - {name: q, in: query, schema: {type: [string, 'null']}}\n"),
			[]string{"openapi: /paths/~1o/get/parameters/0/schema/type: must be one type name in OpenAPI 3.0"}},
		{"path parameter without required", doc30("  /o/{id}:\n    get:\n      parameters:\n        - {name: id, in: path, schema: {type: string}}\n"),
			[]string{"openapi: /paths/~1o~1{id}/get/parameters/0/required: a path parameter must be required (required: true)"}},
		{"query parameters one name in another case", doc30("  /o:\n    get:\n      parameters:\n        - {name: id, in: query, schema: {type: string, pattern: '^[0-9]+$'}}\n        - {name: ID, in: query, schema: {type: string}}\n"),
			[]string{`openapi: /paths/~1o/get/parameters/1: query parameter "ID" and "id" are one name to upstreams`}},
		{"same template", doc30("  /o/{id}:\n    get:\n      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n" +
			"  /o/{key}:\n    get:\n      parameters: [{name: key, in: path, required: true, schema: {type: string}}]\n"),
			[]string{"openapi: /paths/~1o~1{key}: the same template as /paths/~1o~1{id}"}},
		{"two expressions in a segment", doc30("  /o/{a}-{b}:\n    get: {}\n"), []string{"one template expression per segment is supported"}},
		{"relative path", doc30("  o:\n    get: {}\n"), []string{"openapi: /paths/o: path template: must start with /"}},
		{"dot segment", doc30("  /a/../b:\n    get: {}\n"), []string{`dot segment ".."`}},
		{"duplicate parameter", doc30("  /o:\n    get:\n      parameters:\n        - {name: a, in: query, schema: {type: string}}\n        - {name: a, in: query, schema: {type: integer}}\n"),
			[]string{`openapi: /paths/~1o/get/parameters/1: parameter "a" in query declared twice`}},
		{"remote reference", doc30("  /o:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: 'other.yaml#/Pet'}\n"),
			[]string{`openapi: /paths/~1o/post/requestBody/content/application~1json/schema/$ref: reference "other.yaml#/Pet" not supported (only local references #/...)`}},
		{"dangling reference", doc30("  /o:\n    get:\n      parameters:\n        - $ref: '#/components/parameters/Nope'\n"),
			[]string{`reference "#/components/parameters/Nope": no value there`}},
		{"reference cycle", doc30("  /o:\n    get:\n      parameters:\n        - $ref: '#/components/parameters/A'\n",
			"components:\n  parameters:\n    A: {$ref: '#/components/parameters/B'}\n    B: {$ref: '#/components/parameters/A'}\n"),
			[]string{"reference chain too long or cyclic"}},
		{"$ref sibling in 3.0", doc30("  /o:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/A'\n              nullable: true\n",
			"components:\n  schemas:\n    A: {type: object}\n"),
			[]string{"openapi: /paths/~1o/post/requestBody/content/application~1json/schema/nullable: OpenAPI 3.0 ignores the siblings of $ref"}},
		{"unknown keyword", doc30("  /o:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/A'}\n",
			"components:\n  schemas:\n    A:\n      type: object\n      unevaluatedProperties: false\n"),
			[]string{"openapi: compile schema: /components/schemas/A/unevaluatedProperties: keyword not supported (line 14)"}},
		{"unknown format", doc30("  /o:\n    get:\n      parameters:\n        - {name: p, in: query, schema: {type: string, format: phone}}\n"),
			[]string{`openapi: compile schema: /paths/~1o/get/parameters/0/schema/format: format "phone" not supported (line 7)`}},
		{"ECMA pattern", doc30("  /o:\n    get:\n      parameters:\n        - {name: p, in: query, schema: {type: string, pattern: '^(?=a)'}}\n"),
			[]string{"/paths/~1o/get/parameters/0/schema/pattern: pattern not supported by Go's RE2"}},
		// yaml.v3 reads 010 as 8 (YAML 1.1), YAML 1.2 as 10.
		{"YAML octal-looking number", doc30("  /o:\n    get:\n      parameters:\n        - {name: s, in: query, schema: {type: string, maxLength: 010}}\n"),
			[]string{"line 7: 010 is not a JSON number"}},
		{"YAML hex", doc30("  /o:\n    get:\n      parameters:\n        - {name: d, in: query, schema: {type: integer, maximum: 0x10}}\n"),
			[]string{"0x10 is not a JSON number"}},
		{"YAML underscores", doc30("  /o:\n    get:\n      parameters:\n        - {name: e, in: query, schema: {type: integer, minimum: 1_0}}\n"),
			[]string{"1_0 is not a JSON number"}},
		{"no schema", doc30("  /o:\n    get:\n      parameters:\n        - {name: p, in: query}\n"), []string{"a parameter needs a schema"}},
		{"body without content", doc30("  /o:\n    post:\n      requestBody: {required: true}\n"), []string{"openapi: /paths/~1o/post/requestBody/content: must declare at least one media type"}},
		{"bad media type", doc30("  /o:\n    post:\n      requestBody:\n        content:\n          json: {}\n"), []string{`media type "json"`}},
		{"media type twice", doc30("  /o:\n    post:\n      requestBody:\n        content:\n          application/json: {}\n          Application/JSON; charset=utf-8: {}\n"),
			[]string{"media type application/json declared twice"}},
		{"nullable in 3.1", `{"openapi":"3.1.0","paths":{"/o":{"get":{"parameters":[{"name":"p","in":"query","schema":{"type":"string","nullable":true}}]}}}}`,
			[]string{`openapi: /paths/~1o/get/parameters/0/schema/nullable: nullable is OpenAPI 3.0`}},
		{"dialect", `{"openapi":"3.1.0","jsonSchemaDialect":"https://json-schema.org/draft/2019-09/schema","paths":{"/o":{"get":{}}}}`,
			[]string{"openapi: /jsonSchemaDialect: only"}},
		{"server variable without default", "openapi: 3.0.0\nservers: [{url: 'https://x/{v}', variables: {v: {enum: [a]}}}]\npaths:\n  /o:\n    get: {}\n",
			[]string{"openapi: /servers/0/url: server variable {v} has no default"}},
		{"discriminator mapping outside oneOf", doc30("  /o:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/P'}\n",
			"components:\n  schemas:\n    P:\n      oneOf: [{$ref: '#/components/schemas/A'}]\n      discriminator: {propertyName: t, mapping: {b: B}}\n    A: {type: object}\n    B: {type: object}\n"),
			[]string{`openapi: /components/schemas/P/discriminator/mapping/b: "B" is not one of the oneOf schemas`}},
		{"conversion and compile errors together", doc30("  /o:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/A'}\n",
			"components:\n  schemas:\n    A:\n      type: object\n      nullable: maybe\n      properties: {a: {type: strin, example: 1}}\n"),
			[]string{"openapi: /components/schemas/A/nullable: must be a boolean (line 14)", `openapi: compile schema: /components/schemas/A/properties/a/type: unknown type "strin" (line 15)`}},
		{"several errors at once", doc30("  /o:\n    get:\n      parameters:\n        - {name: a, in: query, style: deepObject, schema: {type: object}}\n        - {name: b, in: body, schema: {type: string}}\n  /p/{x}:\n    get: {}\n"),
			[]string{"/paths/~1o/get/parameters/0: style deepObject", `/paths/~1o/get/parameters/1/in: "body" is not a parameter location`, "/paths/~1p~1{x}/get: path variable {x}"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New([]byte(tc.doc), Options{})
			if err == nil {
				t.Fatalf("loaded (%d operations); want an error", c.Operations())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain\n%s", err, w)
				}
			}
			checkErrorLines(t, err)
		})
	}
}

// errorLine is the shape of every line of a New error: "openapi: " and a
// location, or the reason the bytes are not a document.
var errorLine = regexp.MustCompile(`^openapi: (/.*?: |\(document root\): |\(options\): |compile schema: (/.*?|\(document root\)): |parse (JSON|YAML): |too many errors$)`)

func checkErrorLines(t *testing.T, err error) {
	t.Helper()
	for _, line := range strings.Split(err.Error(), "\n") {
		if !errorLine.MatchString(line) {
			t.Errorf("error line %q names no location", line)
		}
	}
}

func TestLoadAcceptsAndIgnores(t *testing.T) {
	cases := []struct{ name, doc string }{
		{"extensions and ignored fields", doc30("  x-internal: true\n  /o:\n    x-owner: team\n    servers: [{url: /other}]\n    get:\n      security: []\n      callbacks: {}\n      x-rate: 5\n      responses: {'200': {description: ok}}\n")},
		{"header parameters OpenAPI ignores", doc30("  /o:\n    get:\n      parameters:\n        - {name: Authorization, in: header, required: true, schema: {type: string}, style: whatever}\n")},
		{"path item by reference", doc30("  /o:\n    $ref: '#/x-items/o'\n", "x-items:\n  o:\n    get: {}\n")},
		{"3.1 boolean schemas and examples", `{"openapi":"3.1.1","paths":{"/o":{"post":{"requestBody":{"content":{"application/json":{"schema":{"type":"object","properties":{"a":true,"b":false},"examples":[{}]}}}}}}}}`},
		{"YAML unquoted date in enum", doc30("  /o:\n    get:\n      parameters:\n        - {name: d, in: query, schema: {type: string, enum: [2024-01-02]}}\n")},
		{"server variable default with braces", "openapi: 3.0.0\nservers: [{url: '/{v}', variables: {v: {default: '{v}x'}}}]\npaths:\n  /o:\n    get: {}\n"},
		{"YAML numbers that are JSON numbers", doc30("  /o:\n    get:\n      parameters:\n        - {name: d, in: query, schema: {type: integer, maximum: 16, minimum: -10, multipleOf: 1e0}}\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New([]byte(tc.doc), Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConversion checks the 3.0 conversion on the document itself: only
// schema positions change.
func TestConversion(t *testing.T) {
	doc, err := os.ReadFile("testdata/petstore-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	root, err := parseDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(root)
	l.convertSchema(root.lookup("/components/schemas/NewPet"), "/components/schemas/NewPet")
	l.convertSchema(root.lookup("/components/schemas/Order"), "/components/schemas/Order")
	if len(l.errs) > 0 {
		t.Fatal(l.errs)
	}
	for ptr, want := range map[string]string{
		"/components/schemas/NewPet/required":                       `["name","petType"]`,
		"/components/schemas/NewPet/properties/tag/type":            `["string","null"]`,
		"/components/schemas/NewPet/properties/example":             `{"description":"a property that happens to be named example","type":"string","maxLength":8}`,
		"/components/schemas/NewPet/properties/name":                `{"type":"string","minLength":1,"maxLength":64}`,
		"/components/schemas/NewPet/properties/weight":              `{"type":"number","maximum":200,"exclusiveMinimum":0}`,
		"/components/schemas/NewPet/properties/id":                  `{"type":"integer","readOnly":true,"minimum":-9223372036854775808,"maximum":9223372036854775807}`,
		"/components/schemas/Order/properties/coupon":               `{"type":["string","null"],"pattern":"^[A-Z0-9]{6,12}$"}`,
		"/components/schemas/Customer/properties/phone/type":        `["string","null"]`,
		"/components/schemas/LineItem/properties/qty":               `{"type":"integer","minimum":1,"maximum":1000}`,
		"/components/schemas/Status":                                `{"type":"string","enum":["available","pending","sold"]}`,
		"/components/schemas/LineItem/properties/unit_price/format": "",
	} {
		v := root.lookup(ptr)
		got := ""
		if v != nil {
			got = string(appendJSON(nil, v))
		}
		if got != want {
			t.Errorf("%s = %s, want %s", ptr, got, want)
		}
	}
	for _, ptr := range []string{"/components/schemas/NewPet/xml", "/components/schemas/NewPet/example", "/components/schemas/NewPet/externalDocs"} {
		if root.lookup(ptr) != nil {
			t.Errorf("%s kept", ptr)
		}
	}
	// Outside schemas nothing changes: an operation's example stays.
	if root.lookup("/paths/~1pets/post/requestBody/content/application~1json/example") == nil {
		t.Error("a media type's example was removed")
	}
}

// TestMiniDoc: the document a schema compiles from holds it and what it
// references, at the same pointers, and nothing else.
func TestMiniDoc(t *testing.T) {
	root, err := parseDocument([]byte(`{"paths":{"/a":{"get":{"parameters":[{"x":1},{"schema":{"$ref":"#/components/schemas/A"}}]}}},
		"components":{"schemas":{"A":{"properties":{"b":{"$ref":"#/components/schemas/B"}}},"B":{"type":"string"},"C":{"type":"integer"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(root)
	got := string(l.miniDoc("/paths/~1a/get/parameters/1/schema"))
	want := `{"paths":{"/a":{"get":{"parameters":[null,{"schema":{"$ref":"#/components/schemas/A"}}]}}},` +
		`"components":{"schemas":{"A":{"properties":{"b":{"$ref":"#/components/schemas/B"}}},"B":{"type":"string"}}}}`
	if got != want {
		t.Errorf("miniDoc\n%s\nwant\n%s", got, want)
	}
}

func TestFormatBounds(t *testing.T) {
	cases := []struct{ schema, want string }{
		{`{"type":"integer","format":"int32"}`, `{"type":"integer","minimum":-2147483648,"maximum":2147483647}`},
		{`{"type":"integer","format":"int32","minimum":1,"maximum":100}`, `{"type":"integer","minimum":1,"maximum":100}`},
		{`{"type":"integer","format":"int32","exclusiveMinimum":0}`, `{"type":"integer","exclusiveMinimum":0,"maximum":2147483647}`},
		{`{"type":"integer","format":"int32","maximum":1e12}`, `{"type":"integer","maximum":1e12,"minimum":-2147483648,"allOf":[{"maximum":2147483647}]}`},
		{`{"type":"integer","format":"int64","maximum":9223372036854775807}`, `{"type":"integer","maximum":9223372036854775807,"minimum":-9223372036854775808}`},
		{`{"type":"integer","format":"int64","maximum":9223372036854775808}`, `{"type":"integer","maximum":9223372036854775808,"minimum":-9223372036854775808,"allOf":[{"maximum":9223372036854775807}]}`},
		// A bound with a huge exponent is compared, not expanded.
		{`{"type":"integer","format":"int32","minimum":-1e999999999,"maximum":1e-999999999}`,
			`{"type":"integer","minimum":-1e999999999,"maximum":1e-999999999,"allOf":[{"minimum":-2147483648}]}`},
		{`{"type":"integer","format":"int64","minimum":-1e30}`, `{"type":"integer","minimum":-1e30,"maximum":9223372036854775807,"allOf":[{"minimum":-9223372036854775808}]}`},
	}
	for _, tc := range cases {
		root, err := parseDocument([]byte(`{"s":` + tc.schema + `}`))
		if err != nil {
			t.Fatal(err)
		}
		l := newLoader(root)
		l.v31 = true
		l.convertSchema(root.get("s"), "/s")
		if got := string(appendJSON(nil, root.get("s"))); got != tc.want {
			t.Errorf("%s became %s, want %s", tc.schema, got, tc.want)
		}
	}
}
