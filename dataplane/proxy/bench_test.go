package proxy

import (
	"strconv"
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/valyala/fasthttp"
)

func helloHandler(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain")
	ctx.SetBodyString("hello, world")
}

// benchRequest returns a request context as the server would hand it to the
// pipeline, with r.Path set as the normalizer would.
func benchRequest() (*fasthttp.RequestCtx, *pipeline.Request) {
	var req fasthttp.Request
	req.SetRequestURI("/api/v1/items?id=42&sort=asc")
	req.Header.SetHost("api.example.test")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer abcdefghijklmnopqrstuvwxyz")
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, nil, nil)
	r := &pipeline.Request{Path: []byte("/api/v1/items")}
	return ctx, r
}

func benchPool(b testing.TB, balance Balance) *Pool {
	u1, u2 := startUpstream(b, helloHandler), startUpstream(b, helloHandler)
	return newTestPool(b, PoolConfig{Targets: []string{u1.addr, u2.addr}, Balance: balance})
}

// BenchmarkForward measures one proxied request over kept-alive loopback
// TCP, upstream server included.
func BenchmarkForward(b *testing.B) {
	for _, balance := range []Balance{RoundRobin, LeastConn} {
		b.Run(balance.String(), func(b *testing.B) {
			p := benchPool(b, balance)
			ctx, r := benchRequest()
			stage := &Stage{Pool: p, StripPrefix: "/api"}
			b.ReportAllocs()
			for b.Loop() {
				if v := stage.Handle(ctx, r); v != pipeline.Continue || ctx.Response.StatusCode() != 200 {
					b.Fatalf("verdict %d status %d: %s", v, ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
}

// BenchmarkForwardParallel runs Forward from 64 goroutines per
// GOMAXPROCS, as many client connections would, over ordinary and
// pipelined upstream connections.
func BenchmarkForwardParallel(b *testing.B) {
	for _, pipelined := range []int{0, 2} {
		b.Run("pipelined="+strconv.Itoa(pipelined), func(b *testing.B) {
			testPipelineConns = pipelined
			p := benchPool(b, LeastConn)
			testPipelineConns = 0
			b.ReportAllocs()
			b.SetParallelism(64)
			b.RunParallel(func(pb *testing.PB) {
				ctx, r := benchRequest()
				for pb.Next() {
					if v := p.Forward(ctx, r); v != pipeline.Continue {
						b.Errorf("verdict %d status %d", v, ctx.Response.StatusCode())
						return
					}
				}
			})
		})
	}
}

// BenchmarkBareHostClient is the floor: the same request through one
// fasthttp.HostClient with no pool logic.
func BenchmarkBareHostClient(b *testing.B) {
	u := startUpstream(b, helloHandler)
	c := &fasthttp.HostClient{Addr: u.addr, NoDefaultUserAgentHeader: true,
		DisableHeaderNamesNormalizing: true, DisablePathNormalizing: true}
	b.Cleanup(c.CloseIdleConnections)
	ctx, _ := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(&ctx.Request, &ctx.Response); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPick measures target selection alone.
func BenchmarkPick(b *testing.B) {
	for _, balance := range []Balance{RoundRobin, LeastConn} {
		b.Run(balance.String(), func(b *testing.B) {
			p, err := NewPool(PoolConfig{Name: "bench-pick", Balance: balance,
				Targets: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(p.Close)
			b.ReportAllocs()
			for b.Loop() {
				var now lazyNow
				if p.pick(&now) < 0 {
					b.Fatal("no target")
				}
			}
		})
	}
}
