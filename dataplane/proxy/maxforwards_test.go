package proxy

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestMaxForwards(t *testing.T) {
	var upstreamSaw atomic.Value
	var reached atomic.Int64
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		reached.Add(1)
		upstreamSaw.Store(string(ctx.Request.Header.Peek("Max-Forwards")))
		ctx.SetBodyString("upstream")
	})
	pool := newTestPool(t, PoolConfig{Targets: []string{up.addr}})
	g := startGateway(t, &Stage{Pool: pool, Allow: "GET, HEAD, OPTIONS, TRACE"})

	tests := []struct {
		name, method string
		query        string
		headers      [][2]string
		wantStatus   int
		wantUpstream bool
		wantForward  string // Max-Forwards the upstream sees
		check        func(t *testing.T, resp *fasthttp.Response)
	}{
		{name: "OPTIONS without the field is forwarded", method: "OPTIONS", wantStatus: 200, wantUpstream: true},
		{name: "OPTIONS 0 is answered by the gateway", method: "OPTIONS", headers: [][2]string{{"Max-Forwards", "0"}}, wantStatus: 200,
			check: func(t *testing.T, resp *fasthttp.Response) {
				if got := string(resp.Header.Peek("Allow")); got != "GET, HEAD, OPTIONS, TRACE" {
					t.Errorf("Allow = %q", got)
				}
				if len(resp.Body()) != 0 {
					t.Errorf("body = %q, want none", resp.Body())
				}
			}},
		{name: "OPTIONS 0 with white space", method: "OPTIONS", headers: [][2]string{{"max-forwards", " 0 "}}, wantStatus: 200},
		{name: "OPTIONS 3 is forwarded as 2", method: "OPTIONS", headers: [][2]string{{"Max-Forwards", "3"}}, wantStatus: 200, wantUpstream: true, wantForward: "2"},
		{name: "OPTIONS 1 is forwarded as 0", method: "OPTIONS", headers: [][2]string{{"Max-Forwards", "1"}}, wantStatus: 200, wantUpstream: true, wantForward: "0"},
		{name: "a huge count saturates", method: "OPTIONS", headers: [][2]string{{"Max-Forwards", "99999999999999999999999"}}, wantStatus: 200, wantUpstream: true, wantForward: "1073741823"},
		{name: "a non-number is refused", method: "OPTIONS", headers: [][2]string{{"Max-Forwards", "-1"}}, wantStatus: 400},
		{name: "an empty value is refused", method: "OPTIONS", headers: [][2]string{{"Max-Forwards", ""}}, wantStatus: 400},
		{name: "two fields are refused", method: "OPTIONS", headers: [][2]string{{"Max-Forwards", "5"}, {"Max-Forwards", "0"}}, wantStatus: 400},
		{name: "TRACE 0 echoes the hops' fields, no credential", method: "TRACE", query: "?access_token=secret0",
			headers: [][2]string{{"Max-Forwards", "0"}, {"Cookie", "sid=secret1"}, {"Authorization", "Bearer secret2"},
				{"X-Access-Token", "secret3"}, {"X-Session", "secret4"}, {"Via", "1.1 cdn"}, {"User-Agent", "probe/1"}},
			wantStatus: 200,
			check: func(t *testing.T, resp *fasthttp.Response) {
				body := string(resp.Body())
				if string(resp.Header.ContentType()) != "message/http" || !strings.HasPrefix(body, "TRACE /x HTTP/1.1\r\n") ||
					!strings.Contains(body, "Via: 1.1 cdn\r\n") || !strings.Contains(body, "User-Agent: probe/1\r\n") {
					t.Errorf("TRACE echo %q (%s)", body, resp.Header.ContentType())
				}
				if strings.Contains(body, "secret") {
					t.Errorf("TRACE echo carries a credential: %q", body)
				}
			}},
		{name: "OPTIONS 0 keeps a connection close decided before", method: "OPTIONS", headers: [][2]string{{"Max-Forwards", "0"}, {"X-Close", "1"}},
			wantStatus: 200,
			check: func(t *testing.T, resp *fasthttp.Response) {
				if !resp.ConnectionClose() {
					t.Error("the answer dropped the Connection: close decided before it")
				}
			}},
		{name: "TRACE 2 is forwarded as 1", method: "TRACE", headers: [][2]string{{"Max-Forwards", "2"}}, wantStatus: 200, wantUpstream: true, wantForward: "1"},
		{name: "GET ignores the field", method: "GET", headers: [][2]string{{"Max-Forwards", "0"}}, wantStatus: 200, wantUpstream: true, wantForward: "0"},
		{name: "POST ignores an invalid one", method: "POST", headers: [][2]string{{"Max-Forwards", "x"}}, wantStatus: 200, wantUpstream: true, wantForward: "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + g.addr + "/x" + tc.query)
			req.Header.SetMethod(tc.method)
			for _, h := range tc.headers {
				req.Header.Add(h[0], h[1])
			}
			before := reached.Load()
			upstreamSaw.Store("")
			if err := g.client.Do(req, resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode(), tc.wantStatus, resp.Body())
			}
			if got := reached.Load() > before; got != tc.wantUpstream {
				t.Fatalf("reached upstream: %v, want %v", got, tc.wantUpstream)
			}
			if tc.wantUpstream && upstreamSaw.Load().(string) != tc.wantForward {
				t.Errorf("upstream saw Max-Forwards %q, want %q", upstreamSaw.Load(), tc.wantForward)
			}
			if tc.check != nil {
				tc.check(t, resp)
			}
		})
	}
}

func TestMaxForwardsAllocs(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("OPTIONS")
	ctx.Request.Header.Set("Max-Forwards", "7")
	s := &Stage{}
	var r pipeline.Request
	if n := testing.AllocsPerRun(100, func() {
		ctx.Request.Header.Set("Max-Forwards", "7")
		s.hopLimit(&ctx, &r)
	}); n != 0 {
		t.Errorf("%v allocations per forwarded OPTIONS", n)
	}
}
