package connguard

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/framing"
)

// served is a real fasthttp server on loopback behind a Guard.
type served struct {
	g    *Guard
	addr string
	opts atomic.Pointer[Options]
}

func serveGuarded(t *testing.T, o Options) *served {
	t.Helper()
	s := &served{}
	s.opts.Store(&o)
	s.g = New(s.opts.Load, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	deadline := time.Now().Add(2 * time.Second)
	for g.Open() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", g.Open(), want)
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
	for i, c := range busy {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, "Host: a\r\n\r\n")
		var resp fasthttp.Response
		if err := resp.Read(bufio.NewReader(c)); err != nil || resp.StatusCode() != 200 {
			t.Fatalf("busy connection %d lost its request: %v", i, err)
		}
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
	s := serveGuarded(t, Options{MaxConns: 3})
	var idle []net.Conn
	for i := range 3 {
		c := s.dialFrom(t, "127.0.0.1")
		if !get(c) {
			t.Fatalf("connection %d not served", i)
		}
		idle = append(idle, c)
		time.Sleep(10 * time.Millisecond) // distinct idle times
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
	time.Sleep(50 * time.Millisecond)
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
