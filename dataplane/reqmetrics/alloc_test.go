//go:build !race

package reqmetrics

import (
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestObserveAllocatesNothing(t *testing.T) {
	r := ForRoute("rm-alloc")
	if n := testing.AllocsPerRun(1000, func() {
		r.Observe(200, time.Millisecond)
		Denied(pipeline.ReasonNoRoute)
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}
