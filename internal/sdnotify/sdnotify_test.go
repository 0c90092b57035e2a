package sdnotify

import (
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewFromEnv(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		enabled  bool
		watchdog time.Duration
	}{
		{"not under systemd", map[string]string{}, false, 0},
		{"path socket", map[string]string{"NOTIFY_SOCKET": "/run/systemd/notify"}, true, 0},
		{"abstract socket", map[string]string{"NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify"}, true, 0},
		{"relative socket refused", map[string]string{"NOTIFY_SOCKET": "notify"}, false, 0},
		{"watchdog for anyone", map[string]string{"WATCHDOG_USEC": "30000000"}, false, 15 * time.Second},
		{"watchdog for this pid", map[string]string{"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "42"}, false, time.Second},
		{"watchdog for another pid", map[string]string{"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "41"}, false, 0},
		{"bad watchdog", map[string]string{"WATCHDOG_USEC": "soon"}, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := New(func(k string) string { return tc.env[k] }, 42)
			if n.Enabled() != tc.enabled || n.WatchdogInterval() != tc.watchdog {
				t.Errorf("enabled %v watchdog %v, want %v %v", n.Enabled(), n.WatchdogInterval(), tc.enabled, tc.watchdog)
			}
		})
	}
}

// TestMessages sends every notification to a real datagram socket, as
// systemd would receive them.
func TestMessages(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := New(envMap{"NOTIFY_SOCKET": sock}.get, 1)
	cases := []struct {
		name string
		send func() error
		want []string
	}{
		{"ready", func() error { return n.Ready("serving") }, []string{"READY=1", "STATUS=serving"}},
		{"reloading", n.Reloading, []string{"RELOADING=1", "MONOTONIC_USEC="}},
		{"stopping", n.Stopping, []string{"STOPPING=1", "STATUS=draining in-flight requests"}},
		{"main pid", func() error { return n.MainPID(4242, "upgraded") }, []string{"MAINPID=4242", "READY=1", "STATUS=upgraded"}},
		{"ping", n.Ping, []string{"WATCHDOG=1"}},
	}
	buf := make([]byte, 4096)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			k, err := conn.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(buf[:k]), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %q, want %q", lines, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d %q, want %q", i, lines[i], w)
				}
			}
		})
	}
	conn.Close()
	if err := n.Ping(); err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("ping to a closed socket: %v, want an error naming it", err)
	}
}

func TestDisabledIsNoop(t *testing.T) {
	n := New(func(string) string { return "" }, 1)
	if err := n.Ready("x"); err != nil {
		t.Error(err)
	}
	if c, stop := n.Ticker(); c != nil {
		t.Error("ticker without a watchdog")
	} else {
		stop()
	}
}

func TestSuccessorEnv(t *testing.T) {
	got := SuccessorEnv([]string{"A=1", "WATCHDOG_PID=7", "WATCHDOG_USEC=10", "NOTIFY_SOCKET=/x"})
	if want := []string{"A=1", "WATCHDOG_USEC=10", "NOTIFY_SOCKET=/x"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }
