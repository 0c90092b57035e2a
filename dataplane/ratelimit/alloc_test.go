//go:build !race

package ratelimit

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestStageAllocatesNothing(t *testing.T) {
	tests := []struct {
		name    string
		headers bool
		limit   Windows
		p       *pipeline.Principal
	}{
		{"allowed, ip key", false, Windows{Second: 1 << 40}, nil},
		{"allowed with headers", true, Windows{Second: 1 << 40, Hour: 1 << 40}, nil},
		{"allowed, principal key", false, Windows{Second: 1 << 40}, &pipeline.Principal{Kind: pipeline.IdentityJWT, RateKey: "jwt:alice"}},
		{"rejected with Retry-After and headers", true, Windows{Hour: 1}, nil},
		{"banned (closed)", false, Windows{Hour: 1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{headers: tc.headers}, LimitConfig{Name: "a", Default: tc.limit, BurstBan: true, MaxDelay: time.Millisecond})
			var ctx fasthttp.RequestCtx
			r := &pipeline.Request{}
			run := func() {
				r.Reset()
				r.Start = f.store.Epoch().Add(f.now)
				from("192.0.2.1")(r)
				r.Principal = tc.p
				f.stage.Handle(&ctx, r)
				f.stage.ObserveResponse(&ctx, r)
			}
			for i := 0; i < 100; i++ {
				run() // reach steady state (bucket inserted, ban issued)
			}
			if n := testing.AllocsPerRun(1000, run); n != 0 {
				t.Fatalf("allocs per request = %v, want 0", n)
			}
		})
	}
}
