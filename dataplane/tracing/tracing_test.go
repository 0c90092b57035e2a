package tracing

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// collector is an OTLP/HTTP collector stand-in on loopback: it decodes
// every export request and keeps the spans.
type collector struct {
	url      string
	mu       sync.Mutex
	requests int
	spans    []*tracepb.Span
	service  string
	fail     bool          // answer 503
	hold     chan struct{} // when set, requests wait for it to close
	held     int           // requests that waited
}

func startCollector(t testing.TB) *collector {
	t.Helper()
	c := &collector{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		hold, fail := c.hold, c.fail
		c.mu.Unlock()
		if hold != nil {
			c.mu.Lock()
			c.held++
			c.mu.Unlock()
			<-hold
		}
		c.mu.Lock()
		c.requests++
		if !fail {
			for _, rs := range req.ResourceSpans {
				for _, a := range rs.Resource.Attributes {
					if a.Key == "service.name" {
						c.service = a.Value.GetStringValue()
					}
				}
				for _, ss := range rs.ScopeSpans {
					c.spans = append(c.spans, ss.Spans...)
				}
			}
		}
		c.mu.Unlock()
		if fail {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c.url = "http://" + ln.Addr().String() + "/v1/traces"
	return c
}

func (c *collector) got() ([]*tracepb.Span, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...), c.requests
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testOptions(url string) Options {
	return Options{Endpoint: url, ServiceName: "edgeguard-test", Queue: 64, Batch: 8, Interval: 50 * time.Millisecond,
		Timeout: 2 * time.Second}
}

const (
	traceHex  = "4bf92f3577b34da6a3ce929d0e0e4736"
	spanHex   = "a3ce929d0e0e4736"
	parentHex = "00f067aa0ba902b7"
)

func request(flags string, parent bool) *pipeline.Request {
	r := &pipeline.Request{
		Start: time.Unix(1_800_000_000, 0), ClientIP: netip.MustParseAddr("203.0.113.9"),
		Path: []byte("/orders/7"), RouteName: "orders", Upstream: "10.0.0.5:8080", RequestID: []byte("req-7"),
		TraceParent: []byte("00-" + traceHex + "-" + spanHex + "-" + flags),
	}
	if parent {
		_, _ = hex.Decode(r.ParentID[:], []byte(parentHex))
	}
	return r
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func attrs(sp *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, a := range sp.Attributes {
		if v, ok := a.Value.Value.(*commonpb.AnyValue_IntValue); ok {
			m[a.Key] = strconv.FormatInt(v.IntValue, 10)
			continue
		}
		m[a.Key] = a.Value.GetStringValue()
	}
	return m
}

// TestExportToCollector: sampled requests and failures reach the collector
// stand-in as server spans with the gateway's ids, the caller's span as
// parent, the request's attributes and status; unsampled successes do not.
func TestExportToCollector(t *testing.T) {
	c := startCollector(t)
	x, err := New(testOptions(c.url))
	if err != nil {
		t.Fatal(err)
	}
	end := time.Unix(1_800_000_000, 2_500_000)
	x.Record(request("01", true), []byte("GET"), 200, end)  // sampled by the caller
	x.Record(request("00", false), []byte("GET"), 200, end) // not sampled: not exported
	r := request("00", false)
	r.Reason = pipeline.ReasonUpstreamTimeout
	x.Record(r, []byte("POST"), 504, end) // not sampled, but failed: exported
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	spans, _ := c.got()
	if len(spans) != 2 {
		t.Fatalf("%d spans exported, want 2: %v", len(spans), spans)
	}
	ok, failed := spans[0], spans[1]
	if hexOf(ok.TraceId) != traceHex || hexOf(ok.SpanId) != spanHex || hexOf(ok.ParentSpanId) != parentHex ||
		ok.Name != "GET orders" || ok.Kind != tracepb.Span_SPAN_KIND_SERVER ||
		ok.StartTimeUnixNano != 1_800_000_000_000_000_000 || ok.EndTimeUnixNano != 1_800_000_000_002_500_000 ||
		ok.Status.GetCode() != tracepb.Status_STATUS_CODE_UNSET {
		t.Errorf("sampled span %v", ok)
	}
	a := attrs(ok)
	if a["url.path"] != "/orders/7" || a["edgeguard.request_id"] != "req-7" || a["client.address"] != "203.0.113.9" ||
		a["edgeguard.route"] != "orders" || a["edgeguard.upstream"] != "10.0.0.5:8080" || a["http.request.method"] != "GET" ||
		a["http.response.status_code"] != "200" {
		t.Errorf("attributes %v", a)
	}
	if len(failed.ParentSpanId) != 0 || failed.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR ||
		failed.Status.GetMessage() != "upstream_timeout" || attrs(failed)["edgeguard.deny_reason"] != "upstream_timeout" {
		t.Errorf("failed span %v", failed)
	}
	if c.service != "edgeguard-test" {
		t.Errorf("service.name %q", c.service)
	}
}

// TestBatches: spans go out in batches of Batch, and a partial batch after
// Interval.
func TestBatches(t *testing.T) {
	c := startCollector(t)
	x, err := New(testOptions(c.url))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for range 20 {
		x.Record(request("01", false), []byte("GET"), 200, time.Now())
	}
	waitFor(t, "20 spans", func() bool { s, _ := c.got(); return len(s) == 20 })
	if _, n := c.got(); n != 3 { // 8 + 8 + 4 after the interval
		t.Errorf("%d export requests, want 3", n)
	}
}

// TestNeverBlocks: with the collector stuck, Record returns at once and
// counts what the queue cannot hold; a failing collector's batches are
// dropped and counted, and export goes on afterwards.
func TestNeverBlocks(t *testing.T) {
	c := startCollector(t)
	hold := make(chan struct{})
	c.hold = hold
	o := testOptions(c.url)
	o.Batch, o.Queue = 1, 16
	x, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	x.Record(request("01", false), []byte("GET"), 200, time.Now()) // taken, then stuck in export
	waitFor(t, "the export to start", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.held == 1 })
	start := time.Now()
	for range 100 {
		x.Record(request("01", false), []byte("GET"), 200, time.Now())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("100 records with the collector stuck took %v", d)
	}
	if got := x.Dropped(); got != 100-16 {
		t.Errorf("dropped %d, want %d", got, 100-16)
	}
	before := droppedExportTotal.Get() // before the release: the failures may be counted at once
	c.mu.Lock()
	c.hold, c.fail = nil, true
	c.mu.Unlock()
	close(hold)
	waitFor(t, "failed batches counted", func() bool { return droppedExportTotal.Get()-before >= 16 })
	c.mu.Lock()
	c.fail = false
	c.mu.Unlock()
	x.Record(request("01", false), []byte("GET"), 200, time.Now())
	waitFor(t, "export after the failures", func() bool { s, _ := c.got(); return len(s) == 1 })
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOff(t *testing.T) {
	x, err := New(Options{})
	if x != nil || err != nil {
		t.Fatalf("New without an endpoint = %v, %v", x, err)
	}
	x.Record(request("01", false), []byte("GET"), 500, time.Now()) // a nil Exporter records nothing
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestExported(t *testing.T) {
	for _, tc := range []struct {
		flags  string
		status int
		want   bool
	}{{"00", 200, false}, {"01", 200, true}, {"03", 404, true}, {"02", 200, false}, {"00", 500, true}, {"00", 499, false}} {
		if got := exported([]byte("00-"+traceHex+"-"+spanHex+"-"+tc.flags), tc.status); got != tc.want {
			t.Errorf("flags %s status %d: %v", tc.flags, tc.status, got)
		}
	}
	if exported(nil, 500) || exported(bytes.Repeat([]byte("0"), 54), 500) {
		t.Error("exported without a traceparent")
	}
}
