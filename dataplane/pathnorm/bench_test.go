package pathnorm

import (
	"strings"
	"testing"
)

func benchmarkNormalize(b *testing.B, raw string) {
	in := []byte(raw)
	dst := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		dst, err = Normalize(dst[:0], in)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeTypical(b *testing.B) {
	benchmarkNormalize(b, "/api/v1/customers/8c3f2a1e/orders/latest")
}

func BenchmarkNormalizeEncoded(b *testing.B) {
	benchmarkNormalize(b, "/api/v1/search/caf%c3%a9%20au%20lait/%7euser")
}

func BenchmarkNormalizeHostile(b *testing.B) {
	benchmarkNormalize(b, strings.Repeat("/a//./", 500)+strings.Repeat("/../../..", 1000))
}
