//go:build !race

package certauth

import (
	"crypto/tls"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
)

// TestKeepAliveRequestsAllocateNothing measures Identify inside the handler
// of a real TLS connection: after the connection's first request it is a
// table lookup.
func TestKeepAliveRequestsAllocateNothing(t *testing.T) {
	ca := certtest.NewCA(t, "ca")
	a := New(Config{})
	s := startServer(t, ca, a, tls.RequireAndVerifyClientCert)
	var allocs float64 = -1
	var same bool
	hook := func(ctx *fasthttp.RequestCtx) {
		if ctx.ConnRequestNum() != 2 {
			return
		}
		first, _ := a.Identify(ctx)
		allocs = testing.AllocsPerRun(100, func() {
			if _, err := a.Identify(ctx); err != nil {
				t.Error(err)
			}
		})
		again, _ := a.Identify(ctx)
		same = first == again
	}
	s.hook.Store(&hook)
	c := client(ca, ca.Client(t, certtest.Names{CommonName: "svc", DNS: []string{"svc.corp"}}))
	for range 2 {
		if status, body, err := get(t, c, s.addr); err != nil || status != 200 {
			t.Fatalf("%d %q %v", status, body, err)
		}
	}
	if allocs != 0 || !same {
		t.Errorf("allocs per keep-alive request = %.1f, shared identity %v", allocs, same)
	}
}
