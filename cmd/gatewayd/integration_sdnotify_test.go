package main

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify runs gatewayd as systemd would with Type=notify and
// WatchdogSec: READY=1 comes once the state is restored and the listeners
// accept, SIGHUP is framed by RELOADING=1 and READY=1, the watchdog is
// pinged, and SIGTERM says STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string) string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, want) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %q from gatewayd", want)
			}
		}
	}
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	up := startUpstream(t, "api", nil)
	g := startGateway(t, mgmtConfig(up.addr(), t.TempDir(), ""))
	ready := next("READY=1")
	if !strings.Contains(ready, "STATUS=serving") {
		t.Errorf("ready message %q", ready)
	}
	// By READY the state was restored and the listeners accept.
	for _, want := range []string{"bans restored", "blocklist restored", "data listener started", "management listener started"} {
		if !strings.Contains(g.logs(), want) {
			t.Errorf("READY=1 before %q was logged", want)
		}
	}
	if c, err := net.Dial("tcp", g.data); err != nil {
		t.Errorf("data listener after READY: %v", err)
	} else {
		c.Close()
	}
	next("WATCHDOG=1")
	g.signal(syscall.SIGHUP)
	if m := next("RELOADING=1"); !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Errorf("reloading message %q", m)
	}
	next("READY=1")
	g.signal(syscall.SIGTERM)
	next("STOPPING=1")
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("gatewayd did not exit")
	}
}
