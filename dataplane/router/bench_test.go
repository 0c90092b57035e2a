package router

import (
	"fmt"
	"testing"
)

// benchSpecs returns n routes shaped like a real gateway config: versioned
// API prefixes, exact resource routes with methods, host-specific and
// wildcard-host routes, and case-insensitive static paths.
func benchSpecs(n int) []Spec[int] {
	specs := make([]Spec[int], 0, n)
	for i := range n {
		s := Spec[int]{Name: fmt.Sprintf("r%d", i), Value: i}
		switch i % 5 {
		case 0:
			s.Path, s.Kind = fmt.Sprintf("/api/v1/svc%d/", i), Prefix
		case 1:
			s.Path, s.Kind, s.Methods = fmt.Sprintf("/api/v1/svc%d/items", i), Exact, []string{"GET", "POST"}
		case 2:
			s.Host, s.Path, s.Kind = "api.example.com", fmt.Sprintf("/v2/svc%d", i), Prefix
		case 3:
			s.Host, s.Path, s.Kind = "*.example.com", fmt.Sprintf("/tenant/svc%d", i), Prefix
		case 4:
			s.Path, s.Kind, s.CaseInsensitive = fmt.Sprintf("/static/svc%d/index.html", i), Exact, true
		}
		specs = append(specs, s)
	}
	return specs
}

type benchRequest struct{ host, method, path []byte }

// benchRequests returns a request that hits the last prefix route of the
// table, and one that misses every route after passing through host groups.
func benchRequests(n int) (hit, miss benchRequest) {
	last := (n - 1) / 5 * 5 // the last "case 0" route
	hit = benchRequest{[]byte("www.example.com"), []byte("GET"), []byte(fmt.Sprintf("/api/v1/svc%d/orders/42", last))}
	miss = benchRequest{[]byte("api.example.com:443"), []byte("GET"), []byte("/api/v1/unknown-service/orders/42")}
	return hit, miss
}

func benchmarkMatch(b *testing.B, n int, hit bool) {
	tab, err := New(benchSpecs(n))
	if err != nil {
		b.Fatal(err)
	}
	h, m := benchRequests(n)
	rq, want := h, Matched
	if !hit {
		rq, want = m, NoRoute
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, res := tab.Match(rq.host, rq.method, rq.path); res != want {
			b.Fatalf("Match = %v; want %v", res, want)
		}
	}
}

func BenchmarkMatch10Hit(b *testing.B)   { benchmarkMatch(b, 10, true) }
func BenchmarkMatch10Miss(b *testing.B)  { benchmarkMatch(b, 10, false) }
func BenchmarkMatch200Hit(b *testing.B)  { benchmarkMatch(b, 200, true) }
func BenchmarkMatch200Miss(b *testing.B) { benchmarkMatch(b, 200, false) }
