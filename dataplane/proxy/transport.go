package proxy

import (
	"errors"
	"net"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/proxy/idlecheck"
)

// keepAliveTransport is the round trip of a target's HostClient: fasthttp's
// own, plus the checks that keep each upstream connection's responses in
// step with its requests (RFC 9112 §9.3). fasthttp returns a kept-alive
// connection to its pool after the response's last byte and takes it again
// without looking at it, so bytes an upstream sent outside a response (a
// second response to one request, a body on a HEAD or 204 response, a
// protocol after a 101) were read as the next client's response: one
// client received another's, cookies included. Here
//
//   - a response followed by more bytes, in the buffer or on the socket,
//     and a 101 Switching Protocols (the gateway never asks for an
//     upgrade: it strips Upgrade) close the connection; the 101 is an
//     error (502);
//   - a pooled connection is checked before it is written to: one that
//     has bytes waiting, or that the upstream closed while it sat idle, is
//     closed and another taken. Nothing was sent on it, so this is safe for
//     every method (a POST on an idle connection the upstream had closed
//     failed with 502).
//
// The check is one non-blocking peek per reused connection (idlecheck),
// the cost of watching idle connections without a reader goroutine each.
type keepAliveTransport struct {
	desync *metrics.Counter // connections closed for bytes outside a response
}

// errBadStatus answers a status code outside 100-599.
var errBadStatus = errors.New("upstream answered a status code outside 100-599")

// errSwitchingProtocols answers a 101 the gateway never asked for.
var errSwitchingProtocols = errors.New("upstream answered 101 Switching Protocols to a request without Upgrade")

func (t *keepAliveTransport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	if resp.StreamBody || hc.StreamResponseBody || hc.MaxConnDuration > 0 {
		// What this round trip leaves out (streamed bodies, connection
		// ages): the pools use neither; a client that does gets
		// fasthttp's own round trip, without the checks.
		return fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	}
	skipBody := resp.SkipBody
	// Each stale connection is closed, so the loop ends at the latest
	// when the pool is empty and AcquireConn dials (a new connection has
	// no LastUseTime and is not checked).
	cc, err := hc.AcquireConn(0, req.ConnectionClose())
	for err == nil && !cc.LastUseTime().IsZero() {
		st := check(cc.Conn())
		if st == idlecheck.Idle {
			break
		}
		if st == idlecheck.Unsolicited {
			t.desync.Inc()
		}
		hc.CloseConn(cc)
		cc, err = hc.AcquireConn(0, req.ConnectionClose())
	}
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	resp.ParseNetConn(conn)

	if hc.WriteTimeout > 0 {
		if err = conn.SetWriteDeadline(time.Now().Add(hc.WriteTimeout)); err != nil {
			hc.CloseConn(cc)
			return true, err
		}
	}
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if x, ok := err.(interface{ Timeout() bool }); ok && x.Timeout() {
		err = fasthttp.ErrTimeout
	}
	if err != nil {
		hc.CloseConn(cc)
		return true, err
	}

	if hc.ReadTimeout > 0 {
		if err = conn.SetReadDeadline(time.Now().Add(hc.ReadTimeout)); err != nil {
			hc.CloseConn(cc)
			return true, err
		}
	}
	if skipBody || req.Header.IsHead() {
		resp.SkipBody = true
	}
	if hc.DisableHeaderNamesNormalizing {
		resp.Header.DisableNormalizing()
	}
	br := hc.AcquireReader(conn)
	err = resp.ReadLimitBody(br, hc.MaxResponseBodySize)
	extra := br.Buffered() > 0
	hc.ReleaseReader(br)
	if err != nil {
		hc.CloseConn(cc)
		return err != fasthttp.ErrBodyTooLarge, err // the same body would come again
	}
	if resp.StatusCode() == fasthttp.StatusSwitchingProtocols {
		t.desync.Inc()
		hc.CloseConn(cc)
		return false, errSwitchingProtocols
	}
	if sc := resp.StatusCode(); sc < 100 || sc > 599 {
		// RFC 9110 §15: no status; a client would frame the answer its
		// own way (no Content-Length is written for a 99) or read a
		// success. A 502, and the connection is not trusted again.
		hc.CloseConn(cc)
		return false, errBadStatus
	}
	switch {
	case extra:
		t.desync.Inc()
		hc.CloseConn(cc)
	case req.ConnectionClose() || resp.ConnectionClose():
		hc.CloseConn(cc)
	default:
		hc.ReleaseConn(cc)
	}
	return false, nil
}

// check tells whether idle connection c may carry a request (see
// idlecheck); a connection it cannot check is taken as idle.
func check(c net.Conn) idlecheck.State {
	if uc, ok := c.(*upstreamConn); ok {
		return uc.check.Check()
	}
	return idlecheck.Idle
}

// upstreamConn is an upstream connection as fasthttp uses it (Conn: the
// TCP connection, or its yieldread wrapper) with its idle check.
type upstreamConn struct {
	net.Conn
	check *idlecheck.Conn
}

func newUpstreamConn(c net.Conn, tcp *net.TCPConn) (net.Conn, error) {
	check, err := idlecheck.New(tcp)
	if err != nil {
		return nil, err
	}
	return &upstreamConn{Conn: c, check: check}, nil
}
