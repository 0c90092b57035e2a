package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/accesslog"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/policy"
	"github.com/edgeguard/edgeguard/policy/config"
)

// harness runs the server's handler in-process against a real upstream on
// loopback, so tests and benchmarks see the whole request path without a
// client socket in the way.
type harness struct {
	srv    *Server
	holder *policy.Holder
	ctx    fasthttp.RequestCtx
	req    fasthttp.Request
	peer   net.Addr
}

func newHarness(tb testing.TB, extra string) *harness {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("X-Seen-Path", string(ctx.Request.URI().PathOriginal()))
		ctx.SetBodyString(`{"ok":true}`)
	}}
	go func() { _ = up.Serve(ln) }()
	tb.Cleanup(func() { _ = up.Shutdown() })
	doc := `
listeners: [{name: public, address: "127.0.0.1:0"}]
management: {address: "127.0.0.1:0"}
upstreams:
  - name: api
    targets: [` + ln.Addr().String() + `]
routes:
  - name: api
    path: /api
    upstream: api
` + extra
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	holder, err := policy.NewHolder(func() (*config.Loaded, error) { return config.Parse([]byte(doc), "yaml", "test") }, policy.Options{}, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(holder.Close)
	access := accesslog.New(io.Discard, 64) // small: its free list of line buffers warms up quickly
	tb.Cleanup(func() { _ = access.Close() })
	events, err := secevent.Open(secevent.Options{Writer: io.Discard, Buffer: 64}) // denials emit events too
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = events.Close() })
	srv := New(holder, access, log)
	srv.SetEvents(events)
	return &harness{srv: srv, holder: holder, peer: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
}

func (h *harness) serve(method, uri string) *fasthttp.Response {
	if h.ctx.RemoteAddr() != h.peer {
		h.ctx.Init(&h.req, h.peer, nil) // once: Init itself allocates
	}
	req := &h.ctx.Request
	req.Reset()
	h.ctx.Response.Reset()
	req.Header.SetMethod(method)
	req.Header.SetHost("gw.test")
	req.SetRequestURI(uri)
	h.srv.handle(&h.ctx)
	return &h.ctx.Response
}

func TestHandleVerdicts(t *testing.T) {
	h := newHarness(t, "")
	cases := []struct {
		name, method, uri string
		status            int
		reason            string
	}{
		{"proxied", "GET", "/api/items?id=1", 200, ""},
		{"normalized before routing", "GET", "//api/./x/../items", 200, ""},
		{"no route", "GET", "/nope", 404, "no_route"},
		{"ambiguous", "GET", "/api/a%2Fb", 400, "path_ambiguous"},
		{"malformed", "GET", "/api/%zz", 400, "path_invalid"},
		// RFC 3986: an absolute form with an empty path and a query is "/".
		{"absolute form, empty path and a query", "GET", "http://gw.test?id=1", 404, "no_route"},
		{"CONNECT", "CONNECT", "/api/items", 400, "path_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.serve(tc.method, tc.uri)
			if resp.StatusCode() != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode(), tc.status, resp.Body())
			}
			if tc.reason != "" && !strings.Contains(string(resp.Body()), `"reason":"`+tc.reason+`"`) {
				t.Fatalf("body %s lacks reason %s", resp.Body(), tc.reason)
			}
		})
	}
	root := newHarness(t, "  - name: root\n    path: /\n    match: exact\n    upstream: api\n")
	if resp := root.serve("GET", "http://gw.test?id=1"); resp.StatusCode() != 200 || string(resp.Header.Peek("X-Seen-Path")) != "/" {
		t.Errorf("absolute form with an empty path: %d, upstream saw %q", resp.StatusCode(), resp.Header.Peek("X-Seen-Path"))
	}
	if got := string(h.serve("GET", "//api/./x/../items").Header.Peek("X-Seen-Path")); got != "/api/items" {
		t.Errorf("upstream saw %q, want the normalized path", got)
	}
}

func TestAllowAmbiguousPathsKeepsEncodedSlash(t *testing.T) {
	h := newHarness(t, "server: {allow_ambiguous_paths: true}\n")
	resp := h.serve("GET", "/api/repos/a%2fb")
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	if got := string(resp.Header.Peek("X-Seen-Path")); got != "/api/repos/a%2Fb" {
		t.Errorf("upstream saw %q, want the encoded slash kept", got)
	}
	if resp := h.serve("GET", "/api/%2e%2e/x"); resp.StatusCode() != 400 {
		t.Errorf("encoded dot segment must still be rejected, got %d", resp.StatusCode())
	}
}

// BenchmarkHandle measures the whole request path in-process: headers,
// normalization, routing, proxying to a loopback upstream, metrics and the
// access log.
func BenchmarkHandle(b *testing.B) {
	h := newHarness(b, "")
	b.ReportAllocs()
	for b.Loop() {
		if h.serve("GET", "/api/items?id=1").StatusCode() != 200 {
			b.Fatal("not proxied")
		}
	}
}

// BenchmarkHandleDenied measures a request refused before any upstream,
// with and without its security event (a route_refused event per request,
// aggregated by the writer): the difference is the cost of emitting.
func BenchmarkHandleDenied(b *testing.B) {
	for _, events := range []bool{true, false} {
		b.Run(fmt.Sprintf("events=%v", events), func(b *testing.B) {
			h := newHarness(b, "")
			if !events {
				h.srv.SetEvents(nil)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.serve("GET", "/nope")
			}
		})
	}
}

// TestDroppedSourceIsNoParseError: a connection whose source was banned
// while its first request arrived ends without an answer, and is neither
// logged nor counted as a malformed request.
func TestDroppedSourceIsNoParseError(t *testing.T) {
	h := newHarness(t, "")
	h.ctx.Init(&h.req, h.peer, nil)
	invalid := metrics.GetOrCreateCounter(`edgeguard_denied_total{reason="header_invalid"}`)
	cases := []struct {
		err        error
		wantDenial bool
	}{
		{connfilter.ErrSourceDropped, false},
		{fmt.Errorf("read: %w", connfilter.ErrSourceDropped), false},
		{errors.New("cannot find http request method"), true},
	}
	for _, tc := range cases {
		h.ctx.Response.Reset()
		before := invalid.Get()
		h.srv.handleParseError(&h.ctx, tc.err)
		if denied := invalid.Get() != before; denied != tc.wantDenial {
			t.Errorf("%v: counted as header_invalid %v, want %v", tc.err, denied, tc.wantDenial)
		}
		if answered := len(h.ctx.Response.Body()) != 0; answered != tc.wantDenial {
			t.Errorf("%v: answered %v (%d %s)", tc.err, answered, h.ctx.Response.StatusCode(), h.ctx.Response.Body())
		}
	}
}
