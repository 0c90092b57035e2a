package jsonbody

import (
	"encoding/json"
	"os"
	"testing"
)

func BenchmarkRead(b *testing.B) {
	body, err := os.ReadFile("testdata/order-1k.json")
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		body []byte
	}{
		{"order-1k", body},
		{"200-keys", []byte(manyKeys(200, false))},
		{"deep-10000", []byte(nest(10000, "1"))},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var r Reader
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				r.Read(bc.body, 0)
			}
		})
	}
	// The reference point: encoding/json's well-formedness check alone.
	b.Run("order-1k/encoding-json-Valid", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			json.Valid(body)
		}
	})
}
