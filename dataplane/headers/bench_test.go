package headers

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// BenchmarkHandle measures the request side including re-parsing the
// request head; BenchmarkParseOnly is that parsing alone, to subtract.
func BenchmarkHandle(b *testing.B) {
	s := newStage(b, Options{TrustedProxies: testTrusted})
	for _, tc := range requestCases {
		b.Run(tc.name, func(b *testing.B) {
			ctx, r, reset := reusableRequest(tc.head, tc.peer)
			b.ReportAllocs()
			for b.Loop() {
				reset()
				s.Handle(ctx, r)
			}
		})
	}
}

func BenchmarkParseOnly(b *testing.B) {
	for _, tc := range requestCases {
		b.Run(tc.name, func(b *testing.B) {
			_, _, reset := reusableRequest(tc.head, tc.peer)
			b.ReportAllocs()
			for b.Loop() {
				reset()
			}
		})
	}
}

func BenchmarkHandleResponse(b *testing.B) {
	s := newStage(b, Options{
		SetResponseHeaders:    DefaultSecurityHeaders(),
		RemoveResponseHeaders: []string{"Server", "X-Powered-By"},
	})
	ctx := &fasthttp.RequestCtx{}
	r := &pipeline.Request{
		RequestID:   []byte("0123456789abcdef0123456789abcdef"),
		TraceParent: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
	}
	b.ReportAllocs()
	for b.Loop() {
		resp := &ctx.Response
		resp.Reset()
		resp.Header.Set("Content-Type", "application/json")
		resp.Header.Set("Server", "nginx")
		resp.Header.Set("X-App", "1")
		s.HandleResponse(ctx, r)
	}
}

func BenchmarkRequestID(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			buf = appendRequestID(buf[:0])
		}
	})
}

// BenchmarkTraceContext is the cost of continuing a caller's trace: the
// new traceparent and a checked, bounded copy of a two-member tracestate.
func BenchmarkTraceContext(b *testing.B) {
	tp := []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ts := [][]byte{[]byte("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")}
	var out, state []byte
	b.ReportAllocs()
	for b.Loop() {
		out = continueTraceparent(out[:0], tp, newSpanID())
		state = appendTracestate(state[:0], ts)
	}
}
