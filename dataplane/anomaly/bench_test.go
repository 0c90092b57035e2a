package anomaly

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/secevent"
)

// BenchmarkObserve is the request path's cost: one observation into the
// ring (drained between rounds, off the clock, as the detector goroutine
// would).
func BenchmarkObserve(b *testing.B) {
	cfg := testConfig()
	if err := cfg.Compile(); err != nil {
		b.Fatal(err)
	}
	d := New(Options{Manual: true, Log: quiet})
	d.report = func(*secevent.Event) {}
	rt := d.Route("api", cfg)
	method, path, client := []byte("GET"), []byte("/customers/12345"), ip("192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%(DefaultBuffer/2) == 0 {
			b.StopTimer()
			d.Step()
			b.StartTimer()
		}
		rt.Observe(method, 200, client, "", path)
	}
	if d.Dropped() != 0 {
		b.Fatalf("%d dropped", d.Dropped())
	}
}

// BenchmarkObserveParallel: both cores observing at once into one ring
// that the detector goroutine drains every 20 ms; a flood this fast fills
// the ring, so most of these are the drop path (dropped/op says how many).
func BenchmarkObserveParallel(b *testing.B) {
	cfg := testConfig()
	if err := cfg.Compile(); err != nil {
		b.Fatal(err)
	}
	d := New(Options{})
	defer d.Close()
	rt := d.Route("api", cfg)
	method, path, client := []byte("GET"), []byte("/customers/12345"), ip("192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rt.Observe(method, 200, client, "", path)
		}
	})
	b.ReportMetric(float64(d.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkDetect is the detector goroutine's cost per observation
// (drain, baselines, every detector), off the request path.
func BenchmarkDetect(b *testing.B) {
	cfg := testConfig()
	if err := cfg.Compile(); err != nil {
		b.Fatal(err)
	}
	clk := newClock()
	d := New(Options{Manual: true, Now: clk.now, Log: quiet})
	d.report = func(*secevent.Event) {}
	rt := d.Route("api", cfg)
	paths := make([][]byte, 4096)
	for i := range paths {
		paths[i] = []byte(fmt.Sprintf("/customers/%d", i))
	}
	method, client := []byte("GET"), ip("192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		rt.Observe(method, 200, client, "", paths[i%len(paths)])
		if i%1024 == 1023 {
			d.Step()
		}
	}
	d.Step()
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's CPU time: on a shared, loaded machine
// cpu-ns/op is steadier than ns/op, which counts waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
