package ratelimit

import (
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func benchLimit(b *testing.B, ws Windows) (*Store, *Limit) {
	s := NewStore()
	b.Cleanup(s.Close)
	tb, err := s.Table("bench", 1<<21)
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLimit(tb, LimitConfig{Name: "bench", Default: ws, Thresholds: DefaultThresholds})
	if err != nil {
		b.Fatal(err)
	}
	return s, l
}

// BenchmarkCheck is the limiter's core: find the key's bucket and charge
// every window with one CAS each (granted path, the common one).
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name string
		ws   Windows
	}{
		{"1window", Windows{Second: 1 << 40}},
		{"3windows", Windows{Second: 1 << 40, Minute: 1 << 40, Hour: 1 << 40}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, l := benchLimit(b, bc.ws)
			now := int64(time.Hour)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if l.Check(42, nil, now).Action != Allow {
					b.Fatal("refused")
				}
			}
		})
	}
}

// BenchmarkStage is the whole stage per request: identity hashing, check,
// metrics.
func BenchmarkStage(b *testing.B) {
	for _, bc := range []struct {
		name    string
		p       *pipeline.Principal
		headers bool
	}{
		{"ip", nil, false},
		{"principal", &pipeline.Principal{Kind: pipeline.IdentityJWT, RateKey: "jwt:alice@example.com"}, false},
		{"ip+headers", nil, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, l := benchLimit(b, Windows{Second: 1 << 40})
			st, err := NewStage(s, StageConfig{Route: "bench", Limits: []*Limit{l}, Headers: bc.headers, IPv6Prefix: 64, BanDuration: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			var ctx fasthttp.RequestCtx
			r := &pipeline.Request{Start: s.Epoch().Add(time.Hour), ClientIP: netip.MustParseAddr("2001:db8::1"), Principal: bc.p}
			r.PeerIP = r.ClientIP
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				st.Handle(&ctx, r)
				st.ObserveResponse(&ctx, r)
			}
		})
	}
}
