package schema_test

import (
	"errors"
	"fmt"

	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
	"github.com/edgeguard/edgeguard/dataplane/validate/schema"
)

// The request path of a validate stage: compile once at config load, then
// per request read the body strictly and validate it.
func Example() {
	s, err := schema.Compile([]byte(`{
		"type": "object",
		"required": ["name", "qty"],
		"additionalProperties": false,
		"properties": {
			"name": {"type": "string", "maxLength": 20},
			"qty": {"type": "integer", "minimum": 1}
		}
	}`))
	if err != nil {
		panic(err)
	}
	var pool jsonbody.Pool
	var dst []schema.Violation // reuse per connection or pool it
	for _, body := range []string{
		`{"name":"widget","qty":2}`,
		`{"name":"widget","qty":0,"secret":"x"}`,
		`{"name":"widget","name":"gadget"}`,
	} {
		r := pool.Get()
		v, err := r.Read([]byte(body), jsonbody.DefaultMaxDepth)
		var jerr *jsonbody.Error
		switch {
		case errors.As(err, &jerr):
			fmt.Println("400", jerr.Code())
		case err != nil:
			panic(err)
		default:
			dst = s.Validate(v, dst[:0])
			if len(dst) == 0 {
				fmt.Println("valid")
			}
			for _, x := range dst {
				fmt.Printf("400 %q %s\n", x.Pointer, x.Reason)
			}
		}
		pool.Put(r)
	}
	// Output:
	// valid
	// 400 "/qty" minimum: less than 1
	// 400 "" additionalProperties: property not allowed
	// 400 json_duplicate_key
}

// An OpenAPI document's request body schema, with its references resolved
// against the whole document.
func ExampleCompileAt() {
	doc := []byte(`{
		"openapi": "3.1.0",
		"components": {"schemas": {
			"Order": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}},
			"Item": {"type": "object", "required": ["sku"], "unevaluatedProperties": false}
		}}
	}`)
	_, err := schema.CompileAt(doc, "/components/schemas/Order")
	fmt.Println(err)
	// Output:
	// compile schema: /components/schemas/Item/unevaluatedProperties: keyword not supported
}
