//go:build !race

package apikey

import "testing"

func TestLookupAllocatesNothing(t *testing.T) {
	tab, _ := NewTable([]KeyConfig{{ID: "k", Client: "c", Hash: hashOf("egk_k")}})
	key := []byte("egk_k")
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := tab.Lookup(key, t0); err != nil {
			t.Fatal(err)
		}
		_, _ = tab.Lookup([]byte("nope"), t0)
		_ = QueryLeak([]byte("a=1&api%5Fkey=2&t=egk_x"), leakNames)
	}); n != 0 {
		t.Errorf("allocs = %.1f", n)
	}
}
