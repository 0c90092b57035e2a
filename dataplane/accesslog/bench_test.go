package accesslog

import (
	"io"
	"testing"
)

func BenchmarkAppendEntry(b *testing.B) {
	e := fullEntry()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEntry(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkLog measures the caller's cost: format, enqueue, and (for the
// queue-full share of calls) drop. The writer discards.
func BenchmarkLog(b *testing.B) {
	l := New(io.Discard, 1<<16)
	defer l.Close()
	e := fullEntry()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

func BenchmarkLogParallel(b *testing.B) {
	l := New(io.Discard, 1<<16)
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := fullEntry()
		for pb.Next() {
			l.Log(e)
		}
	})
}

func BenchmarkEscape(b *testing.B) {
	s := "/v1/items/some-longer-path-segment/héllo/\"x\"\n"
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = appendString(buf[:0], s)
	}
}
