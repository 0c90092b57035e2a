package pipelined

import (
	"net"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkRoundTrip compares a pipelined round trip with fasthttp's
// HostClient against the same upstream, 64 callers at once, allocations
// reported. Run with -cpu 1 for the gateway's one-core case.
func BenchmarkRoundTrip(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}
	go s.Serve(ln)
	defer s.Shutdown()
	addr := ln.Addr().String()
	dial := func(a string) (net.Conn, error) { return net.Dial("tcp", a) }

	pc, err := New(Config{Addr: addr, Dial: dial, Conns: 2, MaxPending: 128})
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	hc := &fasthttp.HostClient{Addr: addr, Dial: dial, MaxConns: 128}
	for _, c := range []struct {
		name string
		do   func(*fasthttp.Request, *fasthttp.Response) error
	}{
		{"pipelined", pc.Do},
		{"hostclient", hc.Do},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(64)
			var once sync.Once
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI("http://" + addr + "/")
				for pb.Next() {
					if err := c.do(req, resp); err != nil {
						once.Do(func() { b.Error(err) })
						return
					}
				}
			})
		})
	}
}
