// Package reqmetrics counts requests per route, status class and deny reason
// and records latency histograms. Every metric is created once, when a policy
// is compiled; recording a request only touches precomputed counters, so it
// never formats a metric name or allocates.
package reqmetrics

import (
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// latencyBuckets are upper bounds in seconds, dense where a gateway lives.
var latencyBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// Route holds one route's counters.
type Route struct {
	byClass [6]*metrics.Counter // index status/100; 0 holds out-of-range codes
	latency *metrics.PrometheusHistogram
}

// ForRoute returns the counters of the named route. Calling it again with the
// same name (after a reload) returns counters that continue the same series.
func ForRoute(name string) *Route {
	r := &Route{
		latency: metrics.GetOrCreatePrometheusHistogramExt(`edgeguard_request_duration_seconds{route="`+name+`"}`, latencyBuckets),
	}
	classes := [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}
	for i, c := range classes {
		r.byClass[i] = metrics.GetOrCreateCounter(`edgeguard_requests_total{route="` + name + `",class="` + c + `"}`)
	}
	return r
}

// Observe records one finished request.
func (r *Route) Observe(status int, latency time.Duration) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	r.byClass[class].Inc()
	r.latency.Update(latency.Seconds())
}

var denied = func() []*metrics.Counter {
	all := pipeline.Reasons()
	out := make([]*metrics.Counter, len(all)+1)
	for _, reason := range all {
		out[reason] = metrics.GetOrCreateCounter(`edgeguard_denied_total{reason="` + reason.String() + `"}`)
	}
	return out
}()

// Denied counts a request the gateway refused or failed for reason.
func Denied(reason pipeline.Reason) {
	if int(reason) > 0 && int(reason) < len(denied) {
		denied[reason].Inc()
	}
}
