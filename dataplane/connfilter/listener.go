package connfilter

import (
	"net"

	"github.com/edgeguard/edgeguard/bpf/enforce"
)

// Wrap returns a listener whose Accept closes (with a TCP reset, so no
// TIME_WAIT piles up under a flood) and counts every connection from a
// blocked or banned source, and returns the next acceptable one. Connections
// without an IP peer (Unix sockets) pass and count as pass_not_ip.
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
		r := enforce.ReasonPassNotIP
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			r = l.f.Check(a.AddrPort().Addr())
		}
		l.f.count(r)
		if !r.Drop() {
			return c, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}
