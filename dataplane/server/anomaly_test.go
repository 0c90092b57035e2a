package server

import (
	"fmt"
	"testing"
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
// on (the defaults) and off: the difference is what the request path pays
// for detection (one ring slot; the detectors run in their goroutine).
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
			for b.Loop() {
				if h.serve("GET", "/api/items/1234").StatusCode() != 200 {
					b.Fatal("not proxied")
				}
			}
		})
	}
}
