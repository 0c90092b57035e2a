//go:build !race

package jsonbody

import (
	"os"
	"testing"
)

func TestReadAllocs(t *testing.T) {
	body, err := os.ReadFile("testdata/order-1k.json")
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{
		"order 1 KB":       body,
		"200 keys":         []byte(manyKeys(200, false)),
		"duplicate key":    []byte(`{"a":1,"\u0061":2}`),
		"too deep":         []byte(nest(100, "1")),
		"invalid utf8":     []byte("{\"a\":\"\xff\"}"),
		"trailing data":    []byte(`{} {}`),
		"lone surrogate":   []byte(`["\ud800"]`),
		"malformed number": []byte(`[1.]`),
	}
	for name, b := range bodies {
		var r Reader
		r.Read(b, 0) // warm the parser's caches
		if n := testing.AllocsPerRun(100, func() { r.Read(b, 0) }); n != 0 {
			t.Errorf("Read(%s) allocates %v times per run; want 0", name, n)
		}
	}
}
