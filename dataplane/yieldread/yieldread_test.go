package yieldread

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

func pair(t testing.TB) (net.Conn, net.Conn) {
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
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

func TestWrap(t *testing.T) {
	s, _ := pair(t)
	old := runtime.GOMAXPROCS(maxProcs + 1)
	defer runtime.GOMAXPROCS(old)
	if Wrap(s) != s {
		t.Errorf("wrapped above %d processors", maxProcs)
	}
	runtime.GOMAXPROCS(1)
	if _, ok := Wrap(s).(*Conn); !ok {
		t.Errorf("not wrapped with one processor")
	}
}

// TestExchange runs request/response rounds and a close-delimited
// transfer through wrapped connections on both sides: the bytes and the
// EOF arrive as without the wrapper.
func TestExchange(t *testing.T) {
	tests := []struct {
		name   string
		rounds int
		size   int
	}{
		{"small keep-alive rounds", 200, 100},
		{"large messages", 20, 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := pair(t)
			ws, wc := &Conn{Conn: s}, &Conn{Conn: c}
			msg := bytes.Repeat([]byte("x"), tc.size)
			go func() {
				buf := make([]byte, tc.size)
				for i := 0; i < tc.rounds; i++ {
					if _, err := io.ReadFull(ws, buf); err != nil {
						return
					}
					ws.Write(buf)
				}
				ws.Write([]byte("bye"))
				ws.Close() // data and FIN together: the reader must still see EOF
			}()
			wc.SetDeadline(time.Now().Add(20 * time.Second))
			buf := make([]byte, tc.size)
			for i := 0; i < tc.rounds; i++ {
				wc.Write(msg)
				if _, err := io.ReadFull(wc, buf); err != nil || !bytes.Equal(buf, msg) {
					t.Fatalf("round %d: %v", i, err)
				}
			}
			rest, err := io.ReadAll(wc)
			if err != nil || string(rest) != "bye" {
				t.Fatalf("tail %q, %v", rest, err)
			}
		})
	}
}

// BenchmarkExchange is a keep-alive round trip of small messages, the
// gateway's pattern (write, then read the answer), bare and wrapped.
func BenchmarkExchange(b *testing.B) {
	for _, wrap := range []bool{false, true} {
		name := "bare"
		if wrap {
			name = "yieldread"
		}
		b.Run(name, func(b *testing.B) {
			s, c := pair(b)
			var conn net.Conn = c
			if wrap {
				conn = &Conn{Conn: c}
			}
			go func() {
				buf := make([]byte, 32)
				for {
					if _, err := io.ReadFull(s, buf); err != nil {
						return
					}
					if _, err := s.Write(buf); err != nil {
						return
					}
				}
			}()
			msg, buf := make([]byte, 32), make([]byte, 32)
			b.ReportAllocs()
			for b.Loop() {
				conn.Write(msg)
				if _, err := io.ReadFull(conn, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
