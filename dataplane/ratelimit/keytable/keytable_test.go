package keytable

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// state is a test state whose idle time is set by the test.
type state struct{ at atomic.Int64 }

func (s *state) IdleAt() int64 { return s.at.Load() }

func newTable(max int) *Table[state, *state] { return New[state, *state](max) }

func TestShardsFor(t *testing.T) {
	n := ShardsFor()
	if n&(n-1) != 0 || n < 16 || n < 4*runtime.GOMAXPROCS(0) {
		t.Fatalf("ShardsFor() = %d: want a power of two >= max(16, 4*GOMAXPROCS)", n)
	}
}

func TestGetOrInsert(t *testing.T) {
	tb := newTable(1000)
	if tb.Get(42) != nil {
		t.Fatal("Get on an empty table found something")
	}
	a := tb.GetOrInsert(42, 0)
	a.at.Store(7)
	if b := tb.GetOrInsert(42, 0); b != a {
		t.Fatal("second GetOrInsert returned another state")
	}
	if b := tb.Get(42); b != a || b.at.Load() != 7 {
		t.Fatal("Get did not return the inserted state")
	}
	if z := tb.GetOrInsert(0, 0); z != tb.Get(1) {
		t.Fatal("key 0 is not an alias of key 1")
	}
	if tb.Len() != 2 {
		t.Fatalf("Len = %d, want 2", tb.Len())
	}
}

func TestManyKeysGrowShards(t *testing.T) {
	tb := newTable(100000)
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 50000)
	for i := range keys {
		keys[i] = rng.Uint64() | 2
		tb.GetOrInsert(keys[i], 0).at.Store(int64(i))
	}
	for i, k := range keys {
		s := tb.Get(k)
		if s == nil || s.at.Load() != int64(i) {
			t.Fatalf("key %d lost after growth", i)
		}
	}
	if st := tb.Stats(); st.Keys != 50000 || st.EvictedActive != 0 || st.EvictedIdle != 0 {
		t.Fatalf("stats %+v, want 50000 keys and no evictions", st)
	}
}

func TestEviction(t *testing.T) {
	tests := []struct {
		name                string
		idleAt              int64 // of the entries filling the table
		now                 int64
		wantIdle, wantBusy  bool
		wantOldStillTracked bool
	}{
		{"idle entries are swept without loss", 5, 10, true, false, false},
		{"busy entries: the least busy of a sample goes", 100, 10, false, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const max = 256
			tb := newTable(max)
			for k := uint64(2); k < 2+max; k++ {
				tb.GetOrInsert(k<<32|k, 0).at.Store(tc.idleAt)
			}
			if tb.Len() != max {
				t.Fatalf("Len = %d, want %d", tb.Len(), max)
			}
			// Spray new keys: the table stays bounded.
			for k := uint64(1000); k < 1000+4*max; k++ {
				tb.GetOrInsert(k<<32|k, tc.now).at.Store(tc.idleAt)
				if n := tb.Len(); n > max {
					t.Fatalf("table grew to %d keys, bound %d", n, max)
				}
			}
			st := tb.Stats()
			if (st.EvictedIdle > 0) != tc.wantIdle || (st.EvictedActive > 0) != tc.wantBusy {
				t.Fatalf("stats %+v: want idle evictions %v, busy evictions %v", st, tc.wantIdle, tc.wantBusy)
			}
			if st.EvictedIdle+st.EvictedActive != 4*max {
				t.Fatalf("evicted %d, want one per new key over the bound (%d)", st.EvictedIdle+st.EvictedActive, 4*max)
			}
		})
	}
}

func TestBusyEvictionPrefersLeastBusy(t *testing.T) {
	tb := newTable(64)
	for k := uint64(2); k < 66; k++ {
		tb.GetOrInsert(k<<40|k, 0).at.Store(1000)
	}
	// One key is almost idle: it must be the victim when a new key arrives
	// in its shard (its shard is the one the new key hashes to).
	quiet := uint64(5)<<40 | 5
	tb.Get(quiet).at.Store(11)
	shardOf := func(k uint64) uint64 { return k >> tb.shift }
	newKey := quiet + 1<<20 // same shard (top bits), different key
	if shardOf(newKey) != shardOf(quiet) {
		t.Fatal("test keys not in the same shard")
	}
	// Make sure the sample covers the whole shard.
	s := &tb.shards[shardOf(quiet)]
	if s.live > sampleSize {
		t.Skipf("shard holds %d entries, more than one sample", s.live)
	}
	tb.GetOrInsert(newKey, 10)
	if tb.Get(quiet) != nil {
		t.Fatal("the least busy entry was not evicted")
	}
}

func TestSweepShrinks(t *testing.T) {
	tb := newTable(100000)
	for k := uint64(2); k < 20000; k++ {
		tb.GetOrInsert(k*0x9e3779b97f4a7c15, 0).at.Store(int64(k % 2 * 100))
	}
	three := uint64(3)
	keep := three * 0x9e3779b97f4a7c15
	before := 0
	for i := range tb.shards {
		before += len(tb.shards[i].arr.Load().s)
	}
	if n := tb.Sweep(50); n != 9999 {
		t.Fatalf("Sweep dropped %d, want the 9999 idle entries", n)
	}
	if tb.Get(keep) == nil {
		t.Fatal("a busy entry was swept")
	}
	if n := tb.Sweep(200); n != 9999 {
		t.Fatalf("second Sweep dropped %d, want 9999", n)
	}
	after := 0
	for i := range tb.shards {
		after += len(tb.shards[i].arr.Load().s)
	}
	if after >= before/8 {
		t.Fatalf("slots %d -> %d: an empty table should shrink", before, after)
	}
	if tb.Len() != 0 {
		t.Fatalf("Len = %d after sweeping everything", tb.Len())
	}
}

func TestSetMaxKeysLowers(t *testing.T) {
	tb := newTable(1000)
	for k := uint64(2); k < 1002; k++ {
		tb.GetOrInsert(k*0x9e3779b97f4a7c15, 0).at.Store(100)
	}
	tb.SetMaxKeys(10)
	for k := uint64(5000); k < 7000; k++ {
		tb.GetOrInsert(k*0x9e3779b97f4a7c15, 0).at.Store(100)
	}
	if tb.Len() > 1000 {
		t.Fatalf("Len %d grew after lowering the bound", tb.Len())
	}
}

// TestConcurrent inserts, reads and sweeps from many goroutines at once
// (run with -race). Every goroutine that inserts the same key without
// eviction pressure must get the same state.
func TestConcurrent(t *testing.T) {
	tb := newTable(1 << 20)
	const keys = 2000
	workers := 4 * runtime.GOMAXPROCS(0)
	got := make([][]*state, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[w] = make([]*state, keys)
			for i := uint64(0); i < keys; i++ {
				k := (i + 2) * 0x9e3779b97f4a7c15
				s := tb.GetOrInsert(k, 0)
				s.at.Add(1)
				got[w][i] = s
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			// A state inserted but not yet touched is idle at time 0, and a
			// sweep may rightly drop it; sweeping at -1 drops nothing and
			// still exercises the locking against concurrent inserts.
			tb.Sweep(-1)
		}
	}()
	wg.Wait()
	for i := 0; i < keys; i++ {
		for w := 1; w < workers; w++ {
			if got[w][i] != got[0][i] {
				t.Fatalf("key %d: goroutines got different states", i)
			}
		}
		if n := got[0][i].at.Load(); n != int64(workers) {
			t.Fatalf("key %d: %d updates, want %d", i, n, workers)
		}
	}
}

// TestConcurrentPressure sprays keys from many goroutines into a small
// table: it must stay bounded (plus at most one per shard in flight).
func TestConcurrentPressure(t *testing.T) {
	const max = 512
	tb := newTable(max)
	workers := 4 * runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < 5000; i++ {
				tb.GetOrInsert(rng.Uint64(), int64(i)).at.Store(int64(i + 100))
			}
		}()
	}
	wg.Wait()
	if n := tb.Len(); n > max+len(tb.shards) {
		t.Fatalf("Len %d past bound %d + %d shards", n, max, len(tb.shards))
	}
	st := tb.Stats()
	if st.EvictedIdle+st.EvictedActive == 0 {
		t.Fatal("no evictions counted under key spraying")
	}
}
