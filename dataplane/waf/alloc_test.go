//go:build !race

package waf

import (
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestCleanRequestAllocs(t *testing.T) {
	s, err := New(Config{Route: "r", Tier1: detector(t), Mode1: Block})
	if err != nil {
		t.Fatal(err)
	}
	ctx := request(t, "GET /items/42?q=blue+widget&page=2 HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8.0\r\nCookie: s=abc123\r\n\r\n")
	r := &pipeline.Request{}
	s.Handle(ctx, r)
	if n := testing.AllocsPerRun(200, func() {
		if s.Handle(ctx, r) != pipeline.Continue {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("a clean request costs %.1f allocations", n)
	}
}
