package ratelimit

import (
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/edgeguard/edgeguard/dataplane/ratelimit"
)

// Every limiter is set so high that each check is granted: the common
// path, which writes state (a refusal only reads it).
const (
	perSecond = 1 << 40
	keys1M    = 1 << 20
)

// limiter is one implementation under test: check charges one request of
// key at now (ns; implementations that read the clock themselves ignore it).
type limiter interface {
	check(key uint64, now int64) bool
}

// edgeguard is the gateway's limiter: one GCRA word per key and window in
// a sharded lock-free table.
type edgeguard struct{ l *ratelimit.Limit }

func newEdgeguard(tb testing.TB, maxKeys int) *edgeguard {
	s := ratelimit.NewStore()
	tb.Cleanup(s.Close)
	t, err := s.Table("bench", maxKeys)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := ratelimit.NewLimit(t, ratelimit.LimitConfig{
		Name: "bench", Default: ratelimit.Windows{ratelimit.Second: perSecond}, Thresholds: ratelimit.DefaultThresholds,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &edgeguard{l: l}
}

func (e *edgeguard) check(key uint64, now int64) bool {
	return e.l.Check(key, nil, now).Action == ratelimit.Allow
}

func newRate() *rate.Limiter { return rate.NewLimiter(perSecond, 1<<40) }

// mutexMap is the common x/time/rate pattern: a map of limiters behind a
// mutex, the limiter's own Allow (which reads the clock) outside it.
type mutexMap struct {
	mu sync.Mutex
	m  map[uint64]*rate.Limiter
	// callerClock uses AllowN with the caller's time, as edgeguard does
	// (it takes the request's start time), to compare without time.Now.
	callerClock bool
	epoch       time.Time
}

func (mm *mutexMap) check(key uint64, now int64) bool {
	mm.mu.Lock()
	l := mm.m[key]
	if l == nil {
		l = newRate()
		mm.m[key] = l
	}
	mm.mu.Unlock()
	if mm.callerClock {
		return l.AllowN(mm.epoch.Add(time.Duration(now)), 1)
	}
	return l.Allow()
}

// syncMap is the other common pattern: sync.Map of limiters.
type syncMap struct{ m sync.Map }

func (sm *syncMap) check(key uint64, now int64) bool {
	v, ok := sm.m.Load(key)
	if !ok {
		v, _ = sm.m.LoadOrStore(key, newRate())
	}
	return v.(*rate.Limiter).Allow()
}

type impl struct {
	name string
	make func(tb testing.TB, keys int) limiter
}

var impls = []impl{
	{"edgeguard", func(tb testing.TB, keys int) limiter { return newEdgeguard(tb, 2*keys) }},
	{"xrate-mutexmap", func(tb testing.TB, keys int) limiter {
		return &mutexMap{m: make(map[uint64]*rate.Limiter, keys)}
	}},
	{"xrate-mutexmap-callerclock", func(tb testing.TB, keys int) limiter {
		return &mutexMap{m: make(map[uint64]*rate.Limiter, keys), callerClock: true, epoch: time.Now()}
	}},
	{"xrate-syncmap", func(tb testing.TB, keys int) limiter { return &syncMap{} }},
}

// key spreads key indexes over the 64-bit space, like identity hashes.
func key(i uint64) uint64 { return (i + 1) * 0x9e3779b97f4a7c15 }

const now = int64(time.Hour)

func prefill(l limiter, keys int) {
	for i := 0; i < keys; i++ {
		l.check(key(uint64(i)), now)
	}
}

// BenchmarkSingleThread is one goroutine checking one key.
func BenchmarkSingleThread(b *testing.B) {
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			l := im.make(b, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !l.check(42, now) {
					b.Fatal("refused")
				}
			}
		})
	}
}

// parallel runs check under b.RunParallel over keys keys (1: every
// goroutine hits the same key, the worst contention).
func parallel(b *testing.B, l limiter, keys int) {
	b.ReportAllocs()
	b.SetParallelism(4) // 4 goroutines per GOMAXPROCS: more contenders than cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		x := uint64(time.Now().UnixNano()) | 1
		for pb.Next() {
			k := uint64(42)
			if keys > 1 {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				k = key(x & uint64(keys-1))
			}
			l.check(k, now)
		}
	})
}

// BenchmarkParallel1Key: all goroutines on one key.
func BenchmarkParallel1Key(b *testing.B) {
	for _, im := range impls {
		l := im.make(b, 1)
		b.Run(im.name, func(b *testing.B) { parallel(b, l, 1) })
	}
}

// BenchmarkParallel1MKeys: random keys among 1M tracked ones.
func BenchmarkParallel1MKeys(b *testing.B) {
	for _, im := range impls {
		l := im.make(b, keys1M) // once: b.Run calls its function with growing b.N
		prefill(l, keys1M)
		b.Run(im.name, func(b *testing.B) { parallel(b, l, keys1M) })
	}
}

// BenchmarkSpeedup measures edgeguard and the mutex-map x/time/rate
// pattern in the same run and reports how many times faster edgeguard is
// (x-faster; x-faster-callerclock against AllowN with the caller's time),
// with one hot key and with 1M keys. Each side runs a fixed number of
// checks from 4*GOMAXPROCS goroutines, alternating A/B/A/B five times; the
// medians are compared. Measured once per process, reported on every call.
func BenchmarkSpeedup(b *testing.B) {
	for _, bc := range []struct {
		name string
		keys int
		ops  int
	}{{"1key", 1, 2_000_000}, {"1Mkeys", keys1M, 1_000_000}} {
		var once sync.Once
		var eg, mm, mmc float64
		b.Run(bc.name, func(b *testing.B) {
			once.Do(func() {
				ls := make([]limiter, 3)
				for i := range ls {
					ls[i] = impls[i].make(b, bc.keys)
					prefill(ls[i], bc.keys)
				}
				var runs [3][]float64
				for round := 0; round < 5; round++ {
					for i, l := range ls {
						runs[i] = append(runs[i], timeParallel(l, bc.keys, bc.ops))
					}
				}
				eg, mm, mmc = median(runs[0]), median(runs[1]), median(runs[2])
			})
			for i := 0; i < b.N; i++ {
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(eg, "edgeguard-ns/op")
			b.ReportMetric(mm, "xrate-ns/op")
			b.ReportMetric(mm/eg, "x-faster")
			b.ReportMetric(mmc/eg, "x-faster-callerclock")
		})
	}
}

// timeParallel runs ops checks split over 4*GOMAXPROCS goroutines and
// returns the wall time per check in ns.
func timeParallel(l limiter, keys, ops int) float64 {
	g := 4 * runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(w)*0x2545f4914f6cdd1d | 1
			<-start
			for i := 0; i < ops/g; i++ {
				k := uint64(42)
				if keys > 1 {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
					k = key(x & uint64(keys-1))
				}
				l.check(k, now)
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(ops/g*g)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkMemoryPerKey tracks 1M keys and reports the heap each costs
// (measured once per process, reported on every call).
func BenchmarkMemoryPerKey(b *testing.B) {
	for _, im := range impls[:2] {
		var once sync.Once
		var perKey float64
		b.Run(im.name, func(b *testing.B) {
			once.Do(func() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				l := im.make(b, keys1M)
				prefill(l, keys1M)
				runtime.GC()
				runtime.ReadMemStats(&after)
				perKey = float64(after.HeapAlloc-before.HeapAlloc) / keys1M
				runtime.KeepAlive(l)
			})
			for i := 0; i < b.N; i++ {
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(perKey, "bytes/key")
		})
	}
}
