//go:build !race

package anomaly

import (
	"testing"
)

// TestObserveAllocs: the request path's hook allocates nothing, whether the
// ring takes the observation or drops it.
func TestObserveAllocs(t *testing.T) {
	d := New(Options{Manual: true, Buffer: 1024})
	defer d.Close()
	cfg := testConfig()
	if err := cfg.Compile(); err != nil {
		t.Fatal(err)
	}
	rt := d.Route("api", cfg)
	method, path, client := []byte("PROPFIND"), []byte("/customers/12345/orders"), ip("2001:db8::1")
	if n := testing.AllocsPerRun(2000, func() { // 1024 taken, the rest dropped
		rt.Observe(method, 404, client, "key-1", path)
	}); n != 0 {
		t.Fatalf("Observe: %.1f allocs, want 0", n)
	}
	if d.Dropped() == 0 {
		t.Fatal("nothing dropped: the full-ring path was not measured")
	}
}
