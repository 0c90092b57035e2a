package framing

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// strictConn is the connection wrapper the validator is made for: it passes
// on only the bytes Feed accepts and then fails the read.
type strictConn struct {
	net.Conn
	v Validator
}

func (c *strictConn) Read(p []byte) (int, error) {
	if c.v.Violation() != None {
		return 0, errViolation
	}
	n, err := c.Conn.Read(p)
	if ok, viol := c.v.Feed(p[:n]); viol != None {
		return ok, errViolation
	}
	return n, err
}

// quietLogger drops the server's log of the connections it fails on purpose.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

type strictListener struct{ net.Listener }

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &strictConn{Conn: c}, nil
}

// TestServerSmuggling sends streams to a real fasthttp server, with and
// without the validator in its connections, and records which requests
// reach the handler.
func TestServerSmuggling(t *testing.T) {
	const smuggle = "GET / HTTP/1.1\r\nHost: a\r\n\nGET /admin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	for _, tc := range []struct {
		name   string
		strict bool
		stream string
		want   string // paths the handler saw
		status string // status line of the last response
	}{
		{"lenient smuggle", false, smuggle, "/ /admin", "HTTP/1.1 200 OK"},
		{"strict smuggle", true, smuggle, "", "HTTP/1.1 400 Bad Request"},
		{"strict smuggle after a good request", true, "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n" + smuggle, "/ok", "HTTP/1.1 400 Bad Request"},
		{"lenient cl and te", false, "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "/a", "HTTP/1.1 200 OK"},
		{"strict cl and te", true, "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", "HTTP/1.1 400 Bad Request"},
		{"strict bare lf first byte", true, "\n" + smuggle, "", "HTTP/1.1 400 Bad Request"},
		{"strict keep-alive", true, strings.Repeat("GET /k HTTP/1.1\r\nHost: a\r\n\r\n", 2) + "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "/k /k /c", "HTTP/1.1 200 OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			s := &fasthttp.Server{Logger: quietLogger{}, Handler: func(ctx *fasthttp.RequestCtx) {
				mu.Lock()
				paths = append(paths, string(ctx.Path()))
				mu.Unlock()
			}}
			inmem := fasthttputil.NewInmemoryListener()
			var ln net.Listener = inmem
			if tc.strict {
				ln = strictListener{inmem}
			}
			go s.Serve(ln) //nolint:errcheck // ends when the listener closes
			t.Cleanup(func() { _ = s.Shutdown() })

			c, err := inmem.Dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(tc.stream)); err != nil {
				t.Fatal(err)
			}
			// Every stream ends in a close or an error, so the server hangs up.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read responses: %v (got %q)", err, resp)
			}
			last := resp[max(bytes.LastIndex(resp, []byte("HTTP/1.1 ")), 0):]
			if status, _, _ := bytes.Cut(last, []byte("\r\n")); string(status) != tc.status {
				t.Errorf("last status %q; want %q (responses %q)", status, tc.status, resp)
			}
			mu.Lock()
			defer mu.Unlock()
			if got := strings.Join(paths, " "); got != tc.want {
				t.Errorf("handler saw %q; want %q", got, tc.want)
			}
		})
	}
}
