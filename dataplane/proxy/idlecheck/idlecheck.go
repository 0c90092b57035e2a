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
	peek  func(fd uintptr) bool // bound once: a closure per check would allocate
	buf   [1]byte
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

// Stale reports whether the connection must not carry a request: bytes are
// waiting, the peer closed or reset it, or the check failed (a new
// connection is the safe choice). Call it only while no request is in
// flight on the connection.
func (c *Conn) Stale() bool {
	c.errno = 0
	if err := c.raw.Read(c.peek); err != nil {
		return true
	}
	return c.errno != unix.EAGAIN // else data, EOF (0 bytes, no error) or an error
}

// peekFD looks at the next byte without taking it or waiting; returning
// true tells the poller not to wait. (unix.Recvfrom is not used: its
// address buffer escapes, an allocation per call.)
func (c *Conn) peekFD(fd uintptr) bool {
	_, _, c.errno = syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.buf[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return true
}
