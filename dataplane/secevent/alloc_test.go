//go:build !race

package secevent

import (
	"io"
	"net/netip"
	"testing"
	"time"
)

// TestEmitAllocs: emitting from the request path allocates nothing, whether
// the event is queued or dropped.
func TestEmitAllocs(t *testing.T) {
	for _, buffer := range []int{1 << 16, 1} {
		l, err := Open(Options{Writer: io.Discard, Buffer: buffer})
		if err != nil {
			t.Fatal(err)
		}
		id := []byte("4bf92f3577b34da6a3ce929d0e0e4736")
		loc := []byte("query.q")
		ip := netip.MustParseAddr("203.0.113.9")
		now := time.Now()
		allocs := testing.AllocsPerRun(1000, func() {
			e := Event{Type: WAFDetection, Time: now, ClientIP: ip, Route: "api", RequestID: id,
				Reason: "waf_blocked", Detail: "sqli", Status: 403, Location: loc}
			l.Emit(&e)
		})
		if allocs != 0 {
			t.Errorf("buffer %d: Emit allocates %.1f times per event", buffer, allocs)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
