package proxy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"syscall"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/proxy/pipelined"
	"github.com/valyala/fasthttp"
)

var (
	strSlash  = []byte("/")
	strHTTP   = []byte("http")
	strHTTP10 = []byte("HTTP/1.0")
	strHTTP11 = []byte("HTTP/1.1")
)

// Stage forwards the request to Pool, removing StripPrefix from the front of
// the path first. It is the last stage that handles the request: on success
// it returns pipeline.Continue with the upstream response in ctx.Response,
// so later stages (security headers, logging) still run; on failure it
// writes the gateway's error response and returns pipeline.Done.
type Stage struct {
	Pool *Pool
	// StripPrefix is removed from the normalized path when the path equals
	// it or continues with '/' after it ("/api" turns "/api/users" into
	// "/users" and "/api" into "/", but leaves "/apix" alone). A trailing
	// '/' in StripPrefix is ignored.
	StripPrefix string
	// FoldCase compares StripPrefix ignoring ASCII case, as a
	// case_insensitive route matched the path.
	FoldCase bool
	// Allow is the route's Allow header value, the answer to an OPTIONS
	// request that Max-Forwards stops at the gateway.
	Allow string
}

var _ pipeline.Stage = (*Stage)(nil)

// Name returns "proxy".
func (s *Stage) Name() string { return "proxy" }

// Handle forwards the request; see Pool.Forward.
func (s *Stage) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	if v, done := s.hopLimit(ctx, r); done {
		return v
	}
	return s.Pool.forward(ctx, r, stripPrefix(r.Path, s.StripPrefix, s.FoldCase))
}

// stripPrefix removes prefix from path on a segment boundary, keeping a
// leading '/'. The ';' parameters of the removed segments go with them
// (routes with matrix_params match on the path without parameters). It
// never allocates: the result is a subslice of path or strSlash. fold
// compares ASCII letters ignoring case.
func stripPrefix(path []byte, prefix string, fold bool) []byte {
	for len(prefix) > 0 && prefix[len(prefix)-1] == '/' {
		prefix = prefix[:len(prefix)-1]
	}
	if prefix == "" {
		return path
	}
	i := 0
	for j := 0; j < len(prefix); {
		switch {
		case i >= len(path):
			return path
		case path[i] == ';' && prefix[j] == '/':
			i = skipParams(path, i)
		case path[i] != prefix[j] && (!fold || lowerASCII(path[i]) != lowerASCII(prefix[j])):
			return path
		default:
			i++
			j++
		}
	}
	if i < len(path) && path[i] == ';' {
		i = skipParams(path, i)
	}
	rest := path[i:]
	if len(rest) == 0 {
		return strSlash
	}
	if rest[0] != '/' {
		return path
	}
	return rest
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// skipParams returns the index of the '/' ending the parameters that start
// at path[i], or len(path).
func skipParams(path []byte, i int) int {
	if k := bytes.IndexByte(path[i:], '/'); k >= 0 {
		return i + k
	}
	return len(path)
}

// Forward sends ctx.Request to a target of the pool and puts the upstream
// response into ctx.Response, replacing anything an earlier stage wrote there
// except a Connection: close decision.
//
// The upstream request line carries r.Path (which must own its bytes, not
// alias ctx's URI; when empty the client's path goes unchanged) and the
// client's original query string; the client's Host header goes unchanged
// (the target address is used when the client sent none). The client's
// Connection: close and HTTP/1.0 do not reach the upstream side, and the
// upstream's Connection: close does not reach the client side: each side
// keeps its own connections alive.
//
// Targets are tried in balance order, each at most once, while connecting
// fails. r.Upstream is set to the last target tried. Failures write the
// gateway's error response and return pipeline.Done: 502
// upstream_unavailable when no target is healthy or none accepts a
// connection, 504 upstream_timeout when writing the request or reading the
// response times out, 502 upstream_error for any other failure (malformed
// response, body over MaxResponseBodySize, connection reset).
func (p *Pool) Forward(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	return p.forward(ctx, r, r.Path)
}

func (p *Pool) forward(ctx *fasthttp.RequestCtx, r *pipeline.Request, path []byte) pipeline.Verdict {
	var now lazyNow
	first := p.pick(&now)
	if first < 0 {
		return pipeline.Deny(ctx, r, fasthttp.StatusBadGateway, pipeline.ReasonUpstreamUnavailable)
	}

	req, resp := &ctx.Request, &ctx.Response
	respClose := resp.ConnectionClose()
	reqClose := req.Header.ConnectionClose()
	http10 := !req.Header.IsHTTP11()
	noHost := len(req.Header.Host()) == 0
	prepareRequest(req, path)

	verdict, answered := pipeline.Continue, false
	n := len(p.targets)
	for i := 0; i < n && !answered; i++ {
		idx := first + i
		if idx >= n {
			idx -= n
		}
		t := &p.targets[idx]
		if i > 0 && !t.available(&now) {
			continue
		}
		r.Upstream = t.addr
		if noHost {
			req.Header.SetHost(t.addr)
		}
		t.requests.Inc()
		t.inFlight.Add(1)
		err := t.do(req, resp)
		t.inFlight.Add(-1)
		if err == nil {
			if t.failures.Load() != 0 {
				t.failures.Store(0)
			}
			dropTrailers(&resp.Header)
			if !resp.Header.IsHTTP11() {
				// An intermediary answers in its own version (RFC 9110
				// §6.2), not the upstream's "HTTP/1.0".
				resp.Header.SetProtocol(nil)
			}
			answered = true
			break
		}
		switch classify(err) {
		case kindConnect:
			p.errConnect.Inc()
			p.failed(t, &now)
			continue // nothing was sent: try the next target
		case kindBusy:
			p.errConnect.Inc()
			continue
		case kindTimeout:
			p.errTimeout.Inc()
			p.failed(t, &now)
			verdict = p.deny(ctx, r, fasthttp.StatusGatewayTimeout, pipeline.ReasonUpstreamTimeout)
		case kindTooLarge:
			// The response, not the target's health, is at fault.
			p.errProtocol.Inc()
			verdict = p.deny(ctx, r, fasthttp.StatusBadGateway, pipeline.ReasonUpstreamError)
		default:
			p.errProtocol.Inc()
			p.failed(t, &now)
			verdict = p.deny(ctx, r, fasthttp.StatusBadGateway, pipeline.ReasonUpstreamError)
		}
		answered = true
	}
	if !answered {
		verdict = p.deny(ctx, r, fasthttp.StatusBadGateway, pipeline.ReasonUpstreamUnavailable)
	}

	// Give each side back its own connection handling.
	resp.Header.ResetConnectionClose()
	if respClose {
		resp.Header.SetConnectionClose()
	}
	if reqClose {
		req.Header.SetConnectionClose()
	}
	if http10 {
		req.Header.SetProtocolBytes(strHTTP10)
	}
	return verdict
}

// dropTrailers removes the trailer fields of an upstream's chunked
// response. The client gets the body with a Content-Length, and fasthttp
// would write them as ordinary header fields, past the response header
// scrubbing, which reads the header section only (an upstream's
// X-Powered-By or an internal address in a trailer reached the client).
func dropTrailers(h *fasthttp.ResponseHeader) {
	keys := h.PeekTrailerKeys()
	if len(keys) == 0 {
		return
	}
	for _, k := range keys {
		h.DelBytes(k) // the header section's field of that name too: the same data
	}
	h.Del(fasthttp.HeaderTrailer)
}

// do sends req to t: pipelined when t pipelines and req may be, else (and
// when the pipelined connections are full) over an ordinary connection.
func (t *target) do(req *fasthttp.Request, resp *fasthttp.Response) error {
	if t.pipe != nil && pipelined.Pipelinable(req) {
		err := t.pipe.Do(req, resp)
		if err != pipelined.ErrFull && err != pipelined.ErrClosed {
			return err
		}
	}
	return t.client.Do(req, resp)
}

// prepareRequest turns the client's request into the upstream request in
// place: plain http, the forwarded path, the original query string, no
// userinfo, the client's Host header and Content-Type (or none), HTTP/1.1
// keep-alive, no Expect.
func prepareRequest(req *fasthttp.Request, path []byte) {
	u := req.URI()
	if string(u.Scheme()) != "http" {
		u.SetSchemeBytes(strHTTP) // the upstream leg is plain HTTP even for TLS clients
	}
	if len(path) != 0 {
		u.SetPathBytes(path)
	}
	// Re-setting the query string drops parsed query args, so the original
	// bytes are sent rather than a re-encoding of them.
	u.SetQueryStringBytes(u.QueryString())
	if len(u.Username()) != 0 || len(u.Password()) != 0 {
		u.SetUsernameBytes(nil)
		u.SetPasswordBytes(nil)
	}
	req.UseHostHeader = true
	// A body the client sent without a Content-Type goes on without one:
	// fasthttp would write application/octet-stream, a type the client
	// never claimed (and one an upstream may act on).
	req.Header.SetNoDefaultContentType(true)
	req.Header.ResetConnectionClose()
	if !req.Header.IsHTTP11() {
		req.Header.SetProtocolBytes(strHTTP11)
	}
	// The gateway answered the client's Expect itself and holds the whole
	// body: the upstream is asked for nothing.
	req.Header.Del(fasthttp.HeaderExpect)
}

// deny replaces whatever a failed attempt left in the response with the
// gateway's error response.
func (p *Pool) deny(ctx *fasthttp.RequestCtx, r *pipeline.Request, status int, reason pipeline.Reason) pipeline.Verdict {
	ctx.Response.Reset()
	return pipeline.Deny(ctx, r, status, reason)
}

// pick returns the index of the first target to try, or -1 when no target is
// healthy and not ejected.
func (p *Pool) pick(now *lazyNow) int {
	n := len(p.targets)
	start := int(p.next.Add(1) % uint32(n))
	if p.balance == LeastConn {
		best, bestLoad := -1, int32(0)
		for i := 0; i < n; i++ {
			idx := start + i
			if idx >= n {
				idx -= n
			}
			t := &p.targets[idx]
			if !t.available(now) {
				continue
			}
			if load := t.inFlight.Load(); best < 0 || load < bestLoad {
				best, bestLoad = idx, load
			}
		}
		return best
	}
	for i := 0; i < n; i++ {
		idx := start + i
		if idx >= n {
			idx -= n
		}
		if p.targets[idx].available(now) {
			return idx
		}
	}
	return -1
}

// failed records a transport failure of t and ejects it once it has failed
// Passive.ConsecutiveFailures times in a row. The count is not reset by the
// ejection, so after EjectFor a single further failure ejects it again.
func (p *Pool) failed(t *target, now *lazyNow) {
	n := t.failures.Add(1)
	limit := p.passive.ConsecutiveFailures
	if limit <= 0 || int(n) < limit {
		return
	}
	cur := t.ejectedUntil.Load()
	nowNs := now.get()
	if cur > nowNs {
		return // already ejected
	}
	if t.ejectedUntil.CompareAndSwap(cur, nowNs+int64(p.passive.EjectFor)) {
		p.ejections.Inc()
		slog.Warn("upstream target ejected after consecutive failures", "pool", p.name, "target", t.addr, "failures", n, "for", p.passive.EjectFor.String())
	}
}

// available reports whether t may take a request: healthy and not ejected.
func (t *target) available(now *lazyNow) bool {
	if !t.healthy.Load() {
		return false
	}
	if u := t.ejectedUntil.Load(); u != 0 {
		if now.get() < u {
			return false
		}
		t.ejectedUntil.CompareAndSwap(u, 0)
	}
	return true
}

// lazyNow reads the clock at most once per request and only when needed.
type lazyNow int64

func (n *lazyNow) get() int64 {
	if *n == 0 {
		*n = lazyNow(monoNow() | 1)
	}
	return int64(*n)
}

type errKind uint8

const (
	kindProtocol errKind = iota // malformed response, reset, anything else
	kindConnect                 // no connection could be made
	kindBusy                    // MaxConnsPerTarget reached; nothing was sent
	kindTimeout                 // writing the request or reading the response timed out
	kindTooLarge                // response body over MaxResponseBodySize
)

// classify sorts a HostClient error without allocating.
func classify(err error) errKind {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch x := e.(type) {
		case *dialError:
			return kindConnect
		case interface{ Timeout() bool }:
			if x.Timeout() {
				return kindTimeout
			}
		}
		switch e {
		case fasthttp.ErrNoFreeConns:
			return kindBusy
		case fasthttp.ErrBodyTooLarge:
			return kindTooLarge
		}
	}
	return kindProtocol
}

// retryStaleConn lets the HostClient retry once, for idempotent methods only,
// when a kept-alive connection turned out to be closed by the upstream
// before it answered. Timeouts and other errors are never retried: that
// would multiply the time a client waits and the load on a sick upstream.
func retryStaleConn(req *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	h := &req.Header
	if !(h.IsGet() || h.IsHead() || h.IsOptions() || h.IsPut() || h.IsDelete() || h.IsTrace()) {
		return false, false
	}
	return false, err == io.EOF || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
