package reqmetrics

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func scrape(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	return buf.String()
}

func TestObserveCountsByClass(t *testing.T) {
	name := fmt.Sprintf("rm-test-%d", time.Now().UnixNano()) // fresh series on every -count run
	r := ForRoute(name)
	for _, tc := range []struct {
		status int
		class  string
	}{{200, "2xx"}, {201, "2xx"}, {404, "4xx"}, {503, "5xx"}, {99, "other"}, {700, "other"}} {
		r.Observe(tc.status, time.Millisecond)
	}
	out := scrape(t)
	for _, want := range []string{
		`edgeguard_requests_total{route="` + name + `",class="2xx"} 2`,
		`edgeguard_requests_total{route="` + name + `",class="4xx"} 1`,
		`edgeguard_requests_total{route="` + name + `",class="5xx"} 1`,
		`edgeguard_requests_total{route="` + name + `",class="other"} 2`,
		`edgeguard_request_duration_seconds_count{route="` + name + `"} 6`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if ForRoute(name).byClass[2] != r.byClass[2] {
		t.Error("ForRoute with the same name must continue the same series")
	}
}

func TestDenied(t *testing.T) {
	before := denied[pipeline.ReasonNoRoute].Get()
	Denied(pipeline.ReasonNoRoute)
	Denied(pipeline.ReasonNone) // ignored
	if got := denied[pipeline.ReasonNoRoute].Get() - before; got != 1 {
		t.Errorf("no_route rose by %d, want 1", got)
	}
	if !strings.Contains(scrape(t), `edgeguard_denied_total{reason="no_route"}`) {
		t.Error("no_route not exported")
	}
}

func BenchmarkObserve(b *testing.B) {
	r := ForRoute("rm-bench")
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(200, 150*time.Microsecond)
	}
}
