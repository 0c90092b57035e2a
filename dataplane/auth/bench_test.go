package auth

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// typical request headers besides the credential
var benchHeaders = []string{"User-Agent", "bench/1.0", "Accept", "application/json", "X-Request-ID", "0123456789abcdef0123456789abcdef",
	"Accept-Encoding", "gzip", "Content-Type", "application/json"}

// benchStage measures Handle on a fresh copy of the request headers each
// iteration (as a server sees them); the "copy" sub-benchmark is that copy
// alone, to subtract.
func benchStage(b *testing.B, rc RouteConfig, ctx *fasthttp.RequestCtx) {
	st, err := NewStage(shared(b), rc)
	if err != nil {
		b.Fatal(err)
	}
	var tmpl fasthttp.RequestHeader
	ctx.Request.Header.CopyTo(&tmpl)
	r := &pipeline.Request{Path: []byte("/orders/7")}
	if v := st.Handle(ctx, r); v != pipeline.Continue {
		b.Fatalf("denied: %s", r.Detail)
	}
	b.Run("copy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tmpl.CopyTo(&ctx.Request.Header)
		}
	})
	b.Run("copy+stage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tmpl.CopyTo(&ctx.Request.Header)
			r.Principal = nil
			if st.Handle(ctx, r) != pipeline.Continue {
				b.Fatal(r.Detail)
			}
		}
	})
}

// BenchmarkStageJWTCached is the whole auth stage for a repeated bearer
// token: strip identity headers, find the token, cached verify, scope
// check, set five identity headers.
func BenchmarkStageJWTCached(b *testing.B) {
	ctx := newCtx("/orders/7", append(benchHeaders, "Authorization", "Bearer "+token(b, nil))...)
	benchStage(b, RouteConfig{Route: "orders", Methods: MethodJWT, Scopes: []string{"orders:read"}}, ctx)
}

func BenchmarkStageAPIKey(b *testing.B) {
	ctx := newCtx("/orders/7?page=2", append(benchHeaders, "X-API-Key", goodKey)...)
	benchStage(b, RouteConfig{Route: "orders", Methods: MethodAPIKey | MethodJWT, Scopes: []string{"orders:read"}}, ctx)
}

func BenchmarkStripStage(b *testing.B) {
	ctx := newCtx("/", benchHeaders...)
	st := &StripStage{Headers: shared(b).Identity}
	b.ReportAllocs()
	for b.Loop() {
		st.Handle(ctx, nil)
	}
}
