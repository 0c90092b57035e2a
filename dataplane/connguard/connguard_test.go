package connguard

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
	"github.com/edgeguard/edgeguard/dataplane/framing"
)

// served is a real fasthttp server on loopback behind a Guard.
type served struct {
	g    *Guard
	addr string
	opts atomic.Pointer[Options]
}

func serveGuarded(t *testing.T, o Options, maxConns ...int) *served {
	t.Helper()
	s := &served{}
	s.opts.Store(&o)
	s.g = New(s.opts.Load, append(maxConns, 0)[0], slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := &fasthttp.Server{
		Handler:   func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") },
		ConnState: s.g.ConnState,
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			ctx.SetStatusCode(400)
			if gc := Unwrap(ctx.Conn()); gc != nil {
				ctx.SetBodyString(gc.Violation().String())
			}
		},
	}
	go func() { _ = srv.Serve(s.g.Listener(ln)) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

// dialFrom opens a connection from the loopback address src.
func (s *served) dialFrom(t *testing.T, src string) net.Conn {
	t.Helper()
	c, err := s.tryDial(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *served) tryDial(t *testing.T, src string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp4", s.addr)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// refusedFrom reports whether a new connection from src is closed without
// an answer (the reset may already fail the dial).
func (s *served) refusedFrom(t *testing.T, src string) bool {
	c, err := s.tryDial(t, src)
	return err != nil || wasClosed(c)
}

// get sends one keep-alive request on c and reports whether it got 200.
func get(c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		return false
	}
	var resp fasthttp.Response
	err := resp.Read(bufio.NewReader(c))
	return err == nil && resp.StatusCode() == 200
}

// wasClosed reports whether the server closed c without answering.
func wasClosed(c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func waitOpen(t *testing.T, g *Guard, want int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d connections open", want), func() bool { return g.Open() == want })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPerSourceCap(t *testing.T) {
	s := serveGuarded(t, Options{
		MaxPerSource: 3, MaxPerTrusted: 0,
		Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")},
	})
	// Three connections from one source, each with a request head in
	// progress: the source is at its cap with nothing idle.
	var busy []net.Conn
	for range 3 {
		c := s.dialFrom(t, "127.0.0.2")
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\n"); err != nil {
			t.Fatal(err)
		}
		busy = append(busy, c)
	}
	waitOpen(t, s.g, 3)
	if !s.refusedFrom(t, "127.0.0.2") {
		t.Fatal("a fourth connection from one source was served")
	}
	if c := s.dialFrom(t, "127.0.0.3"); !get(c) {
		t.Fatal("another source was refused")
	}
	for i := range 6 {
		if c := s.dialFrom(t, "127.0.0.4"); !get(c) {
			t.Fatalf("trusted proxy connection %d refused", i)
		}
	}
	// The 7 connections just served sit idle; then the busy ones go idle
	// in the order of their answers.
	waitFor(t, "7 idle connections", func() bool { return s.g.idle.Load() == 7 })
	for i, c := range busy {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, "Host: a\r\n\r\n")
		var resp fasthttp.Response
		if err := resp.Read(bufio.NewReader(c)); err != nil || resp.StatusCode() != 200 {
			t.Fatalf("busy connection %d lost its request: %v", i, err)
		}
		// The server marks it idle after answering: wait, so that the
		// order they went idle in is the order of the answers.
		waitFor(t, fmt.Sprintf("%d idle connections", 8+i), func() bool { return s.g.idle.Load() == int64(8+i) })
	}

	// Now the three are idle keep-alive connections: a new connection
	// from the source takes the place of the one idle the longest.
	fresh := s.dialFrom(t, "127.0.0.2")
	if !get(fresh) {
		t.Fatal("at its cap with idle connections, the source was refused")
	}
	if !wasClosed(busy[0]) {
		t.Fatal("the connection idle the longest was not closed")
	}
	if !get(busy[1]) || !get(busy[2]) {
		t.Fatal("other idle connections of the source were closed too")
	}

	// A reload that lifts the cap applies to the next accept.
	s.opts.Store(&Options{})
	for i := range 5 {
		if c := s.dialFrom(t, "127.0.0.2"); !get(c) {
			t.Fatalf("connection %d refused after the cap was lifted", i)
		}
	}
}

// TestIdleConnectionsShedFirst: at the total limit, the connection idle
// the longest is closed to admit a new one; with none idle, the new one is
// refused.
func TestIdleConnectionsShedFirst(t *testing.T) {
	s := serveGuarded(t, Options{}, 3)
	var idle []net.Conn
	for i := range 3 {
		c := s.dialFrom(t, "127.0.0.1")
		if !get(c) {
			t.Fatalf("connection %d not served", i)
		}
		// The server marks a connection idle after the response is out:
		// wait for it, so that the three go idle in order.
		waitFor(t, fmt.Sprintf("%d idle connections", i+1), func() bool { return s.g.idle.Load() == int64(i+1) })
		idle = append(idle, c)
	}
	fresh := s.dialFrom(t, "127.0.0.1")
	if !get(fresh) {
		t.Fatal("a new connection was not admitted by closing an idle one")
	}
	if !wasClosed(idle[0]) {
		t.Fatal("the connection idle the longest was not closed")
	}
	for i, c := range idle[1:] {
		if !get(c) {
			t.Fatalf("idle connection %d was closed too", i+1)
		}
	}

	// Now every connection is busy with a request head in progress.
	for _, c := range append(idle[1:], fresh) {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "no connection idle", func() bool { return s.g.idle.Load() == 0 })
	if !s.refusedFrom(t, "127.0.0.1") {
		t.Fatal("a connection over the limit was admitted with none idle")
	}
	for i, c := range append(idle[1:], fresh) {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, "Host: a\r\n\r\n")
		var resp fasthttp.Response
		if err := resp.Read(bufio.NewReader(c)); err != nil || resp.StatusCode() != 200 {
			t.Fatalf("busy connection %d lost its request: %v", i, err)
		}
	}
}

func TestFramingViolationStopsTheStream(t *testing.T) {
	s := serveGuarded(t, Options{})
	c := s.dialFrom(t, "127.0.0.1")
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	var resp fasthttp.Response
	if err := resp.Read(br); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 400 || string(resp.Body()) != framing.BareLF.String() {
		t.Fatalf("got %d %q, want 400 %q", resp.StatusCode(), resp.Body(), framing.BareLF)
	}
	if err := resp.Read(br); err == nil {
		t.Fatalf("a second response came back: %d %q", resp.StatusCode(), resp.Body())
	}

	lenient := serveGuarded(t, Options{LenientFraming: true})
	c = lenient.dialFrom(t, "127.0.0.1")
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\nHost: a\r\n\r\n")
	if err := resp.Read(bufio.NewReader(c)); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("lenient framing: %v %d", err, resp.StatusCode())
	}
}

func TestSourceOfAggregatesIPv6(t *testing.T) {
	for _, tc := range []struct {
		addr string
		bits int
		want string
	}{
		{"192.0.2.7:80", 64, "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:80", 64, "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:80", 64, "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:3:4:5:6]:80", 48, "2001:db8:1::/48"},
	} {
		c := &fakeAddrConn{remote: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tc.addr))}
		got, ok := sourceOf(c, tc.bits)
		if !ok || got.String() != tc.want {
			t.Errorf("sourceOf(%s, /%d) = %v, %v; want %s", tc.addr, tc.bits, got, ok, tc.want)
		}
	}
	if _, ok := sourceOf(&fakeAddrConn{remote: &net.UnixAddr{Name: "x"}}, 64); ok {
		t.Error("a Unix socket peer has no source")
	}
}

// fakeAddrConn only answers RemoteAddr: sourceOf reads nothing else.
type fakeAddrConn struct {
	net.Conn
	remote net.Addr
}

func (c *fakeAddrConn) RemoteAddr() net.Addr { return c.remote }

func TestMetricsNameEveryViolation(t *testing.T) {
	for _, v := range framing.Violations() {
		if violations[v] == nil || !strings.Contains(v.String(), "_") && len(v.String()) < 3 {
			t.Errorf("violation %d (%q) has no counter or a poor name", v, v)
		}
	}
}

// pipeConn is one end of net.Pipe with a TCP peer address.
type pipeConn struct {
	net.Conn
	remote net.Addr
}

func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }

// TestShedDoesNotBlockAccept: shedding an idle TLS connection whose client
// stopped reading must not wait for a close_notify it cannot deliver.
func TestShedDoesNotBlockAccept(t *testing.T) {
	o := &Options{MaxPerSource: 1}
	g := New(func() *Options { return o }, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srvCfg := &tls.Config{Certificates: []tls.Certificate{certtest.NewCA(t, "ca").Server(t).TLS}}
	src := net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:1000"))

	s1, c1 := net.Pipe()
	gc := g.admit(tls.Server(&pipeConn{s1, src}, srvCfg))
	if gc == nil {
		t.Fatal("the first connection was refused")
	}
	done := make(chan error, 1)
	go func() { done <- tls.Client(c1, &tls.Config{InsecureSkipVerify: true}).Handshake() }()
	if err := gc.(*TLSConn).Handshake(); err != nil {
		t.Fatal(err)
	}
	<-done
	g.ConnState(gc, fasthttp.StateIdle) // and the client never reads again

	s2, c2 := net.Pipe()
	defer c2.Close()
	admitted := make(chan net.Conn, 1)
	go func() { admitted <- g.admit(tls.Server(&pipeConn{s2, src}, srvCfg)) }()
	select {
	case c := <-admitted:
		if c == nil {
			t.Fatal("the new connection was refused although the source's other one was idle")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("admit blocked on closing an idle TLS connection")
	}
	if g.Open() != 1 || g.idle.Load() != 0 {
		t.Fatalf("open %d, idle %d after the shed; want 1, 0", g.Open(), g.idle.Load())
	}
}

// TestNoLeaks: every way a connection ends gives its place back.
func TestNoLeaks(t *testing.T) {
	o := &Options{MaxPerSource: 100}
	g := New(func() *Options { return o }, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{certtest.NewCA(t, "ca").Server(t).TLS}})
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/hijack" {
				ctx.HijackSetNoResponse(true)
				ctx.Hijack(func(net.Conn) {})
				return
			}
			ctx.SetBodyString("ok")
		},
		ConnState: g.ConnState, ReadTimeout: time.Second,
		Logger: fasthttpQuiet{},
	}
	go func() { _ = srv.Serve(g.Listener(tln)) }()
	addr := ln.Addr().String()
	for range 3 { // plain HTTP on the TLS port: the handshake fails
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		c.Read(make([]byte, 10))
		c.Close()
	}
	for range 3 { // connect and vanish
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	cfg := &tls.Config{InsecureSkipVerify: true}
	for _, raw := range []string{
		"GET /hijack HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\nGET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	} {
		c, err := tls.Dial("tcp4", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, raw)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.ReadAll(c)
		c.Close()
	}
	c, err := tls.Dial("tcp4", addr, cfg) // left idle, then the server shuts down
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.Read(make([]byte, 100))
	waitOpen(t, g, 1)
	_ = srv.Shutdown()
	waitOpen(t, g, 0)
	for i := range g.shards {
		if len(g.shards[i].sources) != 0 || len(g.shards[i].conns) != 0 {
			t.Errorf("shard %d still holds %v", i, g.shards[i].sources)
		}
	}
	if n := g.idle.Load(); n != 0 {
		t.Errorf("%d connections still counted idle", n)
	}
}

type fasthttpQuiet struct{}

func (fasthttpQuiet) Printf(string, ...any) {}

// BenchmarkRefusedAcceptAtLimit: at the total limit with nothing idle, a
// refused accept must not cost a walk over every open connection.
func BenchmarkRefusedAcceptAtLimit(b *testing.B) {
	const open = 100000
	o := &Options{}
	g := New(func() *Options { return o }, open, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := range open {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if g.admit(&nopConn{remote: net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 1))}) == nil {
			b.Fatal("refused below the limit")
		}
	}
	extra := &nopConn{remote: net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.9:1"))}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if g.admit(extra) != nil {
			b.Fatal("admitted over the limit")
		}
	}
}

// nopConn is a connection that only has a peer address.
type nopConn struct {
	net.Conn
	remote net.Addr
}

func (c *nopConn) RemoteAddr() net.Addr { return c.remote }
func (c *nopConn) Close() error         { return nil }
