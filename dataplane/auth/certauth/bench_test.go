package certauth

import (
	"crypto/tls"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
)

// BenchmarkIdentify measures Identify inside the handler of a real mTLS
// connection: "first" is the first request of a connection (reads the
// verified chain and builds the identity), "keep-alive" every later one (a
// per-connection table lookup).
func BenchmarkIdentify(b *testing.B) {
	ca := certtest.NewCA(b, "ca")
	for _, tc := range []struct {
		name  string
		first bool
	}{{"first", true}, {"keep-alive", false}} {
		b.Run(tc.name, func(b *testing.B) {
			a := New(Config{})
			s := startServer(b, ca, a, tls.RequireAndVerifyClientCert)
			hook := func(ctx *fasthttp.RequestCtx) {
				if _, err := a.Identify(ctx); err != nil {
					b.Error(err)
					return
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					var err error
					if tc.first {
						_, err = a.fromState(ctx)
					} else {
						_, err = a.Identify(ctx)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			s.hook.Store(&hook)
			c := client(ca, ca.Client(b, certtest.Names{CommonName: "svc", DNS: []string{"svc.corp"}}))
			if status, body, err := get(b, c, s.addr); err != nil || status != 200 {
				b.Fatalf("%d %q %v", status, body, err)
			}
		})
	}
}
