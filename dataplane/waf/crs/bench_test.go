package crs

import (
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// benchGET is a plain API GET with a few query arguments and the headers
// every API client sends (Authorization: Bearer, Accept, X-Request-ID).
var benchGET = reqSpec{Method: "GET", URI: "/api/v1/items?category=tools&page=2&per_page=50&sort=-created_at"}

// benchJSON is a realistic 1 KB JSON POST (testdata/order-1k.json).
var benchJSON = reqSpec{Method: "POST", URI: "/api/v1/orders", File: "order-1k.json"}

// BenchmarkInspect measures one request through CRS from a RequestCtx, as
// the gateway's stage calls it. Besides ns/op it reports cpu-ns/op: the
// process's CPU time (all threads, GC included) per request, which is the
// cost on a loaded machine, where wall time also counts waiting for a
// core.
func BenchmarkInspect(b *testing.B) {
	for _, bc := range []struct {
		name string
		spec reqSpec
	}{{"get", benchGET}, {"json1k", benchJSON}} {
		for _, pl := range []int{1, 2} {
			b.Run(bc.name+"/pl"+string(rune('0'+pl)), func(b *testing.B) {
				w := testWAF(b, Config{Paranoia: pl})
				var ctx fasthttp.RequestCtx
				parseRaw(b, bc.spec.raw(b)).CopyTo(&ctx.Request)
				if res, err := w.Inspect(&ctx, false); err != nil || res.Score != 0 {
					b.Fatalf("benchmark request is not clean: %+v, %v", res, err)
				}
				b.ReportAllocs()
				n := 0
				c0 := processCPU()
				for b.Loop() {
					if _, err := w.Inspect(&ctx, false); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.ReportMetric(float64(processCPU()-c0)/float64(n), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkInspectOptions measures what the load-time optimizations give
// at paranoia 2: the gateway's @rx (rxOperator; "coraza-rx" is Coraza's
// own, "coraza-rx-prefilter" with its unsound SecRxPreFilter on) and the
// msg/logdata rewrite (rulesFS), each turned off, and both.
func BenchmarkInspectOptions(b *testing.B) {
	for _, v := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{Paranoia: 2}},
		{"coraza-rx", Config{Paranoia: 2, corazaRx: true}},
		{"coraza-rx-prefilter", Config{Paranoia: 2, corazaRx: true, corazaPrefilter: true}},
		{"keep-messages", Config{Paranoia: 2, keepMessages: true}},
		{"none", Config{Paranoia: 2, corazaRx: true, keepMessages: true}},
	} {
		for _, bc := range []struct {
			name string
			spec reqSpec
		}{{"get", benchGET}, {"json1k", benchJSON}} {
			b.Run(bc.name+"/"+v.name, func(b *testing.B) {
				w := testWAF(b, v.cfg)
				req := parseRaw(b, bc.spec.raw(b))
				b.ReportAllocs()
				n := 0
				c0 := processCPU()
				for b.Loop() {
					if _, err := w.InspectRequest(req, Peer{}, false); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.ReportMetric(float64(processCPU()-c0)/float64(n), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkCompile is the cost of one engine (a distinct route setting).
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		w, err := New(Config{Paranoia: 2})
		if err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
