package validate

import (
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func BenchmarkHandle(b *testing.B) {
	s, _ := New(Rules{Route: "orders", MediaTypes: []string{"application/json"}, MaxBodyBytes: 4096,
		MaxHeaders: 100, MaxURIBytes: 8192, MaxQueryParams: 100})
	ctx := request(b, post("application/json; charset=utf-8", `{"a":1}`))
	r := &pipeline.Request{}
	b.ReportAllocs()
	for range b.N {
		s.Handle(ctx, r)
	}
}
