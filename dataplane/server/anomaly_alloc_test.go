//go:build !race

package server

import "testing"

// TestAnomalyHookAllocatesNothing: with every detector on, requests that
// feed each of them (an ID walk, 404s, an odd method) allocate nothing on
// the request path.
func TestAnomalyHookAllocatesNothing(t *testing.T) {
	h := newHarness(t, "\nanomaly: {admin_first_seen: {routes: [api], warmup: 0s}}\n")
	if h.holder.Current().UnroutedAnomaly == nil {
		t.Fatal("anomaly detection off: the hook is not measured")
	}
	for _, c := range []struct{ method, uri string }{{"GET", "/api/items/123"}, {"GET", "/nope/1"}, {"PROPFIND", "/api/x"}} {
		for i := 0; i < 500; i++ {
			h.serve(c.method, c.uri)
		}
		if n := testing.AllocsPerRun(500, func() { h.serve(c.method, c.uri) }); n != 0 {
			t.Errorf("%s %s: %v allocs per request, want 0", c.method, c.uri, n)
		}
	}
}
