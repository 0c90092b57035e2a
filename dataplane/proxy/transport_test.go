package proxy

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// scriptedUpstream serves keep-alive connections on loopback: for each
// request it writes script(path)'s reply, then, after delay, its late
// bytes (if any). Every response it means to send names its path in the
// body, so a client can tell whose response it got.
func scriptedUpstream(t *testing.T, script func(path string) (reply, late string, delay time.Duration)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					fields := strings.Fields(line)
					for line != "\r\n" { // the rest of the head
						if line, err = br.ReadString('\n'); err != nil {
							return
						}
					}
					if len(fields) < 2 {
						return
					}
					reply, late, delay := script(fields[1])
					c.Write([]byte(reply))
					if late != "" {
						time.Sleep(delay)
						c.Write([]byte(late))
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func okFor(path string) string {
	return "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(path)) + "\r\n\r\n" + path
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

const injected = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nSet-Cookie: session=attacker\r\n\r\ninjected"

// TestResponsesStayInStep: bytes an upstream sends outside the response to
// a request never become the response to the next one (RFC 9112 §9.3).
// Before the keep-alive transport, the next client got "injected" with the
// attacker's cookie, and every later client the response before its own.
func TestResponsesStayInStep(t *testing.T) {
	cases := []struct {
		name   string
		method string
		script func(path string) (string, string, time.Duration)
	}{
		{"second response in the same write", "GET", func(p string) (string, string, time.Duration) {
			if p == "/evil" {
				return okFor(p) + injected, "", 0
			}
			return okFor(p), "", 0
		}},
		{"second response later, while idle", "GET", func(p string) (string, string, time.Duration) {
			if p == "/evil" {
				return okFor(p), injected, 20 * time.Millisecond
			}
			return okFor(p), "", 0
		}},
		{"body on a HEAD response", "HEAD", func(p string) (string, string, time.Duration) {
			if p == "/evil" {
				return "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n" + injected, "", 0
			}
			return okFor(p), "", 0
		}},
		{"body after a 204", "GET", func(p string) (string, string, time.Duration) {
			if p == "/evil" {
				return "HTTP/1.1 204 No Content\r\n\r\n" + injected, "", 0
			}
			return okFor(p), "", 0
		}},
		{"more body than Content-Length", "GET", func(p string) (string, string, time.Duration) {
			if p == "/evil" {
				return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n/evil" + injected, "", 0
			}
			return okFor(p), "", 0
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := scriptedUpstream(t, tc.script)
			// One connection, so that the next request must take the one
			// the evil response was sent on.
			p := newTestPool(t, PoolConfig{Targets: []string{addr}, MaxConnsPerTarget: 1})
			gw := startGateway(t, &Stage{Pool: p})
			desync := counterValue(`edgeguard_upstream_errors_total{pool="` + p.Name() + `",kind="desync"}`)
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod(tc.method)
			req.SetRequestURI("http://" + gw.addr + "/evil")
			if err := gw.client.Do(req, resp); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // the late bytes arrive while the connection is idle
			for i := range 3 {
				path := "/victim" + itoa(i)
				req.Reset()
				resp.Reset() // the HEAD left SkipBody set
				req.SetRequestURI("http://" + gw.addr + path)
				if err := gw.client.Do(req, resp); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode() != 200 || string(resp.Body()) != path || len(resp.Header.PeekCookie("session")) != 0 {
					t.Fatalf("request for %s got %d %q (cookie %q)", path, resp.StatusCode(), resp.Body(), resp.Header.PeekCookie("session"))
				}
			}
			if got := counterValue(`edgeguard_upstream_errors_total{pool="`+p.Name()+`",kind="desync"}`) - desync; got != 1 {
				t.Errorf("desync counter moved by %d, want 1", got)
			}
		})
	}
}

// TestSwitchingProtocolsRefused: the gateway strips Upgrade, so a 101 is an
// upstream error: the client gets 502, and the connection, no longer HTTP,
// never carries another request.
func TestSwitchingProtocolsRefused(t *testing.T) {
	addr := scriptedUpstream(t, func(p string) (string, string, time.Duration) {
		if p == "/ws" {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", injected, 10 * time.Millisecond
		}
		return okFor(p), "", 0
	})
	p := newTestPool(t, PoolConfig{Targets: []string{addr}, MaxConnsPerTarget: 1})
	gw := startGateway(t, &Stage{Pool: p})
	if status, body, _ := gw.get(t, "/ws"); status != 502 {
		t.Errorf("101 from the upstream: %d %q, want 502", status, body)
	}
	time.Sleep(30 * time.Millisecond)
	if status, body, _ := gw.get(t, "/next"); status != 200 || body != "/next" {
		t.Errorf("next request: %d %q, want 200 \"/next\"", status, body)
	}
}

// TestBadStatusRefused: a status code outside 100-599 is an upstream
// error (RFC 9110 §15): the client gets 502, never the code or its body,
// and the next request its own answer.
func TestBadStatusRefused(t *testing.T) {
	addr := scriptedUpstream(t, func(p string) (string, string, time.Duration) {
		switch p {
		case "/99":
			return "HTTP/1.1 099 X\r\nContent-Length: 5\r\n\r\nhello", "", 0
		case "/600":
			return "HTTP/1.1 600 X\r\nContent-Length: 5\r\n\r\nhello", "", 0
		}
		return okFor(p), "", 0
	})
	p := newTestPool(t, PoolConfig{Targets: []string{addr}, MaxConnsPerTarget: 1})
	gw := startGateway(t, &Stage{Pool: p})
	for _, path := range []string{"/99", "/600"} {
		if status, body, _ := gw.get(t, path); status != 502 {
			t.Errorf("%s from the upstream: %d %q, want 502", path, status, body)
		}
		if status, body, _ := gw.get(t, "/next"); status != 200 || body != "/next" {
			t.Errorf("next request: %d %q, want 200 \"/next\"", status, body)
		}
	}
}

// TestOwnHTTPVersion: an HTTP/1.0 upstream's answer reaches the client in
// the gateway's own version.
func TestOwnHTTPVersion(t *testing.T) {
	addr := scriptedUpstream(t, func(p string) (string, string, time.Duration) {
		return "HTTP/1.0 200 OK\r\nContent-Length: " + itoa(len(p)) + "\r\nConnection: keep-alive\r\n\r\n" + p, "", 0
	})
	p := newTestPool(t, PoolConfig{Targets: []string{addr}})
	gw := startGateway(t, &Stage{Pool: p})
	c, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write([]byte("GET /v HTTP/1.1\r\nHost: x\r\n\r\n"))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("status line %q (%v), want HTTP/1.1 200 OK", line, err)
	}
}

// TestIdleAfterReadTimeout: a kept-alive connection idle for longer than
// the read timeout is reused, not taken for broken: its expired read
// deadline made every reuse look stale (closed, counted as desync, no
// keep-alive).
func TestIdleAfterReadTimeout(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	p := newTestPool(t, PoolConfig{Targets: []string{up.addr}, ReadTimeout: 50 * time.Millisecond})
	gw := startGateway(t, &Stage{Pool: p})
	desync := counterValue(`edgeguard_upstream_errors_total{pool="` + p.Name() + `",kind="desync"}`)
	for i := range 3 {
		if i > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if status, _, _ := gw.get(t, "/x"); status != 200 {
			t.Fatalf("request %d: %d", i, status)
		}
	}
	if got := counterValue(`edgeguard_upstream_errors_total{pool="`+p.Name()+`",kind="desync"}`) - desync; got != 0 {
		t.Errorf("desync counter moved by %d", got)
	}
	if n := up.accepts.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections, want 1 (kept alive)", n)
	}
}
