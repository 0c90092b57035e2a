package loggate

import "testing"

func TestGate(t *testing.T) {
	left := 0
	g := &Gate{Burst: 3, Suppressed: func() { left++ }}
	for i := range 3 {
		if ok, n := g.Pass(100); !ok || n != 0 {
			t.Fatalf("line %d in the first second: %v %d", i, ok, n)
		}
	}
	for range 5 {
		if ok, _ := g.Pass(100); ok {
			t.Fatal("a line over the burst passed")
		}
	}
	if left != 5 {
		t.Fatalf("Suppressed called %d times, want 5", left)
	}
	if ok, n := g.Pass(101); !ok || n != 5 {
		t.Fatalf("first line of the next second: %v, suppressed %d; want true, 5", ok, n)
	}
	if ok, n := g.Pass(101); !ok || n != 0 {
		t.Fatalf("second line: %v %d; the count was already reported", ok, n)
	}
}
