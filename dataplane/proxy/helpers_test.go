package proxy

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/valyala/fasthttp"
)

// upstream is a real fasthttp server on 127.0.0.1 that can be stopped and
// started again on the same port.
type upstream struct {
	t       testing.TB
	addr    string
	handler fasthttp.RequestHandler
	hits    atomic.Int64 // requests other than health checks
	accepts atomic.Int64 // TCP connections accepted

	mu  sync.Mutex
	srv *fasthttp.Server
	ln  net.Listener
}

// startUpstream serves handler on an ephemeral loopback port. A nil handler
// answers 200 with the upstream's address as body. /healthz always answers
// 200 and does not count as a hit.
func startUpstream(t testing.TB, handler fasthttp.RequestHandler) *upstream {
	t.Helper()
	u := &upstream{t: t, handler: handler}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen upstream: %v", err)
	}
	u.addr = ln.Addr().String()
	u.serve(ln)
	t.Cleanup(u.stop)
	return u
}

// startUpstreamAt serves the default handler on addr.
func startUpstreamAt(t testing.TB, addr string) *upstream {
	t.Helper()
	u := &upstream{t: t, addr: addr}
	u.restart()
	t.Cleanup(u.stop)
	return u
}

func (u *upstream) serve(ln net.Listener) {
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/healthz" {
				ctx.SetBodyString("ok")
				return
			}
			u.hits.Add(1)
			if u.handler == nil {
				ctx.SetBodyString(u.addr)
				return
			}
			u.handler(ctx)
		},
		DisableHeaderNamesNormalizing: true,
		NoDefaultDate:                 true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
	}
	cl := &countingListener{Listener: ln, accepts: &u.accepts}
	u.mu.Lock()
	u.srv, u.ln = srv, cl
	u.mu.Unlock()
	go srv.Serve(cl) //nolint:errcheck // Serve returns when stopped
}

// stop closes the listener and every connection.
func (u *upstream) stop() {
	u.mu.Lock()
	srv, ln := u.srv, u.ln
	u.srv = nil
	u.mu.Unlock()
	if srv == nil {
		return
	}
	// Shutdown does nothing if Serve has not registered the listener yet,
	// so close it here too: a late Serve then returns at once.
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.ShutdownWithContext(ctx)
}

// restart listens again on the same port.
func (u *upstream) restart() {
	u.t.Helper()
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		u.t.Fatalf("listen upstream again on %s: %v", u.addr, err)
	}
	u.serve(ln)
}

type countingListener struct {
	net.Listener
	accepts *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepts.Add(1)
	}
	return c, err
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// gateway is a real fasthttp server whose handler plays the pipeline: it
// sets r.Path from the request path (standing in for the normalizer) and
// runs the proxy stage. It reports r.Upstream and r.Reason in response
// headers so tests can see them.
type gateway struct {
	addr    string
	accepts atomic.Int64
	client  *fasthttp.HostClient
}

func startGateway(t *testing.T, stage *Stage) *gateway {
	t.Helper()
	g := &gateway{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen gateway: %v", err)
	}
	g.addr = ln.Addr().String()
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			var r pipeline.Request
			r.Path = append(r.Path[:0], ctx.Path()...)
			if len(ctx.Request.Header.Peek("X-Close")) > 0 {
				ctx.SetConnectionClose() // as a draining server decides before the stages
			}
			stage.Handle(ctx, &r)
			ctx.Response.Header.Set("X-Gw-Upstream", r.Upstream)
			ctx.Response.Header.Set("X-Gw-Reason", r.Reason.String())
		},
		DisableHeaderNamesNormalizing: true,
		CloseOnShutdown:               true,
	}
	go srv.Serve(&countingListener{Listener: ln, accepts: &g.accepts}) //nolint:errcheck
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
	})
	g.client = &fasthttp.HostClient{Addr: g.addr, NoDefaultUserAgentHeader: true, DisableHeaderNamesNormalizing: true, ReadTimeout: 5 * time.Second, MaxIdemponentCallAttempts: 1}
	t.Cleanup(g.client.CloseIdleConnections)
	return g
}

// get sends GET uri to the gateway and returns status, body and the target
// that served it.
func (g *gateway) get(t *testing.T, uri string) (int, string, string) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + g.addr + uri)
	if err := g.client.Do(req, resp); err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	return resp.StatusCode(), string(resp.Body()), string(resp.Header.Peek("X-Gw-Upstream"))
}

// testPipelineConns > 0 makes newTestPool pipeline (TestPipelined runs the
// pool's tests so).
var testPipelineConns int

// newTestPool builds a pool named after the test and closes it at cleanup.
func newTestPool(t testing.TB, cfg PoolConfig) *Pool {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = strings.ReplaceAll(t.Name(), "/", "_")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 2 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 2 * time.Second
	}
	if testPipelineConns > 0 && cfg.PipelineConns == 0 {
		cfg.PipelineConns, cfg.PipelinePending = testPipelineConns, 16
	}
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// waitFor polls cond every 5 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func statusOf(p *Pool, addr string) TargetStatus {
	for _, s := range p.Status() {
		if s.Address == addr {
			return s
		}
	}
	return TargetStatus{}
}
