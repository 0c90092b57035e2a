package mpsc

import (
	"sync"
	"testing"
)

func TestFullAndOrder(t *testing.T) {
	q := New[int](3) // rounded up to 4
	if q.Cap() != 4 {
		t.Fatalf("cap %d", q.Cap())
	}
	for i := range 4 {
		v, pos := q.Claim()
		if v == nil {
			t.Fatalf("claim %d failed", i)
		}
		*v = i
		q.Publish(pos)
	}
	if v, _ := q.Claim(); v != nil {
		t.Fatal("claim on a full ring succeeded")
	}
	for i := range 4 {
		v := q.Take()
		if v == nil || *v != i {
			t.Fatalf("take %d: %v", i, v)
		}
		q.Release()
	}
	if q.Take() != nil {
		t.Fatal("take on an empty ring")
	}
}

// TestUnpublishedBlocksTake: a claimed slot not yet published holds the
// consumer back, and what follows it is taken once it is published.
func TestUnpublishedBlocksTake(t *testing.T) {
	q := New[int](4)
	a, pa := q.Claim()
	b, pb := q.Claim()
	*b = 2
	q.Publish(pb)
	if q.Take() != nil {
		t.Fatal("took past an unpublished slot")
	}
	*a = 1
	q.Publish(pa)
	for want := 1; want <= 2; want++ {
		v := q.Take()
		if v == nil || *v != want {
			t.Fatalf("got %v, want %d", v, want)
		}
		q.Release()
	}
}

func TestConcurrent(t *testing.T) {
	q := New[[2]int](64)
	const producers, each = 4, 20000
	var wg sync.WaitGroup
	var dropped [producers]int
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v, pos := q.Claim()
				if v == nil {
					dropped[p]++
					continue
				}
				*v = [2]int{p, i}
				q.Publish(pos)
			}
		}()
	}
	stop, done := make(chan struct{}), make(chan struct{})
	got := 0
	last := [producers]int{-1, -1, -1, -1}
	go func() {
		defer close(done)
		for {
			v := q.Take()
			if v == nil {
				select {
				case <-stop:
					if v = q.Take(); v == nil {
						return
					}
				default:
					continue
				}
			}
			if v[1] <= last[v[0]] {
				t.Errorf("producer %d: %d after %d", v[0], v[1], last[v[0]])
			}
			last[v[0]] = v[1]
			got++
			q.Release()
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	total := got
	for _, d := range dropped {
		total += d
	}
	if total != producers*each {
		t.Fatalf("%d taken + dropped, want %d", total, producers*each)
	}
}
