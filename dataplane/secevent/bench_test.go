package secevent

import (
	"io"
	"net/netip"
	"testing"
	"time"
)

func benchEvent() Event {
	return Event{Type: LimitRefused, Time: time.Now(), ClientIP: netip.MustParseAddr("203.0.113.9"), Route: "api",
		RequestID: []byte("4bf92f3577b34da6a3ce929d0e0e4736"), Reason: "rate_limited", Detail: "minute", Status: 429}
}

// BenchmarkEmit is the request path's cost of one queued event: the ring
// is emptied (untimed) before it fills, so nothing is dropped.
func BenchmarkEmit(b *testing.B) {
	l, err := Open(Options{Writer: io.Discard, Buffer: 8192})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := benchEvent()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i++; i%4096 == 0 {
			b.StopTimer()
			l.Sync()
			b.StartTimer()
		}
		l.Emit(&e)
	}
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkEmitDropped is the cost of an event the full ring refuses.
func BenchmarkEmitDropped(b *testing.B) {
	l, err := Open(Options{Writer: io.Discard, Buffer: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := benchEvent()
	l.Emit(&e)
	b.ReportAllocs()
	for b.Loop() {
		l.Emit(&e)
	}
}

// BenchmarkEmitParallel is Emit from every P at once, mostly into a full
// ring (the writer wakes every 50 ms): the cost under a flood.
func BenchmarkEmitParallel(b *testing.B) {
	l, err := Open(Options{Writer: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := benchEvent()
		for pb.Next() {
			l.Emit(&e)
		}
	})
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkEncode is the writer goroutine's cost of one line.
func BenchmarkEncode(b *testing.B) {
	var r record
	e := benchEvent()
	r.set(&e)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRecord(buf[:0], &r, 3, r.time)
	}
}

// BenchmarkAggregate is the writer goroutine's cost of one repeated event:
// a table lookup and a copy, no line written.
func BenchmarkAggregate(b *testing.B) {
	l := &Log{window: time.Hour, line: make([]byte, 0, 1024)}
	l.agg.init()
	l.out.w = io.Discard
	var r record
	e := benchEvent()
	r.set(&e)
	now := time.Now()
	l.handle(&r, now) // the first is written
	b.ReportAllocs()
	for b.Loop() {
		l.handle(&r, now)
	}
}
