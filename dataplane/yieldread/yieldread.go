// Package yieldread saves most of the read system calls that find nothing.
//
// Go's net.Conn.Read always tries read(2) first and parks on the poller
// only when it returns EAGAIN. On a proxy's keep-alive connections that
// first try usually fails: the gateway reads the client's next request
// right after writing a response (the client has not sent it yet), and
// the upstream's response right after writing the request (the upstream
// has not answered yet). Measured on gatewayd (plain proxy, one core, 64
// connections), a third of its ~6 system calls per request were such
// reads, each a full kernel entry and exit.
//
// Conn.Read yields the processor (runtime.Gosched) before the first Read
// that follows a Write: under load the other connections' goroutines run
// first, and by the time this one reads, the peer has usually answered,
// so the read finds data. Semantics are unchanged (the read is the
// ordinary one; with nothing else to run, Gosched returns at once and the
// read parks on EAGAIN as before), which is why this, and not waiting for
// the poller's readiness before reading, was chosen: a wait that skips the
// first read misses a FIN that arrived together with the last data (one
// edge for both), and stalls the connection until its deadline.
//
// Gosched goes through the scheduler's global run queue, a lock shared by
// every processor, so Wrap yields only with at most maxProcs processors,
// where the lock is uncontended; beyond, connections are left as they are.
package yieldread

import (
	"net"
	"runtime"
)

// maxProcs is the largest GOMAXPROCS at which Wrap yields.
const maxProcs = 4

// Conn is a connection whose first Read after a Write yields first.
// Reads and writes must each come from one goroutine at a time, as
// fasthttp's do.
type Conn struct {
	net.Conn
	wrote bool
}

// Read yields if a Write came since the last Read, then reads.
func (c *Conn) Read(p []byte) (int, error) {
	if c.wrote {
		c.wrote = false
		runtime.Gosched()
	}
	return c.Conn.Read(p)
}

// Write writes and notes that the next Read follows a Write.
func (c *Conn) Write(p []byte) (int, error) {
	c.wrote = true
	return c.Conn.Write(p)
}

// Wrap returns c wrapped when yielding pays (see the package comment),
// else c.
func Wrap(c net.Conn) net.Conn {
	if runtime.GOMAXPROCS(0) > maxProcs {
		return c
	}
	return &Conn{Conn: c}
}
