//go:build !race

package livetop

import (
	"net/netip"
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// TestObserveAllocs: counting a request allocates nothing, for a new
// client, a known one, a denied one, and one the full table turns away.
func TestObserveAllocs(t *testing.T) {
	tr := New(Options{Slots: 8})
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		i++
		tr.Observe(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 200+i%300, pipeline.Reason(i%3))
		tr.Observe(netip.MustParseAddr("2001:db8::1"), 403, pipeline.ReasonForbidden)
	})
	if n != 0 {
		t.Fatalf("Observe allocates %.1f times per call", n)
	}
}
