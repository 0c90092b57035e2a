package server

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// anomalyOff turns every detector off: the hook then costs a nil check.
const anomalyOff = `
anomaly:
  credential_stuffing: {enabled: false}
  enumeration: {enabled: false}
  probing: {enabled: false}
  admin_first_seen: {enabled: false}
  unusual_methods: {enabled: false}
`

// BenchmarkHandleAnomaly measures a proxied request with anomaly detection
// on (the defaults) and off: the difference is what detection costs a
// request (one ring slot on the request path, the detectors' work in their
// goroutine). cpu-ns/op is the whole process's CPU (the in-process
// upstream's and the detector goroutine's included) per request.
func BenchmarkHandleAnomaly(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("anomaly=%v", on), func(b *testing.B) {
			extra := ""
			if !on {
				extra = anomalyOff
			}
			h := newHarness(b, extra)
			if (h.holder.Current().UnroutedAnomaly != nil) != on {
				b.Fatal("anomaly detection not as asked")
			}
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if h.serve("GET", "/api/items/1234").StatusCode() != 200 {
					b.Fatal("not proxied")
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
