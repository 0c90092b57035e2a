// Package tracing exports the gateway's own spans to an OpenTelemetry
// collector over OTLP/HTTP: one server span per request, the span whose id
// the upstream got as its parent (dataplane/headers continues the W3C trace
// context). A span is exported when its trace is sampled (the caller
// sampled it, or the gateway started it and sampled it by ratio) and
// always when the request failed (5xx).
//
// The package must never block a request and never allocate on its path:
// Record tests one flag for an unsampled request, and copies a sampled one
// into a fixed slot of a bounded lock-free ring (internal/mpsc); one
// goroutine builds the spans, batches them and exports. When the ring is
// full, or an export fails, spans are dropped and counted
// (edgeguard_tracing_spans_dropped_total), never waited for.
package tracing

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/internal/mpsc"
)

var (
	exportedTotal      = metrics.NewCounter(`edgeguard_tracing_spans_exported_total`)
	droppedQueueTotal  = metrics.NewCounter(`edgeguard_tracing_spans_dropped_total{reason="queue_full"}`)
	droppedExportTotal = metrics.NewCounter(`edgeguard_tracing_spans_dropped_total{reason="export_failed"}`)
	exportFailures     = metrics.NewCounter(`edgeguard_tracing_export_failures_total`)
)

// Options configures New.
type Options struct {
	Endpoint    string // OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces
	ServiceName string
	Queue       int           // spans waiting for export
	Batch       int           // spans per export request
	Interval    time.Duration // longest wait before a partial batch is sent
	Timeout     time.Duration // of one export request
}

// Exporter records the spans of sampled requests and exports them. A nil
// *Exporter records nothing.
type Exporter struct {
	ring    *mpsc.Ring[span]
	dropped atomic.Uint64
	closed  atomic.Bool
	opt     Options
	exp     *otlptrace.Exporter
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once

	// Owned by the export goroutine.
	res   *resource.Resource
	scope instrumentation.Scope
	batch []sdktrace.ReadOnlySpan
}

// New starts an Exporter that sends to o.Endpoint; nil when it is empty.
func New(o Options) (*Exporter, error) {
	if o.Endpoint == "" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(o.Endpoint),
		otlptracehttp.WithTimeout(o.Timeout),
		// A failed batch is dropped and counted: retrying would hold the
		// only export goroutine while the queue fills behind it.
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		return nil, fmt.Errorf("start trace export to %s: %w", o.Endpoint, err)
	}
	x := &Exporter{
		ring:  mpsc.New[span](o.Queue),
		opt:   o,
		exp:   exp,
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		res:   resource.NewSchemaless(attribute.String("service.name", o.ServiceName)),
		scope: instrumentation.Scope{Name: "github.com/edgeguard/edgeguard/dataplane/tracing"},
		batch: make([]sdktrace.ReadOnlySpan, 0, o.Batch),
	}
	go x.run()
	return x, nil
}

// Record queues the span of a finished request when its trace is sampled
// or it failed (5xx). It never blocks and allocates nothing.
func (x *Exporter) Record(r *pipeline.Request, method []byte, status int, end time.Time) {
	if x == nil || !exported(r.TraceParent, status) {
		return
	}
	if x.closed.Load() {
		x.drop()
		return
	}
	sp, pos := x.ring.Claim()
	if sp == nil {
		x.drop()
		return
	}
	sp.set(r, method, status, end)
	x.ring.Publish(pos)
}

// exported reports whether a request's span goes to the collector: its
// traceparent (as the headers stage set it) is sampled, or it failed.
func exported(tp []byte, status int) bool {
	return len(tp) >= 55 && (headers.Sampled(tp) || status >= 500)
}

func (x *Exporter) drop() {
	x.dropped.Add(1)
	droppedQueueTotal.Inc()
}

// Dropped returns how many spans the full queue refused.
func (x *Exporter) Dropped() uint64 {
	if x == nil {
		return 0
	}
	return x.dropped.Load()
}

// Close exports what is queued, within the export timeout, and stops.
func (x *Exporter) Close() error {
	if x == nil {
		return nil
	}
	var err error
	x.once.Do(func() {
		x.closed.Store(true)
		close(x.quit)
		<-x.done
		// A Record that passed the closed check just before Close may have
		// queued a span after the last drain; the exporter is gone.
		for x.ring.Take() != nil {
			x.ring.Release()
			x.drop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), x.opt.Timeout)
		defer cancel()
		if e := x.exp.Shutdown(ctx); e != nil {
			err = fmt.Errorf("stop trace export: %w", e)
		}
	})
	return err
}

// run is the export goroutine: it takes queued spans and sends a batch
// when it is full or Interval passed.
func (x *Exporter) run() {
	defer close(x.done)
	tick := time.NewTicker(min(x.opt.Interval, 50*time.Millisecond))
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-tick.C:
			x.drain()
			if len(x.batch) > 0 && time.Since(last) >= x.opt.Interval {
				x.export()
				last = time.Now()
			}
		case <-x.quit:
			x.drain()
			x.export()
			return
		}
	}
}

func (x *Exporter) drain() {
	for {
		sp := x.ring.Take()
		if sp == nil {
			return
		}
		x.batch = append(x.batch, sp.snapshot(x.res, x.scope))
		x.ring.Release()
		if len(x.batch) >= x.opt.Batch {
			x.export()
		}
	}
}

func (x *Exporter) export() {
	if len(x.batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), x.opt.Timeout)
	err := x.exp.ExportSpans(ctx, x.batch)
	cancel()
	if err != nil {
		exportFailures.Inc()
		droppedExportTotal.Add(len(x.batch))
	} else {
		exportedTotal.Add(len(x.batch))
	}
	clear(x.batch) // let the spans go
	x.batch = x.batch[:0]
}

// span is a finished request as a queue slot holds it: slices copied.
type span struct {
	traceID  [16]byte
	spanID   [8]byte
	parentID [8]byte
	flags    byte
	status   int32
	start    int64
	end      int64
	client   netip.Addr
	route    string
	upstream string
	reason   string
	method   [16]byte
	path     [256]byte
	reqID    [128]byte
	lens     [3]uint8 // method, path, reqID
}

func (s *span) set(r *pipeline.Request, method []byte, status int, end time.Time) {
	tp := r.TraceParent
	_, _ = hex.Decode(s.traceID[:], tp[3:35]) // the headers stage wrote lowercase hex
	_, _ = hex.Decode(s.spanID[:], tp[36:52])
	var f [1]byte
	_, _ = hex.Decode(f[:], tp[53:55])
	s.flags = f[0]
	s.parentID = r.ParentID
	s.status = int32(status)
	s.start, s.end = r.Start.UnixNano(), end.UnixNano()
	s.client = r.ClientIP
	s.route, s.upstream, s.reason = r.RouteName, r.Upstream, r.Reason.String()
	s.lens[0] = uint8(copy(s.method[:], method))
	s.lens[1] = uint8(copy(s.path[:len(s.path)-1], r.Path)) // < 256 fits a uint8
	s.lens[2] = uint8(copy(s.reqID[:len(s.reqID)-1], r.RequestID))
}

// snapshot builds the OpenTelemetry span (on the export goroutine).
func (s *span) snapshot(res *resource.Resource, scope instrumentation.Scope) sdktrace.ReadOnlySpan {
	method := string(s.method[:s.lens[0]])
	name := method
	if s.route != "" {
		name += " " + s.route
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("url.path", string(s.path[:s.lens[1]])),
		attribute.String("edgeguard.request_id", string(s.reqID[:s.lens[2]])),
	}
	if s.status != 0 { // 0: closed without a response, which has no status
		attrs = append(attrs, attribute.Int("http.response.status_code", int(s.status)))
	}
	if s.client.IsValid() {
		attrs = append(attrs, attribute.String("client.address", s.client.String()))
	}
	if s.route != "" {
		attrs = append(attrs, attribute.String("edgeguard.route", s.route))
	}
	if s.upstream != "" {
		attrs = append(attrs, attribute.String("edgeguard.upstream", s.upstream))
	}
	if s.reason != "" {
		attrs = append(attrs, attribute.String("edgeguard.deny_reason", s.reason))
	}
	st := sdktrace.Status{Code: codes.Unset}
	if s.status >= 500 { // OpenTelemetry HTTP server spans: only 5xx is an error
		st = sdktrace.Status{Code: codes.Error, Description: s.reason}
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: s.traceID, SpanID: s.spanID, TraceFlags: trace.TraceFlags(s.flags),
	})
	var parent trace.SpanContext
	if s.parentID != [8]byte{} {
		parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: s.traceID, SpanID: s.parentID, TraceFlags: trace.TraceFlags(s.flags), Remote: true,
		})
	}
	return tracetest.SpanStub{
		Name:                 name,
		SpanContext:          sc,
		Parent:               parent,
		SpanKind:             trace.SpanKindServer,
		StartTime:            time.Unix(0, s.start),
		EndTime:              time.Unix(0, s.end),
		Attributes:           attrs,
		Status:               st,
		Resource:             res,
		InstrumentationScope: scope,
	}.Snapshot()
}
