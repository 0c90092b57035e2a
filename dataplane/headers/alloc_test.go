//go:build !race

package headers

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestHandleAllocs(t *testing.T) {
	s := newStage(t, Options{TrustedProxies: testTrusted})
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, r, reset := reusableRequest(tc.head, tc.peer)
			run := func() {
				reset()
				s.Handle(ctx, r)
			}
			run() // grow buffers
			if n := testing.AllocsPerRun(200, run); n != 0 {
				t.Errorf("Handle allocates %.1f times per request", n)
			}
		})
	}
}

func TestHandleResponseAllocs(t *testing.T) {
	s := newStage(t, Options{
		TrustedProxies:        testTrusted,
		SetResponseHeaders:    DefaultSecurityHeaders(),
		RemoveResponseHeaders: []string{"Server", "X-Powered-By"},
	})
	ctx := &fasthttp.RequestCtx{}
	r := &pipeline.Request{}
	run := func() {
		resp := &ctx.Response
		resp.Reset()
		resp.Header.Set("Connection", "X-Internal")
		resp.Header.Set("X-Internal", "1")
		resp.Header.Set("Keep-Alive", "timeout=5")
		resp.Header.Set("Server", "nginx")
		resp.Header.Set("X-Powered-By", "PHP")
		resp.Header.Set("X-Frame-Options", "SAMEORIGIN")
		r.RequestID = r.RequestID[:0]
		r.TraceParent = r.TraceParent[:0]
		s.HandleResponse(ctx, r)
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("HandleResponse allocates %.1f times per response", n)
	}
}

func TestContentCharsetAllocs(t *testing.T) {
	for _, ct := range []string{"application/json", "application/json; charset=UTF-8", `text/plain; charset="utf-16le"`,
		"text/plain; charset=windows-1252", "text/plain; charset=utf-7", "text/plain; charset=" + string(make([]byte, 40))} {
		b := []byte(ct)
		if n := testing.AllocsPerRun(100, func() { ContentCharset(b) }); n != 0 {
			t.Errorf("ContentCharset(%q) allocates %v times", ct, n)
		}
	}
}
