// Package fakebench is a tiny benchmark package for the runner's test.
package fakebench

import (
	"fmt"
	"testing"
)

func BenchmarkSum(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			s := 0
			for b.Loop() {
				for i := range n {
					s += i
				}
			}
			b.ReportMetric(float64(n), "items/op")
			_ = s
		})
	}
}

func BenchmarkFail(b *testing.B) {
	b.Fatal("fails on purpose")
}
