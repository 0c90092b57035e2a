//go:build !race

package server

import "testing"

// TestHandleAllocatesNothing proves the steady-state request path, proxied
// or denied, allocates nothing.
func TestHandleAllocatesNothing(t *testing.T) {
	h := newHarness(t, "")
	for _, uri := range []string{"/api/items?id=1", "/nope", "/api/a%2Fb"} {
		for i := 0; i < 500; i++ { // warm pools and the access log's line buffers
			h.serve("GET", uri)
		}
		if n := testing.AllocsPerRun(500, func() { h.serve("GET", uri) }); n != 0 {
			t.Errorf("GET %s: %v allocs per request, want 0", uri, n)
		}
	}
}
