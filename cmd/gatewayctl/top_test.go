package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/livetop"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
	"github.com/edgeguard/edgeguard/policy/mgmt/client"
)

func TestTopArgs(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"arguments", []string{"top", "extra"}, exitUsage, "top takes no arguments"},
		{"too many rows", []string{"top", "--rows", "65"}, exitUsage, "--rows must be 1 to 64"},
		{"no rows", []string{"top", "--rows", "0"}, exitUsage, "--rows must be 1 to 64, got 0"},
		{"no interval", []string{"top", "--interval", "0s"}, exitUsage, "--interval must be positive"},
		{"flag of top elsewhere", []string{"status", "--once"}, exitUsage, `--once is a flag of "top"`},
		{"two targets", []string{"top", "--once", "--target", "127.0.0.1:1,127.0.0.1:2"}, exitUsage, "top reads one target, got 2"},
		{"unreachable", []string{"top", "--once", "--target", "127.0.0.1:1", "--timeout", "2s"}, exitUnreachable, "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := ctl(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.err)
			}
		})
	}
}

// TestTopOnce reads a frame from the real management server of this
// process, whose live view counted a known pattern.
func TestTopOnce(t *testing.T) {
	addr := startDaemon(t)
	now := time.Now()
	tr := livetop.Default // nothing in this process starts its goroutine: the test rotates it
	for i := range 40 {
		tr.Observe(netip.MustParseAddr("192.0.2.10"), 200, pipeline.ReasonNone)
		if i < 6 {
			tr.Observe(netip.MustParseAddr("2001:db8:5:6::7"), 429, pipeline.ReasonRateLimited)
		}
	}
	tr.Rotate(now.Add(time.Second))
	code, out, errOut := ctl(t, "", "top", "--once", "--target", addr, "--token", testToken)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"requests   ", "2xx ", "4xx ", "TOP CLIENTS", "TOP DENY REASONS", "rate_limited", "upstreams  api 1/1 healthy",
		"enforcer   userspace (fallback)  drops (total) drop_banned 0 drop_blocklist 0",
		"security events are off",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("frame lacks %q:\n%s", want, out)
		}
	}
	a, b := strings.Index(out, "192.0.2.10 "), strings.Index(out, "2001:db8:5:6::/64 ")
	if a < 0 || b < 0 || a > b {
		t.Errorf("clients missing or not busiest first (the IPv6 client as its /64):\n%s", out)
	}
	code, out, _ = ctl(t, "", "top", "--once", "--json", "--rows", "1", "--target", addr, "--token", testToken)
	var top api.Top
	if err := json.Unmarshal([]byte(out), &top); code != exitOK || err != nil || len(top.Clients) != 1 || top.Clients[0].Client != "192.0.2.10" {
		t.Fatalf("--json --rows 1: exit %d, %v, %+v", code, err, top.Clients)
	}
}

// TestTopLive runs the live loop for a few frames: each starts with the
// ANSI clear, and from the second on the enforcer's drops are rates.
func TestTopLive(t *testing.T) {
	addr := startDaemon(t)
	o, _, err := parseArgs([]string{"top", "--target", addr, "--token", testToken, "--interval", "100ms"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e := &env{opt: o, stdout: &out, stderr: &out}
	if err := e.connect(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	if code := e.top(ctx); code != exitOK {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	frames := strings.Split(out.String(), ansiClear)[1:]
	if len(frames) < 2 {
		t.Fatalf("%d frames in 350ms at 100ms:\n%q", len(frames), out.String())
	}
	if !strings.Contains(frames[0], "drops (total)") || !strings.Contains(frames[1], "drop_blocklist 0.0/s") {
		t.Errorf("first frame totals, then rates:\n%s\n---\n%s", frames[0], frames[1])
	}
	if !strings.Contains(frames[0], ansiBold+"TOP CLIENTS"+ansiReset) {
		t.Errorf("live headings are not bold:\n%q", frames[0])
	}
}

func TestTopFrame(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	ev := func(s string) json.RawMessage { return json.RawMessage(s) }
	top := &api.Top{
		Time: at, Window: 10, Requests: 1000, Rate: 100, Classes: map[string]uint64{"2xx": 900, "4xx": 100, "other": 0},
		Clients:           []api.TopClient{{Client: "203.0.113.9", Requests: 500, Denied: 100, Rate: 50}},
		Reasons:           []api.TopReason{{Reason: "rate_limited", Count: 100, Rate: 10}},
		Enforcer:          &api.EnforcerStatus{Mode: "native", Interfaces: []api.InterfaceStatus{{Name: "eth0", Mode: "native"}}, Counters: map[string]uint64{"pass": 9, "drop_burst": 300}},
		Upstreams:         []api.TopUpstream{{Name: "api", Healthy: 1, Targets: 2}},
		UntrackedRequests: 7, DistinctClients: 5000,
		Events: []json.RawMessage{
			ev(`{"ts":"2026-12-03T07:59:58Z","type":"anomaly_enumeration","client_ip":"203.0.113.9","identity":"acme","route":"customers","reason":"distinct_ids","count":1}`),
			ev(`{"ts":"2026-12-03T07:59:57Z","type":"limit_refused","client_ip":"203.0.113.9","route":"customers","reason":"rate_limited","count":40}`),
		},
	}
	prev := *top
	prev.Time = at.Add(-2 * time.Second)
	prev.Enforcer = &api.EnforcerStatus{Counters: map[string]uint64{"drop_burst": 100}}
	cases := []struct {
		name string
		prev *api.Top
		want []string
	}{
		{"first frame", nil, []string{
			"requests   100/s  2xx 90.0/s  3xx 0.0/s  4xx 10.0/s  5xx 0.0/s\n",
			"enforcer   native eth0:native  drops (total) drop_burst 300\n",
			"upstreams  !api 1/2 healthy\n",
			"203.0.113.9  50.0   10.0      500",
			"(7 requests from clients past the counting table: at least 5000 distinct clients in one second)",
			"ANOMALIES\n07:59:58 anomaly_enumeration client_ip=203.0.113.9 identity=acme route=customers reason=distinct_ids\n",
			"RECENT SECURITY EVENTS (0 dropped)\n07:59:57 limit_refused client_ip=203.0.113.9 route=customers reason=rate_limited x40\n",
		}},
		{"later frame: drop rates", &prev, []string{"drops drop_burst 100/s\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeFrame(&b, client.Target{Name: "gw1:9901"}, top, tc.prev, false)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("frame lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestFit(t *testing.T) {
	frame := "head\n" + ansiBold + "TOP CLIENTS AND A LONG HEADING" + ansiReset + "\n0123456789\nlast\n"
	cases := []struct {
		name       string
		rows, cols int
		want       string
	}{
		{"no terminal", 0, 0, frame},
		{"fits", 10, 80, frame},
		{"too many lines: the last go", 3, 0, "head\n" + ansiBold + "TOP CLIENTS AND A LONG HEADING" + ansiReset + "\n"},
		{"too wide: cut with an ellipsis, headings kept", 0, 6, "head\n" + ansiBold + "TOP CLIENTS AND A LONG HEADING" + ansiReset + "\n01234…\nlast\n"},
		{"tiny terminal keeps one line", 1, 0, "head\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := fit(frame, tc.rows, tc.cols); got != tc.want {
				t.Errorf("fit(%d, %d) = %q, want %q", tc.rows, tc.cols, got, tc.want)
			}
		})
	}
}
