// Package idlecheck tells whether an idle kept-alive connection may carry
// the next request: a connection whose peer sent bytes nobody asked for,
// closed it or reset it while it sat idle must not, since those bytes would
// be read as the next request's response (RFC 9112 §9.3), and a request
// written to a closed connection fails after the fact. The check is one
// non-blocking peek (recv with MSG_PEEK|MSG_DONTWAIT), allocation-free.
package idlecheck

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn wraps a TCP connection with the state its check needs.
type Conn struct {
	raw   syscall.RawConn
	peek  func(fd uintptr) // bound once: a closure per check would allocate
	buf   [1]byte
	n     uintptr
	errno syscall.Errno
}

// New prepares the check for tcp.
func New(tcp *net.TCPConn) (*Conn, error) {
	raw, err := tcp.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &Conn{raw: raw}
	c.peek = c.peekFD
	return c, nil
}

// State is what a check found on an idle connection.
type State uint8

const (
	Idle        State = iota // nothing waiting: the connection may carry a request
	Unsolicited              // bytes waiting that no request asked for
	Closed                   // the peer closed or reset it (or the check failed)
)

// Check looks at the connection without reading from it or waiting. Call
// it only while no request is in flight on the connection. It goes
// through RawConn.Control, not Read: a read deadline left from the last
// request must not make an idle connection look broken.
func (c *Conn) Check() State {
	c.n, c.errno = 0, 0
	if err := c.raw.Control(c.peek); err != nil {
		return Closed
	}
	switch {
	case c.errno == unix.EAGAIN:
		return Idle
	case c.errno == 0 && c.n > 0:
		return Unsolicited
	}
	return Closed // EOF (0 bytes, no error) or an error
}

// peekFD looks at the next byte without taking it or waiting. (unix.Recvfrom
// is not used: its address buffer escapes, an allocation per call.)
func (c *Conn) peekFD(fd uintptr) {
	c.n, _, c.errno = syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.buf[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
}
