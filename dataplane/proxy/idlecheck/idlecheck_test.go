package idlecheck

import (
	"net"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (*net.TCPConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c.(*net.TCPConn), peer
}

// settle gives loopback time to deliver what the peer did.
func settle() { time.Sleep(20 * time.Millisecond) }

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		peer func(net.Conn)
		want bool
	}{
		{"idle", func(net.Conn) {}, false},
		{"bytes waiting", func(p net.Conn) { p.Write([]byte("HTTP/1.1 200 OK\r\n")) }, true},
		{"closed by the peer", func(p net.Conn) { p.Close() }, true},
		{"reset by the peer", func(p net.Conn) { p.(*net.TCPConn).SetLinger(0); p.Close() }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := pair(t)
			check, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			tc.peer(peer)
			settle()
			if got := check.Check() != Idle; got != tc.want {
				t.Fatalf("Check() != Idle: %v, want %v", got, tc.want)
			}
			if tc.name == "bytes waiting" {
				// The peek takes nothing: the bytes are still there to read.
				buf := make([]byte, 64)
				c.SetReadDeadline(time.Now().Add(time.Second))
				if n, err := c.Read(buf); err != nil || string(buf[:n]) != "HTTP/1.1 200 OK\r\n" {
					t.Fatalf("read after the check: %q, %v", buf[:n], err)
				}
			}
		})
	}
}

// TestExpiredReadDeadline: the last request's read deadline, long past on
// an idle connection, does not make it look closed (RawConn.Read would
// fail with a timeout; the check goes through Control).
func TestExpiredReadDeadline(t *testing.T) {
	c, _ := pair(t)
	check, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
	time.Sleep(20 * time.Millisecond)
	if st := check.Check(); st != Idle {
		t.Fatalf("Check() = %d after the read deadline passed, want Idle", st)
	}
}

func TestCheckAllocatesNothing(t *testing.T) {
	c, _ := pair(t)
	check, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { check.Check() }); n != 0 {
		t.Fatalf("Check allocates %.1f times per call", n)
	}
}

func BenchmarkCheck(b *testing.B) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	c, _ := net.Dial("tcp", ln.Addr().String())
	defer c.Close()
	p, _ := ln.Accept()
	defer p.Close()
	check, _ := New(c.(*net.TCPConn))
	b.ReportAllocs()
	for b.Loop() {
		check.Check()
	}
}
