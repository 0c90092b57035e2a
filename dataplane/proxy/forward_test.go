package proxy

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// echoHandler reports what the upstream received in response headers and
// answers with the status asked for in X-Want-Status.
func echoHandler(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	ctx.Response.Header.Set("X-Seen-Method", string(h.Method()))
	ctx.Response.Header.Set("X-Seen-URI", string(h.RequestURI()))
	ctx.Response.Header.Set("X-Seen-Host", string(h.Host()))
	ctx.Response.Header.Set("X-Seen-UA", string(h.UserAgent()))
	ctx.Response.Header.Set("X-Seen-Custom", string(h.Peek("x-CUSTOM-header")))
	ctx.Response.Header.Set("X-Seen-Proto", string(h.Protocol()))
	ctx.Response.Header.Set("X-Seen-Content-Type", string(h.ContentType()))
	if h.ConnectionClose() {
		ctx.Response.Header.Set("X-Seen-Close", "1")
	}
	ctx.Response.Header.Set("x-upstream-Mixed-Case", "kept")
	if s := h.Peek("X-Want-Status"); len(s) > 0 {
		n, _ := strconv.Atoi(string(s))
		ctx.SetStatusCode(n)
	}
	ctx.SetContentType("text/plain")
	ctx.SetBodyString("body:")
	ctx.Response.AppendBody(ctx.Request.Body())
}

func TestForward(t *testing.T) {
	up := startUpstream(t, echoHandler)
	p := newTestPool(t, PoolConfig{Targets: []string{up.addr}})
	gw := startGateway(t, &Stage{Pool: p})

	cases := []struct {
		name       string
		method     string
		uri        string
		body       string
		headers    map[string]string
		wantStatus int
		wantURI    string
		wantBody   string
	}{
		{name: "get with query", method: "GET", uri: "/a/b?x=1&y=%20z", wantStatus: 200, wantURI: "/a/b?x=1&y=%20z", wantBody: "body:"},
		{name: "root", method: "GET", uri: "/", wantStatus: 200, wantURI: "/", wantBody: "body:"},
		{name: "post body", method: "POST", uri: "/submit", body: `{"k":"v"}`, headers: map[string]string{"Content-Type": "application/json"}, wantStatus: 200, wantURI: "/submit", wantBody: `body:{"k":"v"}`},
		// A body without a Content-Type reaches the upstream without one:
		// the gateway does not invent application/octet-stream.
		{name: "post body untyped", method: "POST", uri: "/submit", body: `{"k":"v"}`, wantStatus: 200, wantURI: "/submit", wantBody: `body:{"k":"v"}`},
		{name: "put with header", method: "PUT", uri: "/item/7", body: "data", headers: map[string]string{"x-CUSTOM-header": "v1"}, wantStatus: 200, wantURI: "/item/7", wantBody: "body:data"},
		{name: "delete", method: "DELETE", uri: "/item/7?force=true", wantStatus: 200, wantURI: "/item/7?force=true", wantBody: "body:"},
		{name: "upstream 404 passes through", method: "GET", uri: "/missing", headers: map[string]string{"X-Want-Status": "404"}, wantStatus: 404, wantURI: "/missing", wantBody: "body:"},
		{name: "upstream 503 passes through", method: "GET", uri: "/sick", headers: map[string]string{"X-Want-Status": "503"}, wantStatus: 503, wantURI: "/sick", wantBody: "body:"},
		{name: "head", method: "HEAD", uri: "/h", wantStatus: 200, wantURI: "/h", wantBody: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + gw.addr + tc.uri)
			req.Header.SetHost("api.example.test")
			req.UseHostHeader = true
			req.Header.SetMethod(tc.method)
			req.Header.DisableNormalizing()
			req.Header.SetNoDefaultContentType(true)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			if tc.body != "" {
				req.SetBodyString(tc.body)
			}
			if err := gw.client.Do(req, resp); err != nil {
				t.Fatalf("do: %v", err)
			}
			h := &resp.Header
			check := func(what, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("status", strconv.Itoa(resp.StatusCode()), strconv.Itoa(tc.wantStatus))
			check("upstream method", string(h.Peek("X-Seen-Method")), tc.method)
			check("upstream request URI", string(h.Peek("X-Seen-URI")), tc.wantURI)
			check("upstream Host", string(h.Peek("X-Seen-Host")), "api.example.test")
			check("upstream User-Agent", string(h.Peek("X-Seen-UA")), "")
			check("upstream protocol", string(h.Peek("X-Seen-Proto")), "HTTP/1.1")
			check("upstream custom header", string(h.Peek("X-Seen-Custom")), tc.headers["x-CUSTOM-header"])
			check("upstream content type", string(h.Peek("X-Seen-Content-Type")), tc.headers["Content-Type"])
			check("response header from upstream", string(h.Peek("x-upstream-Mixed-Case")), "kept")
			check("content type", string(h.ContentType()), "text/plain")
			check("body", string(resp.Body()), tc.wantBody)
			check("r.Upstream", string(h.Peek("X-Gw-Upstream")), up.addr)
			check("r.Reason", string(h.Peek("X-Gw-Reason")), "")
		})
	}
}

func TestStripPrefix(t *testing.T) {
	cases := []struct {
		name, prefix, path, want string
		fold                     bool
	}{
		{"no prefix", "", "/api/users", "/api/users", false},
		{"strip segment", "/api", "/api/users", "/users", false},
		{"strip trailing slash prefix", "/api/", "/api/users", "/users", false},
		{"exact prefix becomes root", "/api", "/api", "/", false},
		{"exact prefix with slash becomes root", "/api", "/api/", "/", false},
		{"not a segment boundary", "/api", "/apix/users", "/apix/users", false},
		{"shorter path", "/api/v1", "/api", "/api", false},
		{"other path", "/api", "/web/index", "/web/index", false},
		{"root prefix strips nothing", "/", "/api", "/api", false},
		{"parameters of a stripped segment go", "/api/v1", "/api;x=1/v1;v=2/items;a=b", "/items;a=b", false},
		{"parameters on the last stripped segment", "/api", "/api;x=1", "/", false},
		{"parameters do not make a boundary", "/api", "/apix;y/z", "/apix;y/z", false},
		{"case kept", "/Ci", "/CI/x", "/CI/x", false},
		// A case_insensitive route matched /CI/x by /Ci/: its prefix goes.
		{"case folded", "/Ci", "/CI/x", "/x", true},
		{"case folded exact", "/Ci/", "/ci", "/", true},
		{"case folded with parameters", "/Api/V1", "/aPI;x=1/v1/items", "/items", true},
		{"case folded not a boundary", "/Ci", "/cix", "/cix", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(stripPrefix([]byte(tc.path), tc.prefix, tc.fold)); got != tc.want {
				t.Errorf("stripPrefix(%q, %q) = %q, want %q", tc.path, tc.prefix, got, tc.want)
			}
		})
	}

	t.Run("end to end", func(t *testing.T) {
		up := startUpstream(t, echoHandler)
		p := newTestPool(t, PoolConfig{Targets: []string{up.addr}})
		gw := startGateway(t, &Stage{Pool: p, StripPrefix: "/api"})
		for uri, want := range map[string]string{
			"/api/users?id=3": "/users?id=3",
			"/api?q":          "/?q",
			"/apix":           "/apix",
		} {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://" + gw.addr + uri)
			if err := gw.client.Do(req, resp); err != nil {
				t.Fatalf("GET %s: %v", uri, err)
			}
			if got := string(resp.Header.Peek("X-Seen-URI")); got != want {
				t.Errorf("GET %s: upstream saw %q, want %q", uri, got, want)
			}
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
	})
}

// TestKeepAliveSidesIndependent checks that Connection: close on one side
// does not close the connection on the other.
func TestKeepAliveSidesIndependent(t *testing.T) {
	t.Run("client close keeps upstream connection", func(t *testing.T) {
		up := startUpstream(t, echoHandler)
		p := newTestPool(t, PoolConfig{Targets: []string{up.addr}})
		gw := startGateway(t, &Stage{Pool: p})
		for i := 0; i < 5; i++ {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://" + gw.addr + "/x")
			req.SetConnectionClose()
			if err := gw.client.Do(req, resp); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if !resp.ConnectionClose() {
				t.Errorf("request %d: gateway did not close the client connection the client asked to close", i)
			}
			if got := string(resp.Header.Peek("X-Seen-Close")); got != "" {
				t.Errorf("request %d: upstream saw Connection: close", i)
			}
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
		if n := gw.accepts.Load(); n != 5 {
			t.Errorf("gateway accepted %d client connections, want 5", n)
		}
		if n := up.accepts.Load(); n != 1 {
			t.Errorf("upstream accepted %d connections, want 1 kept alive", n)
		}
	})
	t.Run("upstream close keeps client connection", func(t *testing.T) {
		up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
			ctx.SetConnectionClose()
			ctx.SetBodyString("bye")
		})
		p := newTestPool(t, PoolConfig{Targets: []string{up.addr}})
		gw := startGateway(t, &Stage{Pool: p})
		for i := 0; i < 5; i++ {
			if status, body, _ := gw.get(t, "/x"); status != 200 || body != "bye" {
				t.Fatalf("request %d: %d %q", i, status, body)
			}
		}
		if n := gw.accepts.Load(); n != 1 {
			t.Errorf("gateway accepted %d client connections, want 1 kept alive", n)
		}
		if n := up.accepts.Load(); n != 5 {
			t.Errorf("upstream accepted %d connections, want 5 (it closes each)", n)
		}
	})
	t.Run("http/1.0 client is forwarded as http/1.1", func(t *testing.T) {
		up := startUpstream(t, echoHandler)
		p := newTestPool(t, PoolConfig{Targets: []string{up.addr}})
		gw := startGateway(t, &Stage{Pool: p})
		for i := 0; i < 3; i++ {
			conn, err := net.Dial("tcp", gw.addr)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := conn.Write([]byte("GET /old?v=1 HTTP/1.0\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			var resp fasthttp.Response
			if err := resp.Read(bufio.NewReader(conn)); err != nil {
				t.Fatalf("read response: %v", err)
			}
			conn.Close()
			if resp.StatusCode() != 200 || string(resp.Header.Peek("X-Seen-URI")) != "/old?v=1" ||
				string(resp.Header.Peek("X-Seen-Proto")) != "HTTP/1.1" || string(resp.Header.Peek("X-Seen-Host")) != up.addr {
				t.Fatalf("request %d: status %d, upstream saw URI %q proto %q host %q", i, resp.StatusCode(),
					resp.Header.Peek("X-Seen-URI"), resp.Header.Peek("X-Seen-Proto"), resp.Header.Peek("X-Seen-Host"))
			}
		}
		if n := up.accepts.Load(); n != 1 {
			t.Errorf("upstream accepted %d connections, want 1 kept alive", n)
		}
	})
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	ups := []*upstream{startUpstream(t, nil), startUpstream(t, nil), startUpstream(t, nil)}
	p := newTestPool(t, PoolConfig{Targets: []string{ups[0].addr, ups[1].addr, ups[2].addr}})
	gw := startGateway(t, &Stage{Pool: p})
	for i := 0; i < 30; i++ {
		if status, _, _ := gw.get(t, "/rr"); status != 200 {
			t.Fatalf("request %d: status %d", i, status)
		}
	}
	for i, u := range ups {
		if n := u.hits.Load(); n != 10 {
			t.Errorf("target %d got %d of 30 requests, want 10", i, n)
		}
	}
}

func TestLeastConnPrefersIdleTarget(t *testing.T) {
	release := make(chan struct{})
	blocking := func(ctx *fasthttp.RequestCtx) {
		if len(ctx.Request.Header.Peek("X-Block")) > 0 {
			<-release
		}
		ctx.SetBodyString("ok")
	}
	a, b := startUpstream(t, blocking), startUpstream(t, blocking)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	p := newTestPool(t, PoolConfig{Targets: []string{a.addr, b.addr}, Balance: LeastConn})
	gw := startGateway(t, &Stage{Pool: p})

	slowDone := make(chan error, 1)
	go func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + gw.addr + "/slow")
		req.Header.Set("X-Block", "1")
		c := &fasthttp.HostClient{Addr: gw.addr, ReadTimeout: 5 * time.Second}
		defer c.CloseIdleConnections()
		slowDone <- c.Do(req, resp)
	}()
	busy := ""
	waitFor(t, "the slow request to be in flight", 2*time.Second, func() bool {
		for _, s := range p.Status() {
			if s.InFlight == 1 {
				busy = s.Address
				return true
			}
		}
		return false
	})
	idle := a.addr
	if busy == a.addr {
		idle = b.addr
	}
	for i := 0; i < 10; i++ {
		status, _, served := gw.get(t, "/fast")
		if status != 200 || served != idle {
			t.Fatalf("request %d: status %d served by %s, want the idle target %s", i, status, served, idle)
		}
	}
	once.Do(func() { close(release) })
	if err := <-slowDone; err != nil {
		t.Fatalf("slow request: %v", err)
	}
	// Now both are idle: ties go round robin.
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		_, _, served := gw.get(t, "/fast")
		seen[served]++
	}
	if seen[a.addr] != 5 || seen[b.addr] != 5 {
		t.Errorf("idle targets got %v, want 5 each", seen)
	}
}

func counterValue(name string) uint64 { return metrics.GetOrCreateCounter(name).Get() }

func TestDialFailureFailsOver(t *testing.T) {
	dead := deadAddr(t)
	live := startUpstream(t, nil)
	p := newTestPool(t, PoolConfig{Targets: []string{dead, live.addr}})
	gw := startGateway(t, &Stage{Pool: p})
	connectErrs := `edgeguard_upstream_errors_total{pool="` + p.Name() + `",kind="connect"}`
	before := counterValue(connectErrs)
	for i := 0; i < 6; i++ {
		status, body, served := gw.get(t, "/x")
		if status != 200 || body != live.addr || served != live.addr {
			t.Fatalf("request %d: status %d body %q served by %s, want 200 from %s", i, status, body, served, live.addr)
		}
	}
	if got := counterValue(connectErrs) - before; got != 3 {
		t.Errorf("connect errors = %d, want 3 (every other request picks the dead target first)", got)
	}
	if s := statusOf(p, dead); s.ConsecutiveFailures != 3 || !s.EjectedUntil.IsZero() {
		t.Errorf("dead target status %+v, want 3 failures and no ejection (passive off)", s)
	}
	if s := statusOf(p, live.addr); s.ConsecutiveFailures != 0 {
		t.Errorf("live target status %+v, want 0 failures", s)
	}
}

func TestFailures(t *testing.T) {
	cases := []struct {
		name       string
		targets    func(t *testing.T) []string
		cfg        PoolConfig
		method     string
		wantStatus int
		wantReason string
		wantKind   string
	}{
		{
			name:       "all targets refuse connections",
			targets:    func(t *testing.T) []string { return []string{deadAddr(t), deadAddr(t)} },
			wantStatus: 502, wantReason: "upstream_unavailable", wantKind: "connect",
		},
		{
			name: "slow upstream times out",
			targets: func(t *testing.T) []string {
				release := make(chan struct{})
				u := startUpstream(t, func(ctx *fasthttp.RequestCtx) { <-release })
				t.Cleanup(func() { close(release) })
				return []string{u.addr}
			},
			cfg:        PoolConfig{ReadTimeout: 50 * time.Millisecond},
			wantStatus: 504, wantReason: "upstream_timeout", wantKind: "timeout",
		},
		{
			name:       "malformed response",
			targets:    func(t *testing.T) []string { return []string{rawUpstream(t, "HELLO THERE\r\n\r\n")} },
			wantStatus: 502, wantReason: "upstream_error", wantKind: "protocol",
		},
		{
			name:       "connection closed without response",
			targets:    func(t *testing.T) []string { return []string{rawUpstream(t, "")} },
			method:     "POST",
			wantStatus: 502, wantReason: "upstream_error", wantKind: "protocol",
		},
		{
			name: "body too large",
			targets: func(t *testing.T) []string {
				u := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(make([]byte, 4096)) })
				return []string{u.addr}
			},
			cfg:        PoolConfig{MaxResponseBodySize: 1024},
			wantStatus: 502, wantReason: "upstream_error", wantKind: "protocol",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Targets = tc.targets(t)
			p := newTestPool(t, cfg)
			gw := startGateway(t, &Stage{Pool: p})
			kind := `edgeguard_upstream_errors_total{pool="` + p.Name() + `",kind="` + tc.wantKind + `"}`
			before := counterValue(kind)

			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + gw.addr + "/fail")
			if tc.method != "" {
				req.Header.SetMethod(tc.method)
			}
			start := time.Now()
			if err := gw.client.Do(req, resp); err != nil {
				t.Fatalf("do: %v", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("failure took %v", took)
			}
			if resp.StatusCode() != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode(), tc.wantStatus)
			}
			wantBody := `"reason":"` + tc.wantReason + `"`
			if !strings.Contains(string(resp.Body()), wantBody) {
				t.Errorf("body %q does not contain %s", resp.Body(), wantBody)
			}
			if got := string(resp.Header.Peek("X-Gw-Reason")); got != tc.wantReason {
				t.Errorf("r.Reason = %q, want %q", got, tc.wantReason)
			}
			if got := string(resp.Header.ContentType()); got != "application/json" {
				t.Errorf("content type %q, want application/json", got)
			}
			if got := counterValue(kind) - before; got == 0 {
				t.Errorf("%s did not grow", kind)
			}
		})
	}
}

// rawUpstream accepts connections, reads one request head and answers with
// reply verbatim (nothing when empty), then closes the connection.
func rawUpstream(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(2 * time.Second))
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil || line == "\r\n" {
					break
				}
			}
			if reply != "" {
				c.Write([]byte(reply))
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// TestStaleKeepAliveConnection: the upstream closes each connection after
// answering without saying so. The pooled connection is found closed before
// the next request is written to it, so every method, POST included, goes
// out on a new connection (a POST got 502 before the check).
func TestStaleKeepAliveConnection(t *testing.T) {
	cases := []struct {
		method     string
		wantStatus int
	}{
		{"GET", 200},
		{"PUT", 200},
		{"POST", 200},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			addr := rawUpstream(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			p := newTestPool(t, PoolConfig{Targets: []string{addr}})
			gw := startGateway(t, &Stage{Pool: p})
			for i, want := range []int{200, tc.wantStatus} {
				if i > 0 {
					time.Sleep(20 * time.Millisecond) // the close reaches the gateway while the connection is idle
				}
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				req.SetRequestURI("http://" + gw.addr + "/x")
				req.Header.SetMethod(tc.method)
				if err := gw.client.Do(req, resp); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if resp.StatusCode() != want {
					t.Errorf("request %d: status %d, want %d (%s)", i, resp.StatusCode(), want, resp.Body())
				}
				fasthttp.ReleaseRequest(req)
				fasthttp.ReleaseResponse(resp)
			}
		})
	}
}

// TestTrailersDropped: the trailer fields of an upstream's chunked response
// do not reach the client, where they would arrive as header fields that
// the response scrubbing never saw.
func TestTrailersDropped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var req fasthttp.Request
					if req.Read(br) != nil {
						return
					}
					c.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\nX-Kept: yes\r\n\r\n" +
						"2\r\nok\r\n0\r\nX-T: secret\r\nX-Powered-By: PHP/5.1\r\nX-Backend: 10.0.0.9\r\n\r\n"))
				}
			}()
		}
	}()
	p := newTestPool(t, PoolConfig{Targets: []string{ln.Addr().String()}})
	gw := startGateway(t, &Stage{Pool: p})
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + gw.addr + "/sec")
	if err := gw.client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 200 || string(resp.Body()) != "ok" || string(resp.Header.Peek("X-Kept")) != "yes" {
		t.Fatalf("status %d body %q X-Kept %q", resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Kept"))
	}
	for _, name := range []string{"X-T", "X-Powered-By", "X-Backend", "Trailer"} {
		if v := resp.Header.Peek(name); v != nil {
			t.Errorf("%s: %q reached the client", name, v)
		}
	}
}

// TestExpectNotForwarded: the gateway answered the client's Expect and
// holds the body; the upstream gets the request without it.
func TestExpectNotForwarded(t *testing.T) {
	var saw atomic.Value
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		saw.Store(string(ctx.Request.Header.Peek("Expect")) + "|" + string(ctx.Request.Body()))
	})
	g := startGateway(t, &Stage{Pool: newTestPool(t, PoolConfig{Targets: []string{up.addr}})})
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + g.addr + "/x")
	req.Header.Set("Expect", "100-continue")
	req.SetBodyString("payload")
	if err := g.client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("POST: %v %d", err, resp.StatusCode())
	}
	if got := saw.Load(); got != "|payload" {
		t.Errorf("upstream saw Expect|body %q, want no Expect and the body", got)
	}
}
