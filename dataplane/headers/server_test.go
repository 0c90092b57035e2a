package headers

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// TestOverLoopback runs the stage in a real fasthttp server on 127.0.0.1
// whose handler plays the upstream: it reports the headers it received.
// Two requests share one client connection, so a response-side mistake
// that closes the connection fails the test.
func TestOverLoopback(t *testing.T) {
	tests := []struct {
		name       string
		trusted    []netip.Prefix
		wantXFF    string
		wantClient string
	}{
		{name: "loopback untrusted", wantXFF: "127.0.0.1", wantClient: "127.0.0.1"},
		{name: "loopback trusted", trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			wantXFF: "198.51.100.7, 127.0.0.1", wantClient: "198.51.100.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStage(t, Options{
				TrustedProxies:        tc.trusted,
				SetResponseHeaders:    DefaultSecurityHeaders(),
				RemoveResponseHeaders: []string{"Server", "X-Powered-By"},
			})
			addr := serve(t, func(ctx *fasthttp.RequestCtx) {
				r := &pipeline.Request{PeerIP: ctx.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()}
				s.Handle(ctx, r)
				req := &ctx.Request.Header
				resp := &ctx.Response.Header
				resp.Set("X-Seen-Xff", string(req.Peek("X-Forwarded-For")))
				resp.Set("X-Seen-Real-Ip", string(req.Peek("X-Real-Ip")))
				resp.Set("X-Seen-Secret", string(req.Peek("X-Secret")))
				resp.Set("X-Seen-Request-Id", string(req.Peek("X-Request-Id")))
				resp.Set("X-Client-Ip", r.ClientIP.String())
				resp.Set("Server", "upstream/1.0")
				resp.Set("X-Powered-By", "PHP")
				resp.Set("Connection", "X-Internal")
				resp.Set("X-Internal", "1")
				fmt.Fprintf(ctx, "%d", ctx.ConnID())
				s.HandleResponse(ctx, r)
			})
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			var connIDs []string
			for i := range 2 {
				fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: api.example\r\nX-Forwarded-For: 198.51.100.7\r\n"+
					"Connection: keep-alive, X-Secret\r\nX-Secret: s\r\nX-Request-ID: req-%d\r\n\r\n", i)
				var resp fasthttp.Response
				if err := resp.Read(br); err != nil {
					t.Fatalf("request %d: read response: %v", i, err)
				}
				h := &resp.Header
				want := map[string]string{
					"X-Seen-Xff":             tc.wantXFF,
					"X-Seen-Real-Ip":         tc.wantClient,
					"X-Client-Ip":            tc.wantClient,
					"X-Seen-Secret":          "",
					"X-Seen-Request-Id":      fmt.Sprintf("req-%d", i),
					"X-Request-Id":           fmt.Sprintf("req-%d", i),
					"X-Content-Type-Options": "nosniff",
					"X-Internal":             "",
					"X-Powered-By":           "",
					"Server":                 "",
				}
				for k, v := range want {
					if got := string(h.Peek(k)); got != v {
						t.Errorf("request %d: %s = %q, want %q", i, k, got, v)
					}
				}
				if h.ConnectionClose() || len(h.Peek("Connection")) != 0 {
					t.Errorf("request %d: response carries Connection %q", i, h.Peek("Connection"))
				}
				if tp := string(h.Peek("Traceparent")); !reTraceparent.MatchString(tp) {
					t.Errorf("request %d: traceparent %q", i, tp)
				}
				connIDs = append(connIDs, string(resp.Body()))
			}
			if connIDs[0] != connIDs[1] {
				t.Errorf("requests were served on connections %v, want one kept-alive connection", connIDs)
			}
		})
	}
}

// serve starts a fasthttp server on 127.0.0.1 and returns its address.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, NoDefaultServerHeader: true, NoDefaultContentType: true}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return ln.Addr().String()
}
