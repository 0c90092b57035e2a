//go:build !race

package pipelined

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestDoAllocatesNothing: a pipelined round trip allocates nothing in
// steady state.
func TestDoAllocatesNothing(t *testing.T) {
	addr := echoServer(t, 0)
	c := newClient(t, addr, &dialer{}, func(cfg *Config) { cfg.Conns = 1 })
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + addr + "/alloc")
	for i := 0; i < 10; i++ {
		if err := c.Do(req, resp); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(200, func() {
		if err := c.Do(req, resp); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%.1f allocations per request, want 0", n)
	}
}
