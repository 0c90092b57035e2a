//go:build !race

package yieldread

import (
	"testing"
	"time"
)

func TestNoAllocs(t *testing.T) {
	s, c := pair(t)
	w := &Conn{Conn: s}
	buf := make([]byte, 64)
	ping := []byte("ping")
	w.SetDeadline(time.Now().Add(10 * time.Second))
	allocs := testing.AllocsPerRun(200, func() {
		c.Write(ping)
		if _, err := w.Read(buf); err != nil {
			t.Fatal(err)
		}
		w.Write(buf[:4])
		c.Read(buf)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per exchange", allocs)
	}
}
