package schema

import (
	"bytes"
	"os"
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// benchInputs are the schema and documents shared by the benchmarks: a
// 29-property order schema (nested objects, an array of items, formats,
// enums, patterns, numeric bounds, multipleOf) and a realistic 1 KB order.
type benchInputs struct {
	schema, valid, invalid []byte
}

func loadBench(tb testing.TB) benchInputs {
	tb.Helper()
	var in benchInputs
	for p, dst := range map[string]*[]byte{
		"testdata/bench/order.schema.json":  &in.schema,
		"testdata/bench/order.json":         &in.valid,
		"testdata/bench/order-invalid.json": &in.invalid,
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		*dst = b
	}
	return in
}

// santhoshSchema compiles the same schema with santhosh-tekuri/jsonschema,
// asserting formats as edgeguard does.
func santhoshSchema(tb testing.TB, schema []byte) *jsonschema.Schema {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("order.schema.json", doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile("order.schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkValidate compares edgeguard's schema with santhosh-tekuri's on
// the same schema and documents, in the same run.
func BenchmarkValidate(b *testing.B) {
	in := loadBench(b)
	ours, err := Compile(in.schema)
	if err != nil {
		b.Fatal(err)
	}
	theirs := santhoshSchema(b, in.schema)
	for _, doc := range []struct {
		name  string
		body  []byte
		valid bool
	}{
		{"valid", in.valid, true},
		{"invalid", in.invalid, false},
	} {
		b.Run(doc.name+"/edgeguard/validate-only", func(b *testing.B) {
			var r jsonbody.Reader
			v, err := r.Read(doc.body, 0)
			if err != nil {
				b.Fatal(err)
			}
			var dst []Violation
			b.ReportAllocs()
			for b.Loop() {
				dst = ours.Validate(v, dst[:0])
			}
			if (len(dst) == 0) != doc.valid {
				b.Fatalf("violations %v", dst)
			}
		})
		b.Run(doc.name+"/edgeguard/read+validate", func(b *testing.B) {
			var r jsonbody.Reader
			var dst []Violation
			b.ReportAllocs()
			b.SetBytes(int64(len(doc.body)))
			for b.Loop() {
				v, err := r.Read(doc.body, 0)
				if err != nil {
					b.Fatal(err)
				}
				dst = ours.Validate(v, dst[:0])
			}
			if (len(dst) == 0) != doc.valid {
				b.Fatalf("violations %v", dst)
			}
		})
		b.Run(doc.name+"/santhosh/validate-only", func(b *testing.B) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc.body))
			if err != nil {
				b.Fatal(err)
			}
			var verr error
			b.ReportAllocs()
			for b.Loop() {
				verr = theirs.Validate(inst)
			}
			if (verr == nil) != doc.valid {
				b.Fatalf("santhosh: %v", verr)
			}
		})
		b.Run(doc.name+"/santhosh/decode+validate", func(b *testing.B) {
			var verr error
			b.ReportAllocs()
			b.SetBytes(int64(len(doc.body)))
			for b.Loop() {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc.body))
				if err != nil {
					b.Fatal(err)
				}
				verr = theirs.Validate(inst)
			}
			if (verr == nil) != doc.valid {
				b.Fatalf("santhosh: %v", verr)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	in := loadBench(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(in.schema); err != nil {
			b.Fatal(err)
		}
	}
}
