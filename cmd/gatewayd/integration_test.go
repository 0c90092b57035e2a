package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestProxyAndHeaders(t *testing.T) {
	up := startUpstream(t, "api", nil)
	g := startGateway(t, baseConfig(`
  - name: api
    targets: [`+up.addr()+`]
`, `
  - name: api
    path: /api
    upstream: api
`))
	r := g.do(t, "GET", "/api/users?id=7", "X-Forwarded-For", "6.6.6.6", "Connection", "keep-alive, X-Secret", "X-Secret", "s")
	if r.status != 200 {
		t.Fatalf("status %d body %q", r.status, r.body)
	}
	if !strings.HasPrefix(r.body, "api GET /api/users?id=7 xff=127.0.0.1 rid=") {
		t.Errorf("upstream saw %q: want normalized path, query, and XFF replaced by the peer", r.body)
	}
	rid := r.headers["X-Request-Id"]
	if len(rid) != 32 || !strings.HasSuffix(r.body, rid) {
		t.Errorf("X-Request-ID %q not generated and propagated (body %q)", rid, r.body)
	}
	if r.headers["Traceparent"] == "" {
		t.Error("traceparent not returned to the client")
	}
	if _, leaked := r.headers["Server"]; leaked {
		t.Error("upstream Server header should be removed")
	}
	if r.headers["X-Content-Type-Options"] != "nosniff" {
		t.Errorf("security headers missing: %v", r.headers)
	}

	r = g.do(t, "GET", "/api/x", "X-Request-ID", "client-id-123")
	if r.headers["X-Request-Id"] != "client-id-123" || !strings.HasSuffix(r.body, "rid=client-id-123") {
		t.Errorf("client request ID not propagated: %v %q", r.headers, r.body)
	}

	r = g.do(t, "GET", "/other")
	if r.status != 404 || !strings.Contains(r.body, `"reason":"no_route"`) {
		t.Errorf("unrouted path: %d %q", r.status, r.body)
	}
	m := g.metrics(t)
	for _, want := range []string{`edgeguard_requests_total{route="api",class="2xx"} 2`, `edgeguard_denied_total{reason="no_route"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics missing %s", want)
		}
	}
}

// adminPublic is a config with a POST-only admin route (matched by match,
// e.g. "path: /admin") and a catch-all public route, each to its upstream.
func adminPublic(admin, public *upstream, match string) string {
	return baseConfig(`
  - name: admin
    targets: [`+admin.addr()+`]
  - name: public
    targets: [`+public.addr()+`]
`, `
  - name: admin
    `+match+`
    methods: [POST]
    upstream: admin
  - name: public
    path: /
    upstream: public
`)
}

// TestPathBypass checks that no spelling of /admin escapes the admin route's
// constraints (here: POST only) by landing on the catch-all route instead.
func TestPathBypass(t *testing.T) {
	admin := startUpstream(t, "admin", nil)
	public := startUpstream(t, "public", nil)
	g := startGateway(t, adminPublic(admin, public, "path: /admin"))
	cases := []struct {
		name, path string
		status     int
		reason     string
	}{
		{"plain", "/admin", 405, "method_not_allowed"},
		{"double slash", "//admin", 405, "method_not_allowed"},
		{"dot segment", "/./admin", 405, "method_not_allowed"},
		{"encoded unreserved", "/%61dmin", 405, "method_not_allowed"},
		{"dot dot", "/api/../admin", 405, "method_not_allowed"},
		{"subpath", "/admin/users", 405, "method_not_allowed"},
		{"encoded dot dot", "/api/%2e%2e/admin", 400, "path_ambiguous"},
		{"encoded slash", "/admin%2fusers", 400, "path_ambiguous"},
		{"backslash", "/api\\..\\admin", 400, "path_ambiguous"},
		{"encoded NUL", "/admin%00", 400, "path_ambiguous"},
		{"double encoded letter", "/%2561dmin", 400, "path_ambiguous"},
		{"double encoded dot dot", "/api/%252e%252e/admin", 400, "path_ambiguous"},
		{"nested encoding", "/api/%25%32%65%25%32%65/admin", 400, "path_ambiguous"},
		{"path parameter", "/admin;x=1", 400, "path_ambiguous"},
		{"dot dot parameter", "/api/..;/admin", 400, "path_ambiguous"},
		{"trailing dot", "/admin.", 400, "path_ambiguous"},
		{"trailing encoded space", "/admin%20", 400, "path_ambiguous"},
		{"public", "/adminx", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(t, "GET", tc.path)
			if r.status != tc.status {
				t.Fatalf("GET %s: status %d, want %d (body %q)", tc.path, r.status, tc.status, r.body)
			}
			if tc.reason != "" && !strings.Contains(r.body, `"reason":"`+tc.reason+`"`) {
				t.Errorf("GET %s: body %q lacks reason %s", tc.path, r.body, tc.reason)
			}
			if tc.status == 405 && r.headers["Allow"] != "POST" {
				t.Errorf("GET %s: 405 with Allow %q, want POST", tc.path, r.headers["Allow"])
			}
		})
	}
	if admin.count() != 0 {
		t.Errorf("admin upstream was reached %d times by GET", admin.count())
	}
	if r := g.do(t, "POST", "/%61dmin"); r.status != 200 || !strings.HasPrefix(r.body, "admin POST /admin") {
		t.Errorf("POST /%%61dmin: %d %q", r.status, r.body)
	}
}

// TestAbsoluteFormHost: with an absolute-form request-target the gateway
// routes and forwards on the target's host (RFC 9112 §3.2.2), so a Host
// header naming a protected host cannot ride along on a request routed as
// another one.
func TestAbsoluteFormHost(t *testing.T) {
	echoHost := func(ctx *fasthttp.RequestCtx) { fmt.Fprintf(ctx, "host=%s", ctx.Request.Header.Host()) }
	admin := startUpstream(t, "admin", echoHost)
	public := startUpstream(t, "public", echoHost)
	g := startGateway(t, adminPublic(admin, public, "host: admin.example.com\n    path: /"))
	for _, tc := range []struct {
		name, target, host string
		status             int
		body               string
	}{
		{"origin form, admin host", "/", "admin.example.com", 405, ""},
		{"absolute form names another host", "http://other.example.com/", "admin.example.com", 200, "host=other.example.com"},
		{"absolute form names the admin host", "http://ADMIN.example.com/x", "other.example.com", 405, ""},
		{"absolute form, no Host header (HTTP/1.1 requires one)", "http://other.example.com/", "", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", g.data)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := "GET " + tc.target + " HTTP/1.1\r\n"
			if tc.host != "" {
				req += "Host: " + tc.host + "\r\n"
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, req+"Connection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) {
				t.Fatalf("status %d body %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}
	if admin.count() != 0 {
		t.Errorf("the admin upstream was reached %d times by GET", admin.count())
	}
}

func TestHealthCheckFailover(t *testing.T) {
	a := startUpstream(t, "a", nil)
	b := startUpstream(t, "b", nil)
	g := startGateway(t, baseConfig(`
  - name: pool
    targets: [`+a.addr()+`, `+b.addr()+`]
    health_check:
      path: /healthz
      interval: 50ms
      timeout: 40ms
      healthy_threshold: 1
      unhealthy_threshold: 2
`, `
  - name: all
    path: /
    upstream: pool
`))
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		r := g.do(t, "GET", "/x")
		seen[r.headers["X-Upstream"]]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Fatalf("round robin did not use both targets: %v", seen)
	}
	_ = a.srv.Shutdown() // a goes away: closed listener, connections refused
	waitFor(t, "target a marked unhealthy in /status", func() bool {
		_, body, err := fasthttp.Get(nil, "http://"+g.mgmt+"/status")
		return err == nil && strings.Count(string(body), `"healthy": false`) == 1
	})
	for i := 0; i < 20; i++ {
		r := g.do(t, "GET", "/x")
		if r.status != 200 || r.headers["X-Upstream"] != "b" {
			t.Fatalf("request %d after a failed: %d from %q", i, r.status, r.headers["X-Upstream"])
		}
	}
	g.waitLog("upstream target unhealthy: taken out of rotation", a.addr())
	_ = b.srv.Shutdown()
	waitFor(t, "502 once every target is down", func() bool {
		r := g.do(t, "GET", "/x")
		return r.status == 502 && strings.Contains(r.body, "upstream_unavailable")
	})

	// a comes back on its address: the health check puts it back in rotation.
	ln, err := net.Listen("tcp4", a.addr())
	if err != nil {
		t.Fatalf("re-listen on %s: %v", a.addr(), err)
	}
	back := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.Response.Header.Set("X-Upstream", "a-again") }}
	go func() { _ = back.Serve(ln) }()
	t.Cleanup(func() { _ = back.Shutdown() })
	waitFor(t, "a back in rotation", func() bool { return g.do(t, "GET", "/x").headers["X-Upstream"] == "a-again" })
	g.waitLog("upstream target healthy again", a.addr())
}

func TestUpstreamTimeout(t *testing.T) {
	slow := startUpstream(t, "slow", func(ctx *fasthttp.RequestCtx) {
		time.Sleep(500 * time.Millisecond)
	})
	g := startGateway(t, baseConfig(`
  - name: slow
    targets: [`+slow.addr()+`]
    read_timeout: 100ms
`, `
  - name: all
    path: /
    upstream: slow
`))
	r := g.do(t, "GET", "/x")
	if r.status != 504 || !strings.Contains(r.body, `"reason":"upstream_timeout"`) {
		t.Fatalf("slow upstream: %d %q", r.status, r.body)
	}
}

func TestHotReload(t *testing.T) {
	one := startUpstream(t, "one", nil)
	two := startUpstream(t, "two", nil)
	ups := `
  - name: one
    targets: [` + one.addr() + `]
  - name: two
    targets: [` + two.addr() + `]
`
	route := func(up string) string { return "\n  - name: all\n    path: /\n    upstream: " + up + "\n" }
	g := startGateway(t, baseConfig(ups, route("one")))
	if r := g.do(t, "GET", "/"); r.headers["X-Upstream"] != "one" {
		t.Fatalf("before reload: %v", r.headers)
	}

	t.Run("SIGHUP with a good file swaps", func(t *testing.T) {
		writeConfig(t, g.cfgPath, baseConfig(ups, route("two")))
		g.signal(syscall.SIGHUP)
		waitFor(t, "traffic on upstream two", func() bool { return g.do(t, "GET", "/").headers["X-Upstream"] == "two" })
		if !strings.Contains(g.metrics(t), `edgeguard_config_reloads_total{result="ok"}`) {
			t.Error("reload not counted")
		}
	})

	t.Run("a bad file is rejected and the running policy stays", func(t *testing.T) {
		writeConfig(t, g.cfgPath, baseConfig(ups, route("nope")))
		g.signal(syscall.SIGHUP)
		g.waitLog("config reload rejected", `routes[0].upstream: unknown upstream \"nope\"`)
		if !strings.Contains(g.metrics(t), `edgeguard_config_reloads_total{result="failed"}`) {
			t.Error("failed reload not counted")
		}
		for i := 0; i < 5; i++ {
			if r := g.do(t, "GET", "/"); r.status != 200 || r.headers["X-Upstream"] != "two" {
				t.Fatalf("after bad reload: %d %v", r.status, r.headers)
			}
		}
	})

	t.Run("saving the file reloads without a signal", func(t *testing.T) {
		writeConfig(t, g.cfgPath, baseConfig(ups, route("one")))
		waitFor(t, "traffic back on upstream one", func() bool { return g.do(t, "GET", "/").headers["X-Upstream"] == "one" })
	})
}

// TestReloadInFlightKeepsItsPolicy: a request in flight when a reload swaps
// the policy finishes on the policy it started with, even when the new
// policy no longer has its upstream, while new requests take the new one.
func TestReloadInFlightKeepsItsPolicy(t *testing.T) {
	release := make(chan struct{})
	old := startUpstream(t, "old", func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow" {
			<-release
		}
		ctx.SetBodyString("done")
	})
	cur := startUpstream(t, "new", nil)
	cfg := func(up, addr string) string {
		return baseConfig("\n  - name: "+up+"\n    targets: ["+addr+"]\n", "\n  - name: all\n    path: /\n    upstream: "+up+"\n")
	}
	g := startGateway(t, cfg("old", old.addr()))
	inflight := make(chan response, 1)
	go func() { inflight <- g.do(t, "GET", "/slow") }()
	waitFor(t, "the slow request to reach the old upstream", func() bool { return old.count() == 1 })

	writeConfig(t, g.cfgPath, cfg("new", cur.addr()))
	g.signal(syscall.SIGHUP)
	waitFor(t, "new requests on the new policy", func() bool { return g.do(t, "GET", "/").headers["X-Upstream"] == "new" })
	select {
	case r := <-inflight:
		t.Fatalf("in-flight request ended before its upstream answered: %d %q", r.status, r.body)
	default:
	}
	close(release)
	r := <-inflight
	if r.status != 200 || r.body != "done" || r.headers["X-Upstream"] != "old" {
		t.Fatalf("in-flight request across the reload: %d %q from %q, want 200 \"done\" from old", r.status, r.body, r.headers["X-Upstream"])
	}
	before := old.count() // the in-flight one, and polls that ran before the swap
	for range 3 {
		if r := g.do(t, "GET", "/"); r.headers["X-Upstream"] != "new" {
			t.Fatalf("after the swap: served by %q", r.headers["X-Upstream"])
		}
	}
	if old.count() != before {
		t.Errorf("the removed upstream got requests after the swap")
	}
}

func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	slow := startUpstream(t, "slow", func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow" {
			<-release
		}
		ctx.SetBodyString("done")
	})
	g := startGateway(t, baseConfig(`
  - name: slow
    targets: [`+slow.addr()+`]
`, `
  - name: all
    path: /
    upstream: slow
`))
	inflight := make(chan response, 1)
	go func() { inflight <- g.do(t, "GET", "/slow") }()
	waitFor(t, "the slow request to reach the upstream", func() bool { return slow.count() == 1 })
	g.signal(syscall.SIGTERM)
	g.waitLog("shutting down")
	waitFor(t, "new connections to be refused", func() bool {
		c, err := net.DialTimeout("tcp", g.data, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	r := <-inflight
	if r.status != 200 || r.body != "done" {
		t.Fatalf("in-flight request during shutdown: %d %q", r.status, r.body)
	}
	select {
	case err := <-g.exited:
		if err != nil {
			t.Fatalf("gatewayd exit: %v\n%s", err, g.logs())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("gatewayd did not exit after draining")
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name     string
		doc      string
		exit     int
		contains []string
	}{
		{"valid", baseConfig("  - name: u\n    targets: [127.0.0.1:1]\n", "  - name: r\n    path: /\n    upstream: u\n"), 0, []string{"OK"}},
		{"every error named", baseConfig("  - name: u\n    targets: [nohost]\n    balance: random\n", "  - name: r\n    path: x\n    upstream: v\n"), 1,
			[]string{"upstreams[0].targets[0]", "upstreams[0].balance", "routes[0].path", "routes[0].upstream"}},
		{"unknown key", "bogus: true\n", 1, []string{"bogus: unknown key"}},
		// Valid key by key, refused when compiled: check-config compiles too.
		{"compile errors", baseConfig("  - name: u\n    targets: [127.0.0.1:1]\n",
			"  - name: r\n    path: /api\n    upstream: u\n  - name: r2\n    path: /api/\n    upstream: u\n  - name: r3\n    path: /a/../b\n    upstream: u\n"), 1,
			[]string{`route "r3": path "/a/../b": not normalized`, `route "r2": duplicates route "r"`}},
		{"missing key file", baseConfig("  - name: u\n    targets: [127.0.0.1:1]\n", "  - name: r\n    path: /\n    upstream: u\n") +
			"auth:\n  hmac:\n    keys: [{id: k, client: c, secret_file: /nonexistent/secret}]\n", 1, []string{"/nonexistent/secret"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			writeConfig(t, path, tc.doc)
			out, err := exec.Command(gatewaydBin, "check-config", path).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.exit {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.exit, out)
			}
			for _, c := range tc.contains {
				if !strings.Contains(string(out), c) {
					t.Errorf("output lacks %q:\n%s", c, out)
				}
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	up := startUpstream(t, "api", nil)
	logPath := filepath.Join(t.TempDir(), "access.log")
	doc := strings.Replace(baseConfig(`
  - name: api
    targets: [`+up.addr()+`]
`, `
  - name: api
    path: /
    upstream: api
`), `path: "off"`, "path: "+logPath, 1)
	g := startGateway(t, doc)
	g.do(t, "GET", "/a?b=c", "X-Request-ID", "log-test-1")
	g.do(t, "GET", "/%2e%2e/x", "X-Request-ID", "log-test-2")
	var lines []map[string]any
	waitFor(t, "two access log lines", func() bool {
		data, _ := readFile(logPath)
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(data), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				lines = append(lines, m)
			}
		}
		return len(lines) == 2
	})
	first, second := lines[0], lines[1]
	for k, want := range map[string]any{"route": "api", "status": float64(200), "path": "/a", "request_id": "log-test-1", "client_ip": "127.0.0.1", "upstream": up.addr()} {
		if fmt.Sprint(first[k]) != fmt.Sprint(want) {
			t.Errorf("access log %s = %v, want %v (line %v)", k, first[k], want, first)
		}
	}
	if second["reason"] != "path_ambiguous" || second["status"] != float64(400) {
		t.Errorf("denied request log line: %v", second)
	}
}

// TestAmbiguousTargetsRefused sends raw bytes to a real gatewayd: request
// lines and Hosts that fasthttp would read leniently, and a trailing-slash
// spelling of an exact route, never reach an upstream, which could read
// them otherwise than the gateway judged them.
func TestAmbiguousTargetsRefused(t *testing.T) {
	admin := startUpstream(t, "admin", nil)
	public := startUpstream(t, "public", nil)
	g := startGateway(t, adminPublic(admin, public, "path: /admin\n    match: exact"))
	cases := []struct {
		name, head string
		status     int
		reason     string
	}{
		{"HTTP/2.0 in an HTTP/1 line", "GET /x HTTP/2.0\r\nHost: a\r\n", 505, "version_unsupported"},
		{"userinfo in Host", "GET /x HTTP/1.1\r\nHost: admin.example@a\r\n", 400, "header_invalid"},
		{"port out of range", "GET /x HTTP/1.1\r\nHost: a:99999\r\n", 400, "header_invalid"},
		{"ftp target", "GET ftp://a/x HTTP/1.1\r\nHost: a\r\n", 400, "path_invalid"},
		{"userinfo in the target", "GET http://u:p@a/x HTTP/1.1\r\nHost: a\r\n", 400, "path_invalid"},
		// The exact POST-only route takes /admin/ too: a GET is refused
		// there, not served by the catch-all.
		{"exact route with a trailing slash", "GET /admin/ HTTP/1.1\r\nHost: a\r\n", 405, "method_not_allowed"},
		{"exact route, dot segment", "GET /admin/. HTTP/1.1\r\nHost: a\r\n", 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", g.data)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, tc.head+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), `"reason":"`+tc.reason+`"`) {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, b, tc.status, tc.reason)
			}
		})
	}
	if n := admin.count() + public.count(); n != 0 {
		t.Errorf("the upstreams saw %d of these requests", n)
	}
	// The usual forms still pass.
	if r := g.do(t, "GET", "/x"); r.status != 200 || public.count() != 1 {
		t.Errorf("plain GET: %d, public upstream saw %d", r.status, public.count())
	}
}

// TestMaxForwardsStopsAtGateway: an OPTIONS with Max-Forwards 0 is
// answered by the gateway with its route's methods, after the route's
// stages; a larger count is forwarded less one.
func TestMaxForwardsStopsAtGateway(t *testing.T) {
	admin := startUpstream(t, "admin", nil)
	public := startUpstream(t, "public", nil)
	g := startGateway(t, baseConfig(`
  - name: admin
    targets: [`+admin.addr()+`]
  - name: public
    targets: [`+public.addr()+`]
`, `
  - name: admin
    path: /admin
    methods: [POST, OPTIONS]
    upstream: admin
  - name: public
    path: /
    upstream: public
`))
	r := g.do(t, "OPTIONS", "/admin", "Max-Forwards", "0")
	if r.status != 200 || r.headers["Allow"] != "POST, OPTIONS" {
		t.Errorf("OPTIONS /admin, Max-Forwards 0: %d, Allow %q, want 200 with POST, OPTIONS (body %q)", r.status, r.headers["Allow"], r.body)
	}
	if admin.count() != 0 {
		t.Errorf("the upstream was reached %d times", admin.count())
	}
	if r := g.do(t, "OPTIONS", "/admin", "Max-Forwards", "4"); r.status != 200 || admin.count() != 1 {
		t.Errorf("OPTIONS /admin, Max-Forwards 4: %d, upstream reached %d times, want 1", r.status, admin.count())
	}
	if r := g.do(t, "OPTIONS", "/admin", "Max-Forwards", "x"); r.status != 400 || !strings.Contains(r.body, "header_invalid") {
		t.Errorf("OPTIONS /admin, Max-Forwards x: %d %q, want 400 header_invalid", r.status, r.body)
	}
}
