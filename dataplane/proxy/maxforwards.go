package proxy

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// RFC 9110 §7.6.2: a proxy that receives an OPTIONS or TRACE request with
// Max-Forwards must not forward it when the value is 0, and answers it as
// the final recipient; otherwise it forwards the value less one. A client
// uses it to find which hop answers, or to stop a request at the gateway.

var (
	strMaxForwards = []byte(fasthttp.HeaderMaxForwards)
	strOPTIONS     = []byte(fasthttp.MethodOptions)
	strTRACE       = []byte(fasthttp.MethodTrace)
	strMessageHTTP = []byte("message/http")
)

// maxForwardsLimit caps the value read: a hop count beyond it is as good
// as unlimited, and the cap keeps the arithmetic in range.
const maxForwardsLimit = 1 << 30

// maxForwards reads req's Max-Forwards: present tells whether it has one,
// and ok whether it is one field of 1*DIGIT (optional white space around).
func maxForwards(req *fasthttp.Request) (n int, present, ok bool) {
	ok = true
	for k, v := range req.Header.All() {
		if !bytes.EqualFold(k, strMaxForwards) {
			continue
		}
		if present {
			return 0, true, false // two fields: which one counts is anyone's guess
		}
		present = true
		n, ok = parseHops(v)
	}
	return n, present, ok
}

// parseHops parses 1*DIGIT between optional white space, saturating at
// maxForwardsLimit.
func parseHops(v []byte) (int, bool) {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if len(v) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxForwardsLimit {
			n = n*10 + int(c-'0')
		}
	}
	return min(n, maxForwardsLimit), true
}

// hopLimit applies Max-Forwards to an OPTIONS or TRACE request: it answers
// the request itself (done) when the count is 0 or the field is invalid,
// and otherwise decrements the count to forward. Other methods ignore the
// field (RFC 9110 §7.6.2) and cost one method comparison.
func (s *Stage) hopLimit(ctx *fasthttp.RequestCtx, r *pipeline.Request) (v pipeline.Verdict, done bool) {
	req := &ctx.Request
	method := req.Header.Method()
	isOptions := string(method) == string(strOPTIONS)
	if !isOptions && string(method) != string(strTRACE) {
		return pipeline.Continue, false
	}
	n, present, ok := maxForwards(req)
	switch {
	case !present:
		return pipeline.Continue, false
	case !ok:
		r.Detail = "max_forwards_invalid"
		return pipeline.Deny(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonHeaderInvalid), true
	case n > 0:
		var buf [16]byte
		req.Header.SetBytesKV(strMaxForwards, fasthttp.AppendUint(buf[:0], n-1))
		return pipeline.Continue, false
	}
	resp := &ctx.Response
	closeConn := resp.ConnectionClose() // a decision made before (a drain): kept
	resp.Reset()
	if closeConn {
		resp.SetConnectionClose()
	}
	resp.SetStatusCode(fasthttp.StatusOK)
	if isOptions {
		// The gateway is the final recipient: it names what the route
		// takes, as its 405 would.
		if s.Allow != "" {
			resp.Header.Set(fasthttp.HeaderAllow, s.Allow)
		}
		resp.Header.SetContentLength(0)
		return pipeline.Done, true
	}
	// TRACE (the route lists it): the request line without its query, and
	// the fields that show what the hops did to the request, as
	// message/http. Nothing else: a query or any other field may carry a
	// credential (a token header the route verified, ?access_token=, a
	// session), whose echo is what cross-site tracing steals (RFC 9110
	// §9.3.8).
	resp.Header.SetContentTypeBytes(strMessageHTTP)
	resp.AppendBody(method)
	resp.AppendBodyString(" ")
	resp.AppendBody(req.URI().PathOriginal())
	resp.AppendBodyString(" HTTP/1.1\r\n")
	for k, v := range req.Header.All() {
		if !traceEchoed(k) {
			continue
		}
		resp.AppendBody(k)
		resp.AppendBodyString(": ")
		resp.AppendBody(v)
		resp.AppendBodyString("\r\n")
	}
	resp.AppendBodyString("\r\n")
	return pipeline.Done, true
}

// traceEchoed are the request fields a TRACE echo shows.
var traceEchoed = func() func([]byte) bool {
	names := [][]byte{[]byte("host"), []byte("max-forwards"), []byte("via"), []byte("forwarded"),
		[]byte("x-forwarded-for"), []byte("x-forwarded-proto"), []byte("user-agent"), []byte("accept"),
		[]byte("accept-language"), []byte("accept-encoding"), []byte("content-type"), []byte("content-length"),
		[]byte("x-request-id"), []byte("traceparent")}
	return func(k []byte) bool {
		for _, n := range names {
			if bytes.EqualFold(k, n) {
				return true
			}
		}
		return false
	}
}()
