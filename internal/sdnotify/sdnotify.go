// Package sdnotify speaks systemd's readiness protocol (sd_notify(3)) for a
// Type=notify service: one datagram per state change to the socket named by
// $NOTIFY_SOCKET, watchdog pings at half of $WATCHDOG_USEC, and MAINPID= to
// hand the service over to a successor process. Without $NOTIFY_SOCKET
// (not started by systemd) every call is a no-op.
//
// It never reads or changes anything but the environment it is given and
// the notification socket; it adds no dependency on libsystemd.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends notifications to the service manager.
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // half of $WATCHDOG_USEC: how often to ping; 0: no watchdog
}

// New reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID through
// getenv (os.Getenv in the daemon) for the process pid.
func New(getenv func(string) string, pid int) *Notifier {
	n := &Notifier{}
	if path := getenv("NOTIFY_SOCKET"); path != "" && (path[0] == '/' || path[0] == '@') {
		n.addr = &net.UnixAddr{Name: path, Net: "unixgram"} // "@": abstract namespace, as Go spells it
	}
	usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64)
	wpid := getenv("WATCHDOG_PID")
	if err == nil && usec > 0 && (wpid == "" || wpid == strconv.Itoa(pid)) {
		n.watchdog = time.Duration(usec) * time.Microsecond / 2
	}
	return n
}

// FromEnv is New for this process.
func FromEnv() *Notifier { return New(os.Getenv, os.Getpid()) }

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n.addr != nil }

// WatchdogInterval is how often Ping must be called; 0 without a watchdog.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog }

// Send writes one notification made of fields ("READY=1", "STATUS=...").
func (n *Notifier) Send(fields ...string) error {
	if n.addr == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notify service manager at %s: %w", n.addr.Name, err)
	}
	defer c.Close()
	if _, err = c.Write([]byte(strings.Join(fields, "\n"))); err != nil {
		return fmt.Errorf("notify service manager at %s: %w", n.addr.Name, err)
	}
	return nil
}

// Ready says the service is up; status is shown by systemctl status.
func (n *Notifier) Ready(status string) error { return n.Send("READY=1", "STATUS="+status) }

// Reloading says a configuration reload began; Ready ends it.
func (n *Notifier) Reloading() error {
	return n.Send("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10))
}

// Stopping says the service is shutting down.
func (n *Notifier) Stopping() error {
	return n.Send("STOPPING=1", "STATUS=draining in-flight requests")
}

// Status updates the free-form status line alone.
func (n *Notifier) Status(status string) error { return n.Send("STATUS=" + status) }

// MainPID makes pid the service's main process, ready, in one message: the
// successor of a binary upgrade. Only the current main process may send it
// (NotifyAccess=main); afterwards it may send nothing more.
func (n *Notifier) MainPID(pid int, status string) error {
	return n.Send("MAINPID="+strconv.Itoa(pid), "READY=1", "STATUS="+status)
}

// Ping is a watchdog keep-alive.
func (n *Notifier) Ping() error { return n.Send("WATCHDOG=1") }

// Ticker returns a channel that ticks every watchdog interval (nil, which
// never ticks, without a watchdog) and a function that stops it.
func (n *Notifier) Ticker() (<-chan time.Time, func()) {
	if n.watchdog <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(n.watchdog)
	return t.C, t.Stop
}

// SuccessorEnv returns env for a process this one starts to take over the
// service: $WATCHDOG_PID names this process, so it is dropped (the watchdog
// then applies to whoever reads it, the successor once it is main).
func SuccessorEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "WATCHDOG_PID=") {
			out = append(out, kv)
		}
	}
	return out
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}
