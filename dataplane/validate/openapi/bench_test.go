package openapi

import (
	"os"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// benchOrder is a realistic 1 KB order for the petstore's createOrder.
var benchOrder = `{"customer":{"id":42,"email":"ada.lovelace@example.com","name":"Ada Lovelace","phone":"+441234567890"},` +
	`"items":[` +
	`{"sku":"ABC-1234","qty":2,"unit_price":19.99,"description":"Blue widget, large"},` +
	`{"sku":"XYZ-0001","qty":1,"unit_price":5,"description":"Spare gasket"},` +
	`{"sku":"QRS-0420","qty":12,"unit_price":0.35,"description":"M4 hex bolts, stainless steel"},` +
	`{"sku":"LMN-9876","qty":1,"unit_price":149.5,"description":"Cordless drill, 18 V, with two batteries"},` +
	`{"sku":"DEF-5555","qty":3,"unit_price":7.25,"description":"Drill bits, assorted"}],` +
	`"currency":"EUR","coupon":"SPRING2026","note":"Please leave the parcel with the neighbour at number 3 if nobody answers.",` +
	`"shipping":{"line1":"1 Main Street","line2":"Flat 4","city":"Springfield","postcode":"12345","country":"US"},` +
	`"billing":{"line1":"1 Main Street","line2":null,"city":"Springfield","postcode":"12345","country":"US"},` +
	`"placed_at":"2026-01-02T03:04:05.678+01:00","gift":true,"tags":["tools","hardware","priority","b2c"]}`

func TestBenchOrderIsValidAndOneKB(t *testing.T) {
	if n := len(benchOrder); n < 900 || n > 1200 {
		t.Errorf("bench order is %d bytes", n)
	}
	c := load(t, "testdata/petstore-3.0.yaml", Options{})
	ctx, r := request(t, "POST", orderURI, "application/json", benchOrder)
	if v := c.Check(ctx, r); v != pipeline.Continue {
		t.Fatalf("refused: %s", ctx.Response.Body())
	}
}

func benchCheck(b *testing.B, method, uri, ct, body string, headers ...string) {
	c := load(b, "testdata/petstore-3.0.yaml", Options{Route: "pets"})
	ctx, r := request(b, method, uri, ct, body, headers...)
	if c.Check(ctx, r) != pipeline.Continue {
		b.Fatalf("refused: %s", ctx.Response.Body())
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Check(ctx, r)
	}
}

// BenchmarkCheckPOST: a 1 KB JSON order with 2 path and 3 query
// parameters (the JSON read included).
func BenchmarkCheckPOST(b *testing.B) {
	benchCheck(b, "POST", orderURI, "application/json", benchOrder)
}

// BenchmarkCheckGET: 4 query parameters (one an array of 2) and a header.
func BenchmarkCheckGET(b *testing.B) {
	benchCheck(b, "GET", "/v1/pets?limit=10&status=sold&tag=a&tag=b&born_after=2024-01-31", "", "",
		"X-Request-ID: 2eb8aa08-aa98-11ea-b4aa-73b441d16380")
}

// BenchmarkCheckNoOperation: the cost of a 404.
func BenchmarkCheckNoOperation(b *testing.B) {
	c := load(b, "testdata/petstore-3.0.yaml", Options{})
	ctx, r := request(b, "GET", "/v1/pets/7/owners/9", "", "")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Check(ctx, r)
	}
}

// BenchmarkNew: loading the petstore document.
func BenchmarkNew(b *testing.B) {
	doc, err := os.ReadFile("testdata/petstore-3.0.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		if _, err := New(doc, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewLarge: a document of 500 paths that share 100 component
// schemas: the load is linear because each schema compiles from the
// smallest document that holds it.
func BenchmarkNewLarge(b *testing.B) {
	doc := largeDocument(500, 100)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for range b.N {
		if _, err := New(doc, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// largeDocument builds a 3.1 document of paths operations, each with a
// path parameter, a query parameter and a body referencing one of
// schemas components (which reference each other in a chain of 3).
func largeDocument(paths, schemas int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"openapi":"3.1.0","paths":{`)
	for i := range paths {
		if i > 0 {
			sb.WriteByte(',')
		}
		n := itoa(i)
		sb.WriteString(`"/r` + n + `/{id}":{"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"integer","minimum":1}}],` +
			`"get":{"parameters":[{"name":"q","in":"query","schema":{"type":"string","maxLength":50}}]},` +
			`"post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/S` + itoa(i%schemas) + `"}}}}}}`)
	}
	sb.WriteString(`},"components":{"schemas":{`)
	for i := range schemas {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"S` + itoa(i) + `":{"type":"object","required":["a"],"properties":{"a":{"type":"string","maxLength":20},` +
			`"b":{"type":"integer"},"c":{"$ref":"#/components/schemas/S` + itoa((i+1)%schemas) + `/properties/a"},` +
			`"d":{"type":"array","items":{"type":"string","format":"email"}}},"additionalProperties":false}`)
	}
	sb.WriteString(`}}}`)
	return []byte(sb.String())
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// BenchmarkBodyOnly is the part of BenchmarkCheckPOST that is not
// OpenAPI's: reading the same 1 KB body and validating it with the same
// compiled schema. The difference is the cost of matching the operation
// and checking its 5 parameters.
func BenchmarkBodyOnly(b *testing.B) {
	c := load(b, "testdata/petstore-3.0.yaml", Options{})
	caps := make([]span, c.maxSegs)
	e := c.root.match([]byte("/stores/eu-001/customers/42/orders"), 1, 0, caps)
	s := e.ops[methodIndex([]byte("POST"))].body.media[0].schema
	r := &pipeline.Request{}
	body := []byte(benchOrder)
	r.JSONReader().Read(body, 0) // the reader grows its buffers once
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		v, err := r.JSONReader().Read(body, 0)
		if err != nil || !s.Valid(v) {
			b.Fatal("invalid")
		}
	}
}
