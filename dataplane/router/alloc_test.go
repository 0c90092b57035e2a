//go:build !race

package router

import "testing"

func TestMatchAllocs(t *testing.T) {
	tab, err := New(benchSpecs(200))
	if err != nil {
		t.Fatal(err)
	}
	hit, miss := benchRequests(200)
	for _, tc := range []struct {
		name string
		rq   benchRequest
	}{
		{name: "hit", rq: hit},
		{name: "miss", rq: miss},
		{name: "case-insensitive", rq: benchRequest{[]byte("x"), []byte("GET"), []byte("/STATIC/svc4/index.html")}},
		{name: "method not allowed", rq: benchRequest{nil, []byte("DELETE"), []byte("/api/v1/svc1/items")}},
		{name: "custom method", rq: benchRequest{nil, []byte("PROPFIND"), []byte("/api/v1/svc1/items")}},
		{name: "ipv6 host", rq: benchRequest{[]byte("[::1]:80"), []byte("GET"), []byte("/")}},
	} {
		if n := testing.AllocsPerRun(100, func() {
			tab.Match(tc.rq.host, tc.rq.method, tc.rq.path)
		}); n != 0 {
			t.Errorf("%s: Match allocates %v times per run; want 0", tc.name, n)
		}
	}
}
