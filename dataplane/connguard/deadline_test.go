package connguard

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the deadline updates that reach the socket.
type countingConn struct {
	net.Conn
	readSets, writeSets atomic.Int64
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.readSets.Add(1)
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.writeSets.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

// lazyPair returns a guarded connection (without a guard: Close the inner
// one) and its peer, over loopback TCP.
func lazyPair(t *testing.T) (*Conn, *countingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingConn{Conn: raw}
	t.Cleanup(func() { raw.Close(); peer.Close() })
	return &Conn{Conn: inner}, inner, peer
}

func TestLazyDeadlines(t *testing.T) {
	t.Run("a deadline set before a read bounds it", func(t *testing.T) {
		c, _, _ := lazyPair(t)
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		start := time.Now()
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want a timeout", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("timed out after %v", d)
		}
	})
	t.Run("the last deadline set wins", func(t *testing.T) {
		c, _, _ := lazyPair(t)
		_ = c.SetReadDeadline(time.Now().Add(time.Hour)) // the idle wait
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want the shorter deadline's timeout", err)
		}
	})
	t.Run("a passed deadline interrupts a blocked read", func(t *testing.T) {
		c, _, _ := lazyPair(t)
		done := make(chan error, 1)
		go func() { _, err := c.Read(make([]byte, 1)); done <- err }()
		time.Sleep(20 * time.Millisecond)
		_ = c.SetReadDeadline(time.Now().Add(-time.Second))
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read: %v, want a timeout", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("a passed deadline did not interrupt the read")
		}
	})
	t.Run("no deadline after one removes it", func(t *testing.T) {
		c, _, peer := lazyPair(t)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, _ = c.Read(make([]byte, 1)) // applies and times out
		_ = c.SetReadDeadline(time.Time{})
		go func() { time.Sleep(100 * time.Millisecond); _, _ = peer.Write([]byte("x")) }()
		if n, err := c.Read(make([]byte, 1)); n != 1 || err != nil {
			t.Fatalf("read after removing the deadline: %d %v", n, err)
		}
	})
	t.Run("deadlines moved within the slack reach the socket once", func(t *testing.T) {
		c, inner, peer := lazyPair(t)
		base := time.Now().Add(time.Minute)
		for i := 0; i < 100; i++ {
			// A keep-alive request every 50 us: the idle deadline moves
			// by as much; reads and writes happen in between.
			at := base.Add(time.Duration(i) * 50 * time.Microsecond)
			_ = c.SetReadDeadline(at)
			_ = c.SetWriteDeadline(at)
			_, _ = peer.Write([]byte("x"))
			if _, err := c.Read(make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("y")); err != nil {
				t.Fatal(err)
			}
		}
		if r, w := inner.readSets.Load(), inner.writeSets.Load(); r != 1 || w != 1 {
			t.Errorf("%d read and %d write deadline updates reached the socket, want 1 each", r, w)
		}
	})
	t.Run("a write deadline bounds a blocked write", func(t *testing.T) {
		c, _, _ := lazyPair(t)
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		big := make([]byte, 64<<20) // more than the socket buffers hold; the peer never reads
		if _, err := c.Write(big); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write: %v, want a timeout", err)
		}
	})
}
