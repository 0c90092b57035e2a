package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// headerOf returns the value of header name in a recorder's body.
func headerOf(body, name string) string {
	for _, l := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// TestTraceContextEndToEnd: through the real gatewayd, a valid traceparent
// is continued (same trace, the gateway's span as the upstream's parent,
// tracestate kept), an invalid one starts a new trace without tracestate,
// and the access log and security events name the trace.
func TestTraceContextEndToEnd(t *testing.T) {
	rec := startRecorder(t)
	dir := t.TempDir()
	access, events := filepath.Join(dir, "access.log"), filepath.Join(dir, "events.jsonl")
	doc := strings.Replace(baseConfig(`
  - name: rec
    targets: [`+rec.addr()+`]
`, `
  - {name: open, path: /open, upstream: rec}
`), `path: "off"`, "path: "+access, 1) + "security_events: {path: " + events + "}\n"
	g := startGateway(t, doc)
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	continued := regexp.MustCompile(`^00-` + traceID + `-([0-9a-f]{16})-01$`)

	r := g.do(t, "GET", "/open/a", "traceparent", "00-"+traceID+"-"+parent+"-01", "tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
		"X-Request-ID", "trace-1")
	up := headerOf(r.body, "Traceparent")
	m := continued.FindStringSubmatch(up)
	if m == nil || m[1] == parent {
		t.Fatalf("upstream traceparent %q, want trace %s continued with the gateway's span", up, traceID)
	}
	if got := headerOf(r.body, "Tracestate"); got != "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" {
		t.Errorf("upstream tracestate %q", got)
	}
	if r.headers["Traceparent"] != up {
		t.Errorf("client got traceparent %q, upstream %q", r.headers["Traceparent"], up)
	}

	r = g.do(t, "GET", "/open/b", "traceparent", "00-"+strings.ToUpper(traceID)+"-"+parent+"-01", "tracestate", "congo=t61rcWkgMzE")
	if up := headerOf(r.body, "Traceparent"); strings.Contains(up, strings.ToLower(traceID)) || !reTraceparentNew.MatchString(up) {
		t.Errorf("invalid traceparent gave the upstream %q, want a new trace", up)
	}
	if got := headerOf(r.body, "Tracestate"); got != "" {
		t.Errorf("tracestate %q kept with an invalid traceparent", got)
	}

	// The access log line and a security event name the trace.
	if r = g.do(t, "GET", "/nothing", "traceparent", "00-"+traceID+"-"+parent+"-01", "X-Request-ID", "trace-404"); r.status != 404 {
		t.Fatalf("no route: %d", r.status)
	}
	waitEvent(t, events, map[string]any{"type": "route_refused", "request_id": "trace-404", "trace_id": traceID})
	waitFor(t, "access log line", func() bool {
		data, _ := os.ReadFile(access)
		for _, l := range strings.Split(string(data), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(l), &e) == nil && e["request_id"] == "trace-1" {
				return e["trace_id"] == traceID
			}
		}
		return false
	})
}

var reTraceparentNew = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-00$`)

// otlpCollector is an OTLP/HTTP collector stand-in on loopback that keeps
// every span it is sent.
type otlpCollector struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func startOTLPCollector(t *testing.T) *otlpCollector {
	t.Helper()
	c := &otlpCollector{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c.url = "http://" + ln.Addr().String() + "/v1/traces"
	return c
}

// span returns the span with the request ID id, nil when none arrived.
func (c *otlpCollector) span(id string) *tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		for _, a := range s.Attributes {
			if a.Key == "edgeguard.request_id" && a.Value.GetStringValue() == id {
				return s
			}
		}
	}
	return nil
}

// TestTraceExportEndToEnd: with tracing.otlp_endpoint set, gatewayd sends
// the collector the span of a trace its caller sampled, with the caller's
// span as parent and the span id the upstream got; a new trace is sampled
// by ratio (1 here, 0 would send none); an unsampled trace's span is not
// sent.
func TestTraceExportEndToEnd(t *testing.T) {
	rec := startRecorder(t)
	col := startOTLPCollector(t)
	doc := baseConfig(`
  - name: rec
    targets: [`+rec.addr()+`]
`, `
  - {name: open, path: /open, upstream: rec}
`) + "tracing: {otlp_endpoint: " + col.url + ", sample_ratio: 1, interval: 50ms}\n"
	g := startGateway(t, doc)
	const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

	r := g.do(t, "GET", "/open/a", "traceparent", "00-"+traceID+"-"+parent+"-01", "X-Request-ID", "exp-sampled")
	up := headerOf(r.body, "Traceparent")
	r = g.do(t, "GET", "/open/b", "X-Request-ID", "exp-new")
	upNew := headerOf(r.body, "Traceparent")
	g.do(t, "GET", "/open/c", "traceparent", "00-"+traceID+"-"+parent+"-00", "X-Request-ID", "exp-unsampled")

	var s *tracepb.Span
	waitFor(t, "the sampled span at the collector", func() bool { s = col.span("exp-sampled"); return s != nil })
	if hex.EncodeToString(s.TraceId) != traceID || hex.EncodeToString(s.ParentSpanId) != parent ||
		"00-"+traceID+"-"+hex.EncodeToString(s.SpanId)+"-01" != up || s.Name != "GET open" ||
		s.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("span %v, upstream traceparent %q", s, up)
	}
	if !strings.HasSuffix(upNew, "-01") {
		t.Errorf("a new trace at sample_ratio 1 went upstream as %q, want sampled", upNew)
	}
	waitFor(t, "the new trace's span", func() bool { s = col.span("exp-new"); return s != nil })
	if "00-"+hex.EncodeToString(s.TraceId)+"-"+hex.EncodeToString(s.SpanId)+"-01" != upNew || len(s.ParentSpanId) != 0 {
		t.Errorf("new trace span %v, upstream %q", s, upNew)
	}
	// Spans go out in order of their requests: once a later one has
	// arrived, the unsampled one would have too.
	g.do(t, "GET", "/open/d", "X-Request-ID", "exp-last")
	waitFor(t, "the last span", func() bool { return col.span("exp-last") != nil })
	if col.span("exp-unsampled") != nil {
		t.Error("the span of an unsampled trace was exported")
	}
}
