package handover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary plays the successor when started with childEnv set to
// what it should do.
const childEnv = "HANDOVER_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(child(role))
	}
	os.Exit(m.Run())
}

// child takes the listener "data test", serves one connection on it by
// writing its pid, then does what role says.
func child(role string) int {
	p, err := FromEnv()
	if err != nil || p == nil {
		fmt.Fprintln(os.Stderr, "child: no predecessor:", err)
		return 2
	}
	switch role {
	case "exit":
		return 3
	case "fail":
		p.Failed(errors.New("config: routes[0]: no upstream"))
		return 1
	}
	ln, err := p.Listener("data test")
	if err != nil || ln == nil {
		p.Failed(fmt.Errorf("no listener: %v", err))
		return 1
	}
	if unused, _ := p.Listener("data gone"); unused != nil {
		p.Failed(errors.New("took a listener twice"))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Ready(ctx, "v2"); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	c, err := ln.Accept()
	if err != nil {
		return 1
	}
	fmt.Fprintf(c, "%d", os.Getpid())
	c.Close()
	return 0
}

func TestHandOver(t *testing.T) {
	cases := []struct {
		name, role string
		wantErr    string // "" for a successful hand-over
	}{
		{"successor takes over", "serve", ""},
		{"successor reports a failure", "fail", "successor failed: config: routes[0]: no upstream"},
		{"successor exits", "exit", "exited before it was ready: exit status 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			f, err := ln.(*net.TCPListener).File()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			s, err := Start(exe, []string{"-test.run=^$"}, append(os.Environ(), childEnv+"="+tc.role),
				[]Listener{{Key: "data test", File: f}})
			if err != nil {
				t.Fatal(err)
			}
			// The socket stays non-blocking for our own listener: a blocking
			// accept would never wake up when the listener is closed.
			rc, _ := ln.(*net.TCPListener).SyscallConn()
			_ = rc.Control(func(fd uintptr) {
				fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
				if err != nil || fl&unix.O_NONBLOCK == 0 {
					t.Errorf("listener flags %#x (%v) after the hand-over: want O_NONBLOCK", fl, err)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = s.WaitReady(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("WaitReady: %v, want %q", err, tc.wantErr)
				}
				s.Abort()
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Version != "v2" {
				t.Errorf("successor version %q", s.Version)
			}
			if err := s.Confirm(); err != nil {
				t.Fatal(err)
			}
			// Our listener stops accepting: every connection now goes to
			// the successor, through the same socket.
			ln.Close()
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatalf("dial after the hand-over: %v", err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			if err != nil || string(b) != strconv.Itoa(s.Pid()) {
				t.Fatalf("served by %q (%v), want the successor %d", b, err, s.Pid())
			}
			select {
			case err := <-s.exited:
				if err != nil {
					t.Errorf("successor: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("successor did not exit")
			}
		})
	}
}

func TestFromEnvWithout(t *testing.T) {
	os.Unsetenv(EnvFD)
	if p, err := FromEnv(); p != nil || err != nil {
		t.Errorf("FromEnv without %s: %v %v", EnvFD, p, err)
	}
	t.Setenv(EnvFD, "1")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), EnvFD) {
		t.Errorf("FromEnv with fd 1: %v", err)
	}
}
