package tracing

import (
	"testing"
	"time"
)

// BenchmarkRecordUnsampled is the cost a request pays with export on when
// its trace is not sampled.
func BenchmarkRecordUnsampled(b *testing.B) {
	c := startCollector(b)
	x, err := New(testOptions(c.url))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	r, m, end := request("00", true), []byte("GET"), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		x.Record(r, m, 200, end)
	}
}

// BenchmarkRecordSampled is the request path's cost of a sampled span (the
// copy into the queue; building and exporting it happen on the export
// goroutine). The queue is large enough that most are queued.
func BenchmarkRecordSampled(b *testing.B) {
	c := startCollector(b)
	o := testOptions(c.url)
	o.Queue, o.Batch = 1<<16, 1<<12
	x, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	r, m, end := request("01", true), []byte("GET"), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		x.Record(r, m, 200, end)
	}
	b.ReportMetric(float64(x.Dropped())/float64(b.N), "dropped/op")
}
