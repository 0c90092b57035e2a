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
	for _, c := range []struct {
		name      string
		balance   Balance
		pipelined int
	}{
		{"round_robin", RoundRobin, 0},
		{"least_conn", LeastConn, 0},
		{"pipelined", RoundRobin, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			testPipelineConns = c.pipelined
			p := benchPool(t, c.balance)
			testPipelineConns = 0
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
