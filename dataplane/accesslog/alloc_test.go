//go:build !race

package accesslog

import (
	"io"
	"testing"
)

func TestLogAllocs(t *testing.T) {
	l := New(io.Discard, 1<<16)
	t.Cleanup(func() { _ = l.Close() })
	e := fullEntry()
	e.Path = []byte("/v1/items/\"quoted\"/\xff") // escaping paths included
	// Size the batch for every measured call: the writer may not run at
	// all meanwhile, and growing the batch is a warm-up cost.
	const runs = 1000
	l.mu.Lock()
	l.batch = make([]byte, 0, (runs+1)*stackLine)
	l.mu.Unlock()
	if n := testing.AllocsPerRun(runs, func() { l.Log(e) }); n != 0 {
		t.Errorf("Log allocates %.1f times per line", n)
	}
	if l.Dropped() != 0 {
		t.Errorf("dropped %d lines", l.Dropped())
	}
}

func TestAppendEntryAllocs(t *testing.T) {
	e := fullEntry()
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(1000, func() { buf = appendEntry(buf[:0], e) }); n != 0 {
		t.Errorf("appendEntry allocates %.1f times", n)
	}
}
