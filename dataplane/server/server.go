// Package server is the data plane's HTTP front: a fasthttp server that runs
// every request through the running policy's stages — header hygiene, path
// normalization, routing, the route's own stages — then records metrics and
// the access log. It reads the policy through one atomic load per request and
// never reads configuration files or blocks on the control plane.
package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/accesslog"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/dataplane/connguard"
	"github.com/edgeguard/edgeguard/dataplane/framing"
	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/livetop"
	"github.com/edgeguard/edgeguard/dataplane/pathnorm"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/reqmetrics"
	"github.com/edgeguard/edgeguard/dataplane/router"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/dataplane/tracing"
	"github.com/edgeguard/edgeguard/policy"
)

// Server serves the data listeners.
type Server struct {
	policies *policy.Holder
	conns    *connguard.Guard
	access   *accesslog.Logger
	events   *secevent.Log
	spans    *tracing.Exporter
	log      *slog.Logger
	fs       *fasthttp.Server
	requests sync.Pool
	scratch  sync.Pool // *[]byte for routing at header time
	draining atomic.Bool
	wg       sync.WaitGroup
}

// New builds a server whose connection limits come from the current policy.
// access may be nil (access log off).
func New(policies *policy.Holder, access *accesslog.Logger, log *slog.Logger) *Server {
	lim := policies.Current().Limits
	s := &Server{policies: policies, access: access, log: log}
	s.conns = connguard.New(func() *connguard.Options { return policies.Current().Conns }, lim.Concurrency, log)
	s.conns.Publish()
	s.requests.New = func() any { return &pipeline.Request{} }
	s.scratch.New = func() any {
		b := make([]byte, 0, 256)
		return &b
	}
	s.fs = &fasthttp.Server{
		Handler:                      s.handle,
		ErrorHandler:                 s.handleParseError,
		HeaderReceived:               s.headerReceived,
		ExpectHandler:                s.expectContinue,
		ConnState:                    s.conns.ConnState,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		// ReadTimeout bounds the request head (from the first byte, or
		// from accept on a new connection); headerReceived then gives the
		// body the configured read timeout.
		ReadTimeout:        lim.HeadTimeout,
		WriteTimeout:       lim.WriteTimeout,
		IdleTimeout:        lim.IdleTimeout,
		MaxRequestBodySize: lim.MaxRequestBodyBytes,
		ReadBufferSize:     lim.MaxHeaderBytes,
		// The guard holds the listeners to lim.Concurrency, closing idle
		// connections first; fasthttp's own limit, which answers 503
		// without a log line, stays out of its way.
		Concurrency:                   lim.Concurrency + concurrencySlack,
		CloseOnShutdown:               true,
		SecureErrorLogMessage:         true,
		Logger:                        fasthttpLogger{log},
		DisableHeaderNamesNormalizing: false,
	}
	return s
}

// SetEvents sends the security events of requests (denials, delays, WAF
// detections, failed logins) to ev; call it before Serve. nil: none.
func (s *Server) SetEvents(ev *secevent.Log) { s.events = ev }

// SetTracing exports the spans of sampled and failed requests through x;
// call it before Serve. nil: none.
func (s *Server) SetTracing(x *tracing.Exporter) { s.spans = x }

// concurrencySlack keeps fasthttp's connection limit above the guard's.
const concurrencySlack = 1024

// headerReceived runs once a request head is read: a body gets the
// configured read timeout and size limit (both applied on reload). A
// request without one has nothing left to read, and skipping it saves a
// deadline update per request.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if cl := h.ContentLength(); cl == 0 || cl == -2 {
		return fasthttp.RequestConfig{}
	}
	p := s.policies.Current()
	return fasthttp.RequestConfig{ReadTimeout: p.Limits.ReadTimeout, MaxRequestBodySize: s.bodyLimit(p, h)}
}

// bodyLimit is the body limit of a request head: its route's own, else the
// server's. A route's own limit must hold before the body is read: a
// declared length over it gets 413 at once, a chunked body as soon as it
// passes it. The head is routed only when some route has a limit.
func (s *Server) bodyLimit(p *policy.Policy, h *fasthttp.RequestHeader) int {
	if !p.RouteBodyLimits {
		return p.Limits.MaxRequestBodyBytes
	}
	rt, _ := s.routeOf(p, h, nil)
	return limitOf(p, rt)
}

// limitOf is the body limit of a request routed to rt (nil: no route, which
// the handler refuses anyway): the route's own, else the server's.
func limitOf(p *policy.Policy, rt *policy.Route) int {
	if p.RouteBodyLimits && rt != nil && rt.MaxBodyBytes > 0 {
		return rt.MaxBodyBytes
	}
	return p.Limits.MaxRequestBodyBytes
}

// expectContinue answers a request head with "Expect: 100-continue": 413
// at once when the declared body is over the limit, instead of the 100
// that would invite the client to send it (the body would then meet a
// connection closed with unread data, whose reset can cost the client the
// 413 itself), else 100.
func (s *Server) expectContinue(ctx *fasthttp.RequestCtx) int {
	h := &ctx.Request.Header
	p := s.policies.Current()
	r := s.newRequest(ctx)
	defer s.requests.Put(r)
	rt, name := s.routeOf(p, h, r)
	if cl := h.ContentLength(); cl > 0 && cl > limitOf(p, rt) {
		s.handleParseError(ctx, fasthttp.ErrBodyTooLarge)
		return fasthttp.StatusRequestEntityTooLarge
	}
	if cl := h.ContentLength(); bodyRefused(h, rt, cl > 0 || cl == -1) {
		r.TLS = ctx.IsTLS()
		r.RouteName = name
		p.Headers.AdoptRequestID(h, r)
		refuseBody(ctx, r)
		p.Headers.HandleResponse(ctx, r)
		s.finish(ctx, r, p, rt)
		return fasthttp.StatusBadRequest
	}
	if rt != nil {
		if status := s.headRefusal(ctx, p, rt, name, r); status != 0 {
			return status
		}
	}
	return fasthttp.StatusContinue
}

// headRefusal asks the request's route's stages that can decide from the
// head (pipeline.HeadChecker: a missing credential, a media type the route
// refuses) before the 100 that would invite the body; a refusal is
// answered, logged and counted like any other, and the connection closed
// (the client may have started sending). r holds the paths routeOf left.
// It returns the refusal's status, or 0.
func (s *Server) headRefusal(ctx *fasthttp.RequestCtx, p *policy.Policy, rt *policy.Route, name string, r *pipeline.Request) int {
	r.TLS = ctx.IsTLS()
	r.RouteName = name
	p.Headers.AdoptRequestID(&ctx.Request.Header, r)        // before a refusal writes its body
	r.HeaderCount = headers.FieldCount(&ctx.Request.Header) // the header stage's count, which has not run
	for _, st := range rt.Stages {
		hc, ok := st.(pipeline.HeadChecker)
		if !ok || hc.CheckHead(ctx, r) == pipeline.Continue {
			continue
		}
		status := ctx.Response.StatusCode()
		ctx.SetConnectionClose()
		p.Headers.HandleResponse(ctx, r)
		s.finish(ctx, r, p, rt)
		return status
	}
	return 0
}

// targetPath is the path of a parsed request target: "/" for an absolute
// form with an empty path and a query ("http://a?x=1", RFC 3986), which
// fasthttp leaves empty (it gives "http://a" its "/").
func targetPath(u *fasthttp.URI) []byte {
	if p := u.PathOriginal(); len(p) > 0 {
		return p
	}
	return strSlash
}

var strSlash = []byte("/")

// routeOf routes a request head as the handler will: the target parsed as
// fasthttp parses it (an absolute form's host in place of the Host
// header), the path normalized and its parameters cut; nil when it
// matches no route. With r, the paths are left in r.Path and r.RoutePath,
// as route() leaves them for the stages.
func (s *Server) routeOf(p *policy.Policy, h *fasthttp.RequestHeader, r *pipeline.Request) (*policy.Route, string) {
	u := uriPool.Get().(*fasthttp.URI)
	defer uriPool.Put(u)
	if u.Parse(h.Host(), h.RequestURI()) != nil {
		return nil, ""
	}
	var scratch *[]byte
	var buf []byte
	if r != nil {
		buf = r.Path[:0]
	} else {
		scratch = s.scratch.Get().(*[]byte)
		buf = (*scratch)[:0]
	}
	norm, err := pathnorm.NormalizeMode(buf, targetPath(u), p.PathMode|pathnorm.AllowParams)
	routePath := norm
	params := err == nil && bytes.IndexByte(norm, ';') >= 0
	if params {
		if r != nil {
			r.RoutePath = pathnorm.CutParams(r.RoutePath[:0], norm)
			routePath = r.RoutePath
		} else {
			cut := pathnorm.CutParams(norm, norm) // after the normalized path, in the same buffer
			norm, routePath = cut, cut[len(norm):]
		}
	}
	var rt *policy.Route
	var name string
	res := router.NoRoute
	if err == nil {
		rt, name, res = p.Routes.Match(u.Host(), h.Method(), routePath)
	}
	if r != nil {
		r.Path = norm
	} else {
		*scratch = norm[:0]
		s.scratch.Put(scratch)
	}
	if res != router.Matched || params && !rt.MatrixParams {
		return nil, "" // the handler refuses it (path_ambiguous) before any stage
	}
	return rt, name
}

// bodyRefused reports whether a request to rt (nil: no route) may not
// carry the body it has: GET unless the route allows it, HEAD and TRACE
// always. Such a body
// means nothing (RFC 9110 §9.3), and an upstream that does not read it
// would parse it as a second request that no stage checked, answered to
// whoever sends next on the connection.
func bodyRefused(h *fasthttp.RequestHeader, rt *policy.Route, hasBody bool) bool {
	if !hasBody {
		return false
	}
	// Methods are case-sensitive, but an upstream may fold "get" to GET.
	m := h.Method()
	return bytes.EqualFold(m, strGET) && (rt == nil || !rt.AllowGetBody) || bytes.EqualFold(m, strHEAD) || bytes.EqualFold(m, strTRACE)
}

var strGET, strHEAD, strTRACE = []byte(fasthttp.MethodGet), []byte(fasthttp.MethodHead), []byte(fasthttp.MethodTrace)

var strConnect = []byte(fasthttp.MethodConnect)

// refuseBody answers a request bodyRefused: 400, and the connection is
// closed, as one that tried to smuggle a request.
func refuseBody(ctx *fasthttp.RequestCtx, r *pipeline.Request) {
	r.Detail = "body_not_allowed"
	pipeline.Deny(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonFramingInvalid)
	ctx.SetConnectionClose()
}

// uriPool holds the URIs routeOf parses request-targets into.
var uriPool = sync.Pool{New: func() any { return new(fasthttp.URI) }}

// Serve accepts connections on every listener until Shutdown. It returns at
// once; accept errors other than a closed listener are logged. Connections
// pass the connection guard (per-source cap, strict framing) first.
func (s *Server) Serve(listeners ...net.Listener) {
	for _, ln := range listeners {
		ln = s.conns.Listener(ln)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.fs.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("data listener stopped", "address", ln.Addr().String(), "error", err)
			}
		}()
	}
}

// Draining reports whether Shutdown has begun (for /readyz).
func (s *Server) Draining() bool { return s.draining.Load() }

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes what is left. It returns ctx's error if the deadline cut
// requests off.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	err := s.fs.ShutdownWithContext(ctx)
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("drain data listeners: %w", err)
	}
	return nil
}

// Handler exposes the request handler for in-process benchmarks.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	p := s.policies.Current()
	r := s.newRequest(ctx)
	r.TLS = ctx.IsTLS()

	route := s.route(ctx, r, p)
	p.Headers.HandleResponse(ctx, r)
	s.finish(ctx, r, p, route)
	s.requests.Put(r)
}

// route runs the request side and returns the matched route, if any.
func (s *Server) route(ctx *fasthttp.RequestCtx, r *pipeline.Request, p *policy.Policy) *policy.Route {
	if p.Headers.Handle(ctx, r) != pipeline.Continue {
		return nil
	}
	if s.draining.Load() {
		ctx.SetConnectionClose()
	}
	if bytes.EqualFold(ctx.Method(), strConnect) {
		// RFC 9110 §9.3.6: CONNECT asks for a tunnel to the authority-form
		// target (RFC 9112 §3.2.3); the gateway opens none, and an
		// origin-form CONNECT is malformed. The connection goes too: a
		// client expecting a tunnel may already have sent its first bytes
		// (a TLS ClientHello), which must not be read as a request.
		ctx.SetConnectionClose()
		pipeline.Deny(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonPathInvalid)
		return nil
	}
	// Parameters are allowed or not per route: normalization keeps them,
	// routing runs on the path without them, and the route decides.
	path, err := pathnorm.NormalizeMode(r.Path[:0], targetPath(ctx.Request.URI()), p.PathMode|pathnorm.AllowParams)
	r.Path = path
	if err != nil {
		reason := pipeline.ReasonPathInvalid
		if errors.Is(err, pathnorm.ErrAmbiguous) {
			reason = pipeline.ReasonPathAmbiguous
		}
		pipeline.Deny(ctx, r, fasthttp.StatusBadRequest, reason)
		return nil
	}
	// RFC 9112 §3.2.2: with an absolute-form request-target the Host header
	// is replaced by the target's authority. fasthttp routes on the latter
	// (ctx.Host), and the upstream must get the same host, or a Host naming
	// a protected route could ride along on a request routed as another.
	if h := ctx.Request.URI().Host(); !bytes.EqualFold(h, ctx.Request.Header.Host()) {
		ctx.Request.Header.SetHostBytes(h)
	}
	routePath := r.Path
	params := bytes.IndexByte(r.Path, ';') >= 0
	if params {
		r.RoutePath = pathnorm.CutParams(r.RoutePath[:0], r.Path)
		routePath = r.RoutePath
	}
	rt, name, res := p.Routes.Match(ctx.Host(), ctx.Method(), routePath)
	if res != router.Matched || params && !rt.MatrixParams {
		rt = nil // as routeOf sees it: refused before any stage of the route
	}
	if bodyRefused(&ctx.Request.Header, rt, len(ctx.Request.Body()) != 0) {
		// Before the 404 or 405 too: the client sent a request to smuggle
		// one, and loses the connection whatever it asked for.
		refuseBody(ctx, r)
		if rt != nil {
			r.RouteName = name
		}
		return rt
	}
	if params && rt == nil {
		// Servlet containers cut ';' parameters from every segment, so
		// /admin;x/y is /admin/y to them: only routes that declare them
		// get such paths.
		pipeline.Deny(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonPathAmbiguous)
		return nil
	}
	switch res {
	case router.NoRoute:
		pipeline.Deny(ctx, r, fasthttp.StatusNotFound, pipeline.ReasonNoRoute)
		return nil
	case router.MethodNotAllowed:
		pipeline.Deny(ctx, r, fasthttp.StatusMethodNotAllowed, pipeline.ReasonMethodNotAllowed)
		// RFC 9110 §15.5.6: a 405 lists the methods the target allows.
		if allow := p.Routes.AllowedMethods(ctx.Host(), ctx.Method(), routePath); allow != "" {
			ctx.Response.Header.Set(fasthttp.HeaderAllow, allow)
		}
		return nil
	}
	r.RouteName = name
	ran := len(rt.Stages)
	for i, st := range rt.Stages {
		v := st.Handle(ctx, r)
		if v == pipeline.Continue {
			continue
		}
		ran = i + 1
		if v == pipeline.Close {
			// No response at all: the client learns nothing and loses the connection.
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(dropConn)
		}
		break
	}
	for i := ran - 1; i >= 0; i-- {
		if o, ok := rt.Stages[i].(pipeline.ResponseObserver); ok {
			o.ObserveResponse(ctx, r)
		}
	}
	return rt
}

func (s *Server) finish(ctx *fasthttp.RequestCtx, r *pipeline.Request, p *policy.Policy, rt *policy.Route) {
	status := ctx.Response.StatusCode()
	if ctx.Hijacked() {
		status = 0 // closed without a response (pipeline.Close): no status was sent
	}
	latency := time.Since(r.Start)
	m := p.Unrouted
	if rt != nil {
		m = rt.Metrics
	}
	m.Observe(status, latency)
	if r.Reason != pipeline.ReasonNone {
		reqmetrics.Denied(r.Reason)
	}
	livetop.Observe(r.ClientIP, status, r.Reason)
	identity := r.Identity
	if pr := r.Principal; pr != nil && identity == "" {
		identity = pr.Subject
		if pr.KeyID != "" {
			identity = pr.KeyID
		}
	}
	if s.events != nil && (r.Reason != pipeline.ReasonNone || r.Notice != pipeline.NoticeNone || len(r.Location) > 0) {
		s.emit(r, status, identity)
	}
	an := p.UnroutedAnomaly
	if rt != nil {
		an = rt.Anomaly
	}
	an.Observe(ctx.Method(), status, r.ClientIP, identity, r.Path) // queued for the detectors: O(1), no allocation
	s.spans.Record(r, ctx.Method(), status, r.Start.Add(latency))
	if s.access == nil {
		return
	}
	e := accesslog.Entry{
		Time:      r.Start,
		ClientIP:  r.ClientIP,
		Identity:  identity,
		Method:    ctx.Method(),
		Path:      r.Path,
		Route:     r.RouteName,
		Status:    status,
		Upstream:  r.Upstream,
		Latency:   latency,
		BytesIn:   len(ctx.Request.Body()),
		BytesOut:  len(ctx.Response.Body()),
		RequestID: r.RequestID,
		TraceID:   headers.TraceID(r.TraceParent),
		Reason:    r.Reason.String(),
		Detail:    r.Detail,
		Location:  r.Location,
	}
	switch {
	case r.HeadUnread:
		e.Method, e.Path = nil, nil
	case len(e.Path) == 0:
		e.Path = ctx.Request.URI().PathOriginal()
	}
	s.access.Log(&e)
}

// emit records the request's security event, if it has one: every
// denial, delay, WAF detection and failed login passes here, so no stage
// emits events of its own.
func (s *Server) emit(r *pipeline.Request, status int, identity string) {
	typ, reason := secevent.ForReason(r.Reason), r.Reason.String()
	switch {
	case typ != secevent.TypeNone:
	case r.Reason != pipeline.ReasonNone:
		return // an upstream failure or a shutdown: not a security event
	case len(r.Location) > 0:
		typ, reason = secevent.WAFDetection, "waf_detect_only"
	case r.Notice == pipeline.NoticeLimitDelayed:
		typ, reason = secevent.LimitDelay, r.Notice.String()
	case r.Notice == pipeline.NoticeLoginFailed:
		typ, reason = secevent.AuthFailure, r.Notice.String()
	default:
		return
	}
	e := secevent.Event{
		Type:      typ,
		Time:      r.Start,
		ClientIP:  r.ClientIP,
		Identity:  identity,
		Route:     r.RouteName,
		RequestID: r.RequestID,
		TraceID:   headers.TraceID(r.TraceParent),
		Reason:    reason,
		Detail:    r.Detail,
		Status:    status,
		Location:  r.Location,
		Source:    r.BanSource,
		Until:     r.BanUntil,
	}
	s.events.Emit(&e)
}

// handleParseError answers requests fasthttp could not parse (oversized body
// or headers, malformed request line) with the gateway's standard error and
// logs them like any other request.
func (s *Server) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	if tlsHandshakeFailed(ctx.Conn()) {
		// No request was read (a client certificate refused, plain HTTP
		// or an old protocol on a TLS port): nothing to answer over the
		// failed session, and no request to log or count as denied.
		tlsHandshakeFailures.Inc()
		ctx.SetConnectionClose()
		return
	}
	if errors.Is(err, connfilter.ErrSourceDropped) {
		// The source was banned or blocklisted while the request arrived:
		// the filter reset the connection and counted the drop. There is
		// no one to answer, and the request is no malformed one.
		ctx.SetConnectionClose()
		return
	}
	p := s.policies.Current()
	r := s.newRequest(ctx)
	// A head parsed whole keeps its field block; without it, fasthttp's
	// method and path are its defaults (GET /), not the client's.
	r.HeadUnread = len(ctx.Request.Header.RawHeaders()) == 0
	status, reason := fasthttp.StatusBadRequest, pipeline.ReasonHeaderInvalid
	var small *fasthttp.ErrSmallBuffer
	gc := connguard.Unwrap(ctx.Conn())
	switch {
	case gc != nil && gc.Violation() != framing.None:
		// Checked first: the parser only saw the bytes before the
		// violation, so its own error says nothing useful.
		reason = pipeline.ReasonFramingInvalid
		r.Detail = gc.Violation().String()
	case errors.Is(err, os.ErrDeadlineExceeded):
		status, reason = fasthttp.StatusRequestTimeout, pipeline.ReasonRequestTimeout
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, reason = fasthttp.StatusRequestEntityTooLarge, pipeline.ReasonBodyTooLarge
	case errors.As(err, &small) && gc != nil && gc.InRequestLine():
		// The request line alone did not fit (RFC 9112 §3: 414).
		status, reason = fasthttp.StatusRequestURITooLong, pipeline.ReasonURITooLong
	case errors.As(err, &small):
		status = fasthttp.StatusRequestHeaderFieldsTooLarge
	}
	if reason == pipeline.ReasonBodyTooLarge {
		p.Headers.AdoptRequestID(&ctx.Request.Header, r) // the head was read whole
	} else {
		headers.NewRequestID(r)
	}
	pipeline.Deny(ctx, r, status, reason)
	ctx.SetConnectionClose()
	p.Headers.HandleResponse(ctx, r)
	s.finish(ctx, r, p, nil)
	s.requests.Put(r)
}

var tlsHandshakeFailures = metrics.NewCounter(`edgeguard_tls_handshake_failures_total`)

// tlsHandshakeFailed reports whether c is a TLS connection (a *tls.Conn,
// or the guard's TLSConn over one) whose handshake did not complete.
func tlsHandshakeFailed(c net.Conn) bool {
	tc, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	return ok && !tc.ConnectionState().HandshakeComplete
}

// dropConn is the hijack handler of a Close verdict: fasthttp closes the
// connection when it returns.
func dropConn(net.Conn) {}

// newRequest takes a request state from the pool, reset and stamped with
// the time and the connection's peer.
func (s *Server) newRequest(ctx *fasthttp.RequestCtx) *pipeline.Request {
	r := s.requests.Get().(*pipeline.Request)
	r.Reset()
	r.Start = time.Now()
	r.PeerIP = peerIP(ctx)
	r.ClientIP = r.PeerIP
	return r
}

func peerIP(ctx *fasthttp.RequestCtx) netip.Addr {
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "component", "fasthttp")
}
