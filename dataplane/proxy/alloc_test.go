//go:build !race

package proxy

import (
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// TestForwardDoesNotAllocate proves the steady-state promise: once the
// keep-alive connections exist, a proxied request allocates nothing, in the
// proxy, in fasthttp's client or in the upstream server.
func TestForwardDoesNotAllocate(t *testing.T) {
	for _, balance := range []Balance{RoundRobin, LeastConn} {
		t.Run(balance.String(), func(t *testing.T) {
			p := benchPool(t, balance)
			ctx, r := benchRequest()
			stage := &Stage{Pool: p, StripPrefix: "/api"}
			for i := 0; i < 100; i++ { // warm up connections and buffers
				stage.Handle(ctx, r)
			}
			allocs := testing.AllocsPerRun(500, func() {
				if v := stage.Handle(ctx, r); v != pipeline.Continue {
					t.Fatalf("verdict %d status %d", v, ctx.Response.StatusCode())
				}
			})
			if allocs != 0 {
				t.Errorf("Forward allocates %.2f times per request, want 0", allocs)
			}
		})
	}
}
