//go:build !race

package login

import (
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestLoginAllocatesNothing(t *testing.T) {
	tests := []struct {
		name, ct, body, uri string
		status              int
	}{
		{"json failure", "application/json", `{"username":"alice","password":"x"}`, "/login", 401},
		{"form success", "application/x-www-form-urlencoded", "username=bob&password=y", "/login?next=%2F", 200},
		{"locked", "application/json", `{"username":"locked"}`, "/login", 401},
		{"multipart, padded name", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n \u00e9ve\x00\r\n--b--\r\n", "/login", 401},
		{"query, json as text", "text/plain", `{"password":"x"}`, "/login?UserName=carol", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(fasthttp.MethodPost)
			ctx.Request.Header.SetContentType(tc.ct)
			ctx.Request.SetBodyString(tc.body)
			ctx.Request.SetRequestURI(tc.uri)
			r := &pipeline.Request{}
			run := func() {
				r.Reset()
				r.Start = f.store.Epoch().Add(f.now)
				r.ClientIP = netip.MustParseAddr("192.0.2.9")
				r.PeerIP = r.ClientIP
				ctx.Response.Reset()
				if f.st.Handle(&ctx, r) == pipeline.Continue {
					ctx.Response.SetStatusCode(tc.status)
				}
				f.st.ObserveResponse(&ctx, r)
			}
			for i := 0; i < 10; i++ {
				run()
			}
			if n := testing.AllocsPerRun(500, run); n != 0 {
				t.Fatalf("allocs per attempt = %v, want 0", n)
			}
		})
	}
}
