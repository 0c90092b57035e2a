//go:build !race

package mpsc

import "testing"

func TestClaimAllocs(t *testing.T) {
	q := New[[64]byte](1024)
	n := testing.AllocsPerRun(1000, func() {
		if v, pos := q.Claim(); v != nil {
			v[0] = 1
			q.Publish(pos)
		}
		if q.Take() != nil {
			q.Release()
		}
	})
	if n != 0 {
		t.Fatalf("%.1f allocs", n)
	}
}
