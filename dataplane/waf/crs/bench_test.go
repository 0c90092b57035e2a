package crs

import (
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
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

// BenchmarkInspectOptions compares, in one run, CRS with the gateway's
// @rx ("default") against Coraza's own @rx with its SecRxPreFilter on
// (what the gateway ran before: "coraza-rx-prefilter") and off
// ("coraza-rx"), without the msg/logdata rewrite ("keep-messages"), and
// against a floor where a CRS @rx that does not match costs one map
// look-up ("rx-oracle": its answers for the benchmark's inputs are
// remembered from the first request, so what remains is Coraza's rule
// loop, variable collection, transformations and other operators), for
// the GET and the 1 KB JSON POST at paranoia 1 and 2. Run it with -count
// to interleave the variants.
func BenchmarkInspectOptions(b *testing.B) {
	registerOracleRx.Do(func() {
		plugins.RegisterOperator("edgeguardRxOracle", func(o plugintypes.OperatorOptions) (plugintypes.Operator, error) {
			op, err := newRx(o)
			if err != nil {
				return nil, err
			}
			return &oracleRx{rx: op.(*rx), memo: map[string]bool{}}, nil
		})
	})
	for _, bc := range []struct {
		name string
		spec reqSpec
	}{{"get", benchGET}, {"json1k", benchJSON}} {
		for _, pl := range []int{1, 2} {
			for _, v := range []struct {
				name string
				cfg  Config
			}{
				{"default", Config{Paranoia: pl}},
				{"coraza-rx-prefilter", Config{Paranoia: pl, corazaRx: true, corazaPrefilter: true}},
				{"coraza-rx", Config{Paranoia: pl, corazaRx: true}},
				{"keep-messages", Config{Paranoia: pl, keepMessages: true}},
				{"rx-oracle", Config{Paranoia: pl, rxName: "edgeguardRxOracle"}},
			} {
				b.Run(bc.name+"/pl"+strconv.Itoa(pl)+"/"+v.name, func(b *testing.B) {
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
}

var registerOracleRx sync.Once

// oracleRx is the floor's @rx: it remembers which inputs do not match (a
// benchmark, one goroutine, sends the same ones again) and answers those
// with one map look-up; a match runs the real operator, for its captures.
type oracleRx struct {
	*rx
	memo map[string]bool
}

func (o *oracleRx) Evaluate(tx plugintypes.TransactionState, value string) bool {
	if m, ok := o.memo[value]; ok && !m {
		return false
	}
	m := o.rx.Evaluate(tx, value)
	o.memo[value] = m
	return m
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
