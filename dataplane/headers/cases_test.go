package headers

import (
	"bufio"
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// requestCases are request heads that exercise every branch of Handle.
var requestCases = []struct {
	name string
	peer string
	head string
}{
	{"untrusted, generated IDs", "203.0.113.5",
		"GET /v1/items HTTP/1.1\r\nHost: api.example\r\nX-Forwarded-For: 1.2.3.4\r\nUser-Agent: t\r\n\r\n"},
	{"trusted chain, kept IDs", "10.0.0.1",
		"GET /v1/items HTTP/1.1\r\nHost: api.example\r\nX-Forwarded-For: 1.1.1.1, 198.51.100.7, 10.0.0.2\r\n" +
			"X-Forwarded-Proto: https\r\nX-Request-ID: abc-123\r\n" +
			"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\ntracestate: a=b\r\n\r\n"},
	{"hop-by-hop and Connection tokens", "203.0.113.5",
		"GET /v1/items HTTP/1.1\r\nHost: api.example\r\nConnection: keep-alive, X-A, X-B\r\nX-A: 1\r\nX-B: 2\r\n" +
			"Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Request-ID: bad id\r\ntraceparent: junk\r\n\r\n"},
	{"garbage XFF from trusted IPv6 peer", "2001:db8:1::1",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 2001:db8::5, nonsense, [2001:db8:1::2]:80\r\n\r\n"},
	{"spoofable headers and credentials", "203.0.113.5",
		"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x.y.z\r\nX-Original-URL: /admin\r\nTrue-Client-IP: 1.2.3.4\r\n" +
			"x_forwarded_for: 6.6.6.6\r\nCookie: a=b; c=d\r\nAccept: */*\r\n\r\n"},
	{"long trusted chain", "10.0.0.1",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: " + string(bytes.Repeat([]byte("198.51.100.7, "), 100)) + "10.0.0.2\r\n\r\n"},
}

// reusableRequest returns a ctx and Request and a func that re-parses head
// into them without allocating, as the server does for each request on a
// connection.
func reusableRequest(head, peer string) (*fasthttp.RequestCtx, *pipeline.Request, func()) {
	ctx := &fasthttp.RequestCtx{}
	r := &pipeline.Request{}
	raw := []byte(head)
	src := bytes.NewReader(raw)
	br := bufio.NewReaderSize(src, 8192)
	peerIP := netip.MustParseAddr(peer)
	return ctx, r, func() {
		src.Reset(raw)
		br.Reset(src)
		ctx.Request.Reset()
		if err := ctx.Request.Header.Read(br); err != nil {
			panic(err)
		}
		r.Reset()
		r.PeerIP = peerIP
	}
}
