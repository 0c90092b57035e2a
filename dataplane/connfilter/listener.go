package connfilter

import (
	"errors"
	"net"
	"net/netip"

	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// ErrSourceDropped is the read error of a connection closed because its
// source was blocklisted or banned while it was open.
var ErrSourceDropped = errors.New("connection closed: its source is now blocklisted or banned")

// Wrap returns a listener whose Accept closes (with a TCP reset, so no
// TIME_WAIT piles up under a flood) and counts every connection from a
// blocked or banned source, and returns the next acceptable one. Connections
// without an IP peer (Unix sockets) pass and count as pass_not_ip. An
// accepted connection checks its source again at the first read that
// returns after the lists or bans changed, and is closed with a reset (and
// counted) if it is now dropped: one atomic load per read otherwise.
func Wrap(ln net.Listener, f *Filter) net.Listener {
	return &listener{Listener: ln, f: f}
}

type listener struct {
	net.Listener
	f *Filter
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		gen := l.f.gen.Load() // before the check: a change after it is seen at the first read
		a, isIP := c.RemoteAddr().(*net.TCPAddr)
		if !isIP {
			l.f.count(enforce.ReasonPassNotIP)
			return c, nil
		}
		src := a.AddrPort().Addr()
		r := l.f.Check(src)
		l.f.count(r)
		if !r.Drop() {
			return &conn{Conn: c, f: l.f, src: src, gen: gen}, nil
		}
		reset(c)
	}
}

// reset closes c with a TCP reset, so no TIME_WAIT piles up under a flood.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// conn is an accepted connection that follows its source's verdict.
type conn struct {
	net.Conn
	f   *Filter
	src netip.Addr
	gen uint64 // the filter's generation its source was last checked at
}

// Read checks the source after the read returns, not before: a server
// waits for a keep-alive client's next request inside Read, and the ban
// usually lands during that wait. Bytes that arrived from a source dropped
// meanwhile are not returned.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if g := c.f.gen.Load(); g != c.gen {
		c.gen = g
		if r := c.f.Check(c.src); r.Drop() {
			c.f.count(r)
			reset(c.Conn)
			return 0, ErrSourceDropped
		}
	}
	return n, err
}

// SetLinger lets callers that close with a reset (connguard) reach the
// TCP connection underneath.
func (c *conn) SetLinger(sec int) error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		return tc.SetLinger(sec)
	}
	return nil
}
