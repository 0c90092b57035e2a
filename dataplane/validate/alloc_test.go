//go:build !race

package validate

import (
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestHandleAllocs(t *testing.T) {
	s, err := New(Rules{Route: "orders", MediaTypes: []string{"application/json"}, MaxBodyBytes: 4096,
		MaxHeaders: 100, MaxURIBytes: 8192, MaxQueryParams: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx := request(t, post("application/json; charset=utf-8", `{"a":1}`))
	r := &pipeline.Request{}
	if n := testing.AllocsPerRun(200, func() {
		if s.Handle(ctx, r) != pipeline.Continue {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("Handle allocates %.1f times per request", n)
	}
}

func TestJSONCheckAllocs(t *testing.T) {
	s := jsonStage(t)
	ctx := request(t, post("application/json", `{"sku":"ABC-1234","qty":2,"note":"fragile","tags":["a","b"]}`))
	r := &pipeline.Request{}
	s.Handle(ctx, r) // the request's JSON reader grows its buffers once
	if n := testing.AllocsPerRun(200, func() {
		if s.Handle(ctx, r) != pipeline.Continue {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("a valid JSON body costs %.1f allocations", n)
	}
}
