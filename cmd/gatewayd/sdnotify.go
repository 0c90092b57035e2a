package main

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// notifier speaks systemd's readiness protocol (sd_notify(3)): one datagram
// per state change to the socket named by $NOTIFY_SOCKET. Without that
// variable (not started by systemd with Type=notify) every call is a no-op.
type notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // half of $WATCHDOG_USEC: how often to ping; 0: no watchdog
}

func newNotifier() *notifier {
	n := &notifier{}
	if path := os.Getenv("NOTIFY_SOCKET"); path != "" && (path[0] == '/' || path[0] == '@') {
		n.addr = &net.UnixAddr{Name: path, Net: "unixgram"} // "@": abstract namespace, as Go spells it
	}
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	pid := os.Getenv("WATCHDOG_PID")
	if err == nil && usec > 0 && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
		n.watchdog = time.Duration(usec) * time.Microsecond / 2
	}
	return n
}

// send writes one notification ("READY=1", "STATUS=...", ...).
func (n *notifier) send(fields ...string) error {
	if n.addr == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(strings.Join(fields, "\n")))
	return err
}

// ready: the blocklist and bans are restored and every listener accepts.
func (n *notifier) ready(status string) error { return n.send("READY=1", "STATUS="+status) }

// reloading: a configuration reload began; ready ends it.
func (n *notifier) reloading() error {
	return n.send("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10))
}

func (n *notifier) stopping() error {
	return n.send("STOPPING=1", "STATUS=draining in-flight requests")
}

func (n *notifier) ping() error { return n.send("WATCHDOG=1") }

// ticker returns a channel that ticks every watchdog interval (nil, which
// never ticks, without a watchdog) and a function that stops it.
func (n *notifier) ticker() (<-chan time.Time, func()) {
	if n.watchdog <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(n.watchdog)
	return t.C, t.Stop
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}
