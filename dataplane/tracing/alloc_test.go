//go:build !race

package tracing

import (
	"testing"
	"time"
)

// TestRecordAllocs: the request path allocates nothing, sampled or not,
// queued or dropped.
func TestRecordAllocs(t *testing.T) {
	c := startCollector(t)
	x, err := New(testOptions(c.url))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	end := time.Now()
	for _, flags := range []string{"00", "01"} {
		r := request(flags, true)
		if n := testing.AllocsPerRun(1000, func() { x.Record(r, []byte("GET"), 200, end) }); n != 0 {
			t.Errorf("flags %s: %.1f allocs per request", flags, n)
		}
	}
}
