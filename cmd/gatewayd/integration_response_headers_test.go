package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestUpstreamResponseNamesInAnyCase: an upstream that writes its header
// names in lower case (as HTTP/2-minded frameworks do) gets the same
// response hygiene as one that writes them canonically, over ordinary and
// pipelined upstream connections: the client sees no hop-by-hop or
// Connection-listed field, no removed field, and only the gateway's own
// security header, request ID and traceparent.
func TestUpstreamResponseNamesInAnyCase(t *testing.T) {
	up := startUpstream(t, "api", func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Response.Header
		h.DisableNormalizing()
		h.Set("x-powered-by", "PHP/8")
		h.Set("keep-alive", "timeout=5")
		h.Set("connection", "x-internal")
		h.Set("x-internal", "secret")
		h.Set("x-frame-options", "ALLOWALL")
		h.Set("x-request-id", "upstream-id")
		h.Set("traceparent", "00-11111111111111111111111111111111-2222222222222222-01")
		h.Set("x-app", "1")
		ctx.SetBodyString("ok")
	})
	for _, pipeline := range []string{"", "\n    pipeline: {conns: 1}"} {
		name := "ordinary"
		if pipeline != "" {
			name = "pipelined"
		}
		t.Run(name, func(t *testing.T) {
			g := startGateway(t, baseConfig(`
  - name: api
    targets: [`+up.addr()+`]`+pipeline+`
`, `
  - name: api
    path: /api
    upstream: api
`)+"headers:\n  remove_response: [X-Powered-By]\n")
			c, err := net.DialTimeout("tcp", g.data, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("GET /api/x HTTP/1.1\r\nHost: a\r\nX-Request-ID: client-id-1\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			var resp fasthttp.Response
			resp.Header.DisableNormalizing() // the names as the gateway wrote them
			if err := resp.Read(bufio.NewReader(c)); err != nil || resp.StatusCode() != 200 {
				t.Fatalf("response: %d %v", resp.StatusCode(), err)
			}
			got := map[string][]string{}
			for k, v := range resp.Header.All() {
				got[strings.ToLower(string(k))] = append(got[strings.ToLower(string(k))], string(v))
			}
			for _, gone := range []string{"x-powered-by", "keep-alive", "x-internal"} {
				if v, ok := got[gone]; ok {
					t.Errorf("%s reached the client: %q", gone, v)
				}
			}
			for name, want := range map[string]string{"x-frame-options": "DENY", "x-request-id": "client-id-1", "x-app": "1"} {
				if v := got[name]; len(v) != 1 || v[0] != want {
					t.Errorf("%s = %q, want only %q", name, v, want)
				}
			}
			if v := got["traceparent"]; len(v) != 1 || strings.Contains(v[0], "2222222222222222") {
				t.Errorf("traceparent = %q, want only the gateway's", v)
			}
		})
	}
}
