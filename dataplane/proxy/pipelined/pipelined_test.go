package pipelined

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// countingConn counts the writes a client makes.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// dialer dials with a net.Dialer and counts dials and writes.
type dialer struct {
	dials, writes atomic.Int64
}

func (d *dialer) dial(addr string) (net.Conn, error) {
	d.dials.Add(1)
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	return countingConn{c, &d.writes}, nil
}

// echoServer is a fasthttp server (which answers pipelined requests in
// order) that answers each request with its path.
func echoServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if delay > 0 {
			time.Sleep(delay)
		}
		ctx.SetBody(ctx.Path())
	}}
	go s.Serve(ln)
	t.Cleanup(func() { _ = s.Shutdown() })
	return ln.Addr().String()
}

// rawServer runs handle on every accepted connection.
func rawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String()
}

func newClient(t *testing.T, addr string, d *dialer, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Addr: addr, Dial: d.dial, Conns: 2, MaxPending: 64, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// get sends GET path and returns the status and body.
func get(c *Client, addr, method, path string) (int, string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + path)
	req.Header.SetMethod(method)
	err := c.Do(req, resp)
	return resp.StatusCode(), string(resp.Body()), err
}

// TestConcurrentRequestsGetTheirOwnResponses: many callers at once each
// get the answer to their own request, and requests share writes.
func TestConcurrentRequestsGetTheirOwnResponses(t *testing.T) {
	addr := echoServer(t, 0)
	d := &dialer{}
	c := newClient(t, addr, d, nil)
	const callers, each = 64, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				path := fmt.Sprintf("/c%d/r%d", g, i)
				status, body, err := get(c, addr, "GET", path)
				if err != nil || status != 200 || body != path {
					errs <- fmt.Errorf("%s: status %d body %q err %v", path, status, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := d.dials.Load(); n > 2 {
		t.Errorf("%d dials for 2 connections", n)
	}
	if w := d.writes.Load(); w >= callers*each {
		t.Errorf("%d writes for %d requests: no request shared a write", w, callers*each)
	} else {
		t.Logf("%d requests in %d writes", callers*each, w)
	}
}

// TestHeadResponseHasNoBody: a HEAD answer's Content-Length announces no
// body on the wire, so the response after it still parses.
func TestHeadResponseHasNoBody(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		var req fasthttp.Request
		for req.Read(br) == nil {
			if req.Header.IsHead() {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
			} else {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URI().Path()), req.URI().Path())
			}
		}
	})
	c := newClient(t, addr, &dialer{}, func(cfg *Config) { cfg.Conns = 1 })
	if status, body, err := get(c, addr, "HEAD", "/h"); err != nil || status != 200 || body != "" {
		t.Fatalf("HEAD: %d %q %v", status, body, err)
	}
	if _, body, err := get(c, addr, "GET", "/after"); err != nil || body != "/after" {
		t.Fatalf("GET after HEAD: %q %v", body, err)
	}
}

// TestUnansweredRequestsGoAgain: an upstream that answers one request per
// connection and closes it (with or without saying so) still answers
// every caller: the requests queued behind go again on new connections.
func TestUnansweredRequestsGoAgain(t *testing.T) {
	for _, announce := range []bool{true, false} {
		t.Run("connection close announced "+strconv.FormatBool(announce), func(t *testing.T) {
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				var req fasthttp.Request
				if req.Read(br) != nil {
					return
				}
				hdr := ""
				if announce {
					hdr = "Connection: close\r\n"
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s", hdr, len(req.URI().Path()), req.URI().Path())
			})
			d := &dialer{}
			c := newClient(t, addr, d, func(cfg *Config) { cfg.Conns = 1 })
			var wg sync.WaitGroup
			var ok, unanswered atomic.Int64
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					path := "/g" + strconv.Itoa(g)
					_, body, err := get(c, addr, "GET", path)
					switch {
					case err == nil && body == path:
						ok.Add(1)
					case errors.Is(err, ErrUnanswered):
						unanswered.Add(1) // queued behind twice: allowed, never a wrong answer
					default:
						t.Errorf("%s: %q %v", path, body, err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() == 0 {
				t.Fatal("no request answered")
			}
			if ok.Load()+unanswered.Load() != 8 {
				t.Errorf("answered %d, unanswered %d of 8", ok.Load(), unanswered.Load())
			}
			if d.dials.Load() < 2 {
				t.Errorf("%d dials: the queued requests did not go again", d.dials.Load())
			}
		})
	}
}

// TestFailuresNameTheirCause: the error a caller gets says what went wrong.
func TestFailuresNameTheirCause(t *testing.T) {
	t.Run("read timeout", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
			var req fasthttp.Request
			_ = req.Read(br)
			_, _ = br.ReadByte() // never answers: waits for the client to give up
		})
		c := newClient(t, addr, &dialer{}, func(cfg *Config) { cfg.ReadTimeout = 100 * time.Millisecond })
		if _, _, err := get(c, addr, "GET", "/slow"); !isTimeout(err) {
			t.Fatalf("got %v, want a timeout", err)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
			var req fasthttp.Request
			for req.Read(br) == nil {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n%s", strings.Repeat("x", 100))
			}
		})
		c := newClient(t, addr, &dialer{}, func(cfg *Config) { cfg.MaxResponseBodySize = 10 })
		if _, _, err := get(c, addr, "GET", "/big"); !errors.Is(err, fasthttp.ErrBodyTooLarge) {
			t.Fatalf("got %v, want ErrBodyTooLarge", err)
		}
	})
	t.Run("malformed response", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
			var req fasthttp.Request
			_ = req.Read(br)
			fmt.Fprintf(c, "NOT HTTP\r\n\r\n")
		})
		c := newClient(t, addr, &dialer{}, nil)
		_, _, err := get(c, addr, "GET", "/x")
		if err == nil || errors.Is(err, ErrUnanswered) || isTimeout(err) {
			t.Fatalf("got %v, want the parse error", err)
		}
	})
	t.Run("never answered", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
			var req fasthttp.Request
			_ = req.Read(br) // then close without a word
		})
		d := &dialer{}
		c := newClient(t, addr, d, nil)
		if _, _, err := get(c, addr, "GET", "/x"); !errors.Is(err, ErrUnanswered) {
			t.Fatalf("got %v, want ErrUnanswered", err)
		}
		if n := d.dials.Load(); n != 2 {
			t.Errorf("%d dials, want 2 (one retry)", n)
		}
	})
	t.Run("connect fails", func(t *testing.T) {
		var dials atomic.Int64
		refused := errors.New("refused")
		slowRefusal := func(string) (net.Conn, error) {
			dials.Add(1)
			time.Sleep(100 * time.Millisecond)
			return nil, refused
		}
		c, err := New(Config{Addr: "127.0.0.1:1", Dial: slowRefusal, Conns: 1, MaxPending: 8})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := get(c, "127.0.0.1:1", "GET", "/x"); !errors.Is(err, refused) {
					t.Errorf("caller %d: got %v, want the dial's error", i, err)
				}
			}()
		}
		wg.Wait()
		if n := dials.Load(); n != 1 {
			t.Errorf("%d dials for 8 callers arriving together, want 1 they share", n)
		}
		// A failed dial is not remembered: the next caller dials again.
		_, _, _ = get(c, "127.0.0.1:1", "GET", "/x")
		if n := dials.Load(); n != 2 {
			t.Errorf("%d dials after a later caller, want 2", n)
		}
	})
}

// TestFullQueueRefusesAtOnce: with every connection holding MaxPending
// requests, a caller gets ErrFull without anything being sent.
func TestFullQueueRefusesAtOnce(t *testing.T) {
	addr := echoServer(t, 300*time.Millisecond)
	c := newClient(t, addr, &dialer{}, func(cfg *Config) { cfg.Conns, cfg.MaxPending = 1, 1 })
	first := make(chan error, 1)
	go func() { _, _, err := get(c, addr, "GET", "/first"); first <- err }()
	deadline := time.Now().Add(2 * time.Second)
	for c.lanes[0].waiting.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, _, err := get(c, addr, "GET", "/second"); !errors.Is(err, ErrFull) {
		t.Errorf("second request: %v, want ErrFull", err)
	}
	if err := <-first; err != nil {
		t.Errorf("first request: %v", err)
	}
}

// TestIdleConnectionsClose: an unused connection is closed after the idle
// timeout, and the next request connects again.
func TestIdleConnectionsClose(t *testing.T) {
	closed := make(chan struct{}, 4)
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		var req fasthttp.Request
		for req.Read(br) == nil {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
		closed <- struct{}{}
	})
	d := &dialer{}
	c := newClient(t, addr, d, func(cfg *Config) { cfg.Conns, cfg.IdleTimeout = 1, 100*time.Millisecond })
	if _, _, err := get(c, addr, "GET", "/a"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("idle connection still open after 2 s")
	}
	if _, _, err := get(c, addr, "GET", "/b"); err != nil || d.dials.Load() != 2 {
		t.Fatalf("after the idle close: %v, %d dials", err, d.dials.Load())
	}
}

// TestCloseAnswersInFlightThenRefuses: Close lets a request in flight get
// its answer, closes the connection, and refuses later requests.
func TestCloseAnswersInFlightThenRefuses(t *testing.T) {
	addr := echoServer(t, 100*time.Millisecond)
	c := newClient(t, addr, &dialer{}, func(cfg *Config) { cfg.Conns = 1 })
	done := make(chan error, 1)
	go func() {
		_, body, err := get(c, addr, "GET", "/inflight")
		if err == nil && body != "/inflight" {
			err = fmt.Errorf("body %q", body)
		}
		done <- err
	}()
	for c.lanes[0].waiting.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Errorf("in flight at Close: %v", err)
	}
	if _, _, err := get(c, addr, "GET", "/after"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		c.lanes[0].mu.Lock()
		cur := c.lanes[0].cur
		c.lanes[0].mu.Unlock()
		if cur == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("connection still open 2 s after Close with nothing in flight")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPipelinable(t *testing.T) {
	cases := []struct {
		method string
		header string
		want   bool
	}{
		{"GET", "", true},
		{"HEAD", "", true},
		{"OPTIONS", "", true},
		{"PUT", "", true},
		{"DELETE", "", true},
		{"TRACE", "", true},
		{"POST", "", false},
		{"PATCH", "", false},
		{"CONNECT", "", false},
		{"GET", "Expect: 100-continue", false},
		{"GET", "Upgrade: websocket", false},
		{"PUT", "body", false},
		{"DELETE", "body", false},
		{"GET", "body", false},
		{"DELETE", "Content-Length: 0", true},
	}
	for _, c := range cases {
		var req fasthttp.Request
		req.Header.SetMethod(c.method)
		if c.header == "body" {
			req.SetBodyString("GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
		} else if k, v, ok := strings.Cut(c.header, ": "); ok {
			req.Header.Set(k, v)
		}
		if got := Pipelinable(&req); got != c.want {
			t.Errorf("%s %q: %v, want %v", c.method, c.header, got, c.want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	d := &dialer{}
	for _, cfg := range []Config{
		{Dial: d.dial, Conns: 1, MaxPending: 1},
		{Addr: "127.0.0.1:1", Conns: 1, MaxPending: 1},
		{Addr: "127.0.0.1:1", Dial: d.dial, MaxPending: 1},
		{Addr: "127.0.0.1:1", Dial: d.dial, Conns: 1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestBrokenConnectionDoesNotHoldWriters: a writer blocked sending a large
// request to an upstream that stopped reading is released when the
// reader finds the connection broken, even without a write timeout.
func TestBrokenConnectionDoesNotHoldWriters(t *testing.T) {
	// Small socket buffers on both sides, so the large request blocks.
	small := func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096); serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
			}
		})
		return errors.Join(err, serr)
	}
	lc := net.ListenConfig{Control: small}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var req fasthttp.Request
		_ = req.Read(bufio.NewReaderSize(c, 4096))
		time.Sleep(100 * time.Millisecond) // let the large request start and block
		fmt.Fprintf(c, "NOT HTTP\r\n\r\n")
		<-stop // and read nothing more
	}()
	t.Cleanup(func() { close(stop); ln.Close(); <-served })
	addr := ln.Addr().String()
	var dials atomic.Int64
	d := net.Dialer{Control: small}
	dial := func(a string) (net.Conn, error) {
		if dials.Add(1) > 1 {
			return nil, errors.New("no second connection in this test")
		}
		return d.Dial("tcp4", a)
	}
	c, err := New(Config{Addr: addr, Dial: dial, Conns: 1, MaxPending: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 2)
	go func() { _, _, err := get(c, addr, "GET", "/small"); done <- err }()
	time.Sleep(20 * time.Millisecond)
	go func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://" + addr + "/large")
		req.Header.SetMethod("PUT")
		req.SetBody(make([]byte, 8<<20)) // far more than the socket buffers hold
		done <- c.Do(req, resp)
	}()
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("a request to a broken upstream succeeded")
			}
		case <-time.After(2500 * time.Millisecond):
			t.Fatal("a caller is still held 2.5 s after the connection broke")
		}
	}
}

// TestReaderNeverWaitsOnWriters: the reader checks for unsolicited bytes
// without the lane's lock. A sender can hold that lock while blocked
// writing a large body that a sequential upstream reads only after the
// reader has taken an earlier large response; with the lock in the reader
// neither side moved (found in review: 0 of 3 calls answered in 10 s).
func TestReaderNeverWaitsOnWriters(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const big = 32 << 20
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		for range 2 { // /a and /b
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, r.Body)
		}
		time.Sleep(time.Second) // the PUT's sender is blocked writing by now
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na" + "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(big) + "\r\n\r\n"))
		c.Write(bytes.Repeat([]byte("b"), big))
		r, err := http.ReadRequest(br) // the PUT, only once /b is written, as a sequential server does
		if err != nil {
			return
		}
		io.Copy(io.Discard, r.Body)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"))
	}()
	cl, err := New(Config{Addr: ln.Addr().String(), Conns: 1, MaxPending: 10,
		Dial: func(a string) (net.Conn, error) { return net.Dial("tcp", a) }})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	done := make(chan error, 3)
	do := func(method, path string, body []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + ln.Addr().String() + path)
		req.Header.SetMethod(method)
		req.SetBody(body)
		done <- cl.Do(req, resp)
	}
	go do("GET", "/a", nil)
	time.Sleep(20 * time.Millisecond)
	go do("GET", "/b", nil)
	time.Sleep(50 * time.Millisecond)
	go do("PUT", "/c", bytes.Repeat([]byte("c"), 2*big))
	timeout := time.After(15 * time.Second)
	for i := range 3 {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("call: %v", err)
			}
		case <-timeout:
			t.Fatalf("stuck: %d of 3 calls answered", i)
		}
	}
}
