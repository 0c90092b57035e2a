//go:build !race

package auth

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestStageAllocatesNothing(t *testing.T) {
	s := shared(t)
	cases := []struct {
		name string
		rc   RouteConfig
		ctx  *fasthttp.RequestCtx
		want pipeline.Verdict
	}{
		{"cached JWT", RouteConfig{Route: "orders", Methods: MethodJWT, Scopes: []string{"orders:read"}},
			newCtx("/orders", "Authorization", "Bearer "+token(t, nil), "X-Auth_Subject", "forged"), pipeline.Continue},
		{"API key", RouteConfig{Route: "orders", Methods: MethodAPIKey}, newCtx("/orders?a=1", "X-API-Key", goodKey), pipeline.Continue},
		{"missing credentials", RouteConfig{Route: "orders", Methods: MethodJWT | MethodAPIKey}, newCtx("/orders"), pipeline.Done},
		{"bad API key", RouteConfig{Route: "orders", Methods: MethodAPIKey}, newCtx("/orders", "X-API-Key", "nope"), pipeline.Done},
		{"API key in query", RouteConfig{Route: "orders", Methods: MethodAPIKey}, newCtx("/orders?api_key=x"), pipeline.Done},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := NewStage(s, tc.rc)
			if err != nil {
				t.Fatal(err)
			}
			r := &pipeline.Request{}
			// A verified API key is removed before the upstream sees it:
			// each run puts it back, as every real request carries it.
			key := append([]byte(nil), tc.ctx.Request.Header.Peek("X-API-Key")...)
			restore := func() {
				if len(key) > 0 {
					tc.ctx.Request.Header.SetBytesV("X-API-Key", key)
				}
			}
			st.Handle(tc.ctx, r) // warm: the verified-token cache, header buffers
			restore()
			if n := testing.AllocsPerRun(200, func() {
				restore()
				*r = pipeline.Request{}
				if v := st.Handle(tc.ctx, r); v != tc.want {
					t.Fatalf("verdict %v (%s)", v, r.Detail)
				}
			}); n != 0 {
				t.Errorf("allocs per request = %.1f", n)
			}
		})
	}
}
