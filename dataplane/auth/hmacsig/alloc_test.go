//go:build !race

package hmacsig

import "testing"

func TestVerifyAllocatesNothing(t *testing.T) {
	v := newVerifier(t, 1<<16)
	ctxs := signedCtxs(t, 600)
	for _, c := range ctxs[:100] { // warm pools and URI parsing
		if _, err := v.Verify(c, c.URI().Path(), t0); err != nil {
			t.Fatal(err)
		}
		_ = c.URI().QueryString()
	}
	for _, c := range ctxs[100:] {
		// A server reuses each RequestCtx; its header key buffer grows once.
		_ = c.URI().QueryString()
		_ = c.Request.Header.Peek("X-Request-Nonce")
	}
	i := 100
	if n := testing.AllocsPerRun(400, func() {
		c := ctxs[i]
		i++
		if _, err := v.Verify(c, c.URI().Path(), t0); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Verify allocates %.2f per request", n)
	}
}
