package gcra

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name           string
		n              int64
		window         time.Duration
		pct            int64
		wantT, wantTol int64
	}{
		{"10 per second", 10, time.Second, 100, int64(100 * time.Millisecond), int64(time.Second)},
		{"3 per second rounds T up", 3, time.Second, 100, 333333334, 3 * 333333334},
		{"1000 per hour", 1000, time.Hour, 100, int64(3600 * time.Millisecond), int64(time.Hour)},
		{"reject at 150%", 10, time.Second, 150, int64(100 * time.Millisecond), int64(1500 * time.Millisecond)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(tc.n, tc.window, tc.pct)
			if r.T != tc.wantT || r.Tol != tc.wantTol {
				t.Fatalf("T=%d Tol=%d, want T=%d Tol=%d", r.T, r.Tol, tc.wantT, tc.wantTol)
			}
		})
	}
}

func TestTakeExactBurstAndRefill(t *testing.T) {
	r := New(10, time.Second, 100)
	var w atomic.Int64
	now := int64(5 * time.Second)
	for i := int64(1); i <= 10; i++ {
		backlog, _, ok := r.Take(&w, now)
		if !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
		if want := i * r.T; backlog != want {
			t.Fatalf("request %d backlog %d, want %d", i, backlog, want)
		}
	}
	before := w.Load()
	_, wait, ok := r.Take(&w, now)
	if ok {
		t.Fatal("11th request granted")
	}
	if wait != r.T {
		t.Fatalf("wait %d, want one emission interval %d", wait, r.T)
	}
	if w.Load() != before {
		t.Fatal("a refused request changed the bucket")
	}
	// Just before the token comes back: still refused; at it: granted once.
	if _, _, ok := r.Take(&w, now+r.T-1); ok {
		t.Fatal("granted 1ns before the token is back")
	}
	if _, _, ok := r.Take(&w, now+r.T); !ok {
		t.Fatal("refused when the token is back")
	}
	if _, _, ok := r.Take(&w, now+r.T); ok {
		t.Fatal("one returned token granted twice")
	}
	// A long pause refills to exactly N, never more.
	later := now + 10*int64(time.Second)
	granted := 0
	for {
		if _, _, ok := r.Take(&w, later); !ok {
			break
		}
		granted++
	}
	if granted != 10 {
		t.Fatalf("after a long pause granted %d, want 10", granted)
	}
}

func TestRefundRestoresQuota(t *testing.T) {
	r := New(2, time.Second, 100)
	var w atomic.Int64
	now := int64(time.Hour)
	r.Take(&w, now)
	r.Take(&w, now)
	r.Refund(&w)
	if _, _, ok := r.Take(&w, now); !ok {
		t.Fatal("refunded token not available")
	}
	if _, _, ok := r.Take(&w, now); ok {
		t.Fatal("granted past the limit after a refund")
	}
}

func TestRemainingAndBacklog(t *testing.T) {
	r := New(4, time.Second, 100)
	var w atomic.Int64
	now := int64(time.Minute)
	if got := r.Remaining(r.Backlog(&w, now)); got != 4 {
		t.Fatalf("remaining on a full bucket = %d, want 4", got)
	}
	r.Take(&w, now)
	if got := r.Remaining(r.Backlog(&w, now)); got != 3 {
		t.Fatalf("remaining after one = %d, want 3", got)
	}
	if got := r.Remaining(r.Backlog(&w, now+r.T/2)); got != 3 {
		t.Fatalf("remaining half an interval later = %d, want 3 (whole tokens only)", got)
	}
	if got := r.Backlog(&w, now+2*r.T); got != 0 {
		t.Fatalf("backlog after refill = %d, want 0", got)
	}
}

func TestScale(t *testing.T) {
	tests := []struct {
		name              string
		max, x, lo, hi, w int64
	}{
		{"below", 100, 5, 10, 20, 0},
		{"at low", 100, 10, 10, 20, 0},
		{"middle", 100, 15, 10, 20, 50},
		{"at high", 100, 20, 10, 20, 100},
		{"above", 100, 30, 10, 20, 100},
		{"large values stay exact", int64(10 * time.Second), int64(time.Hour) - 1, 0, int64(time.Hour), int64(10*time.Second) - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Scale(tc.max, tc.x, tc.lo, tc.hi); got != tc.w {
				t.Fatalf("Scale = %d, want %d", got, tc.w)
			}
		})
	}
}

// TestNoTokenGrantedTwice hammers one word from many goroutines with a clock
// that advances in steps: the number of grants must equal exactly what the
// rate allows (burst plus refills), no more and no fewer.
func TestNoTokenGrantedTwice(t *testing.T) {
	r := New(100, time.Second, 100)
	var w atomic.Int64
	var clock atomic.Int64
	clock.Store(int64(time.Hour))
	const steps = 50
	workers := 4 * runtime.GOMAXPROCS(0)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for step := 0; step < steps; step++ {
		start := make(chan struct{})
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < 200; i++ {
					if _, _, ok := r.Take(&w, clock.Load()); ok {
						granted.Add(1)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		clock.Add(7 * r.T) // exactly 7 tokens come back between rounds
	}
	if want := int64(100 + 7*(steps-1)); granted.Load() != want {
		t.Fatalf("granted %d tokens, want exactly %d", granted.Load(), want)
	}
}
