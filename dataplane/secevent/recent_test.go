package secevent

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
)

// TestRecent: the tail holds what was written, newest first, each a JSON
// object, bounded, without successful read-only management calls.
func TestRecent(t *testing.T) {
	l, _, clk := openTest(t, Options{})
	ip := netip.MustParseAddr("192.0.2.1")
	l.Emit(&Event{Type: MgmtCall, Time: clk.Now(), Action: "GET /v1/top", Result: "ok", Status: 200})
	l.Emit(&Event{Type: MgmtCall, Time: clk.Now(), Action: "GET /v1/bans", Result: "denied", Status: 401})
	for i := range RecentLines + 5 {
		l.Emit(&Event{Type: BanChange, Time: clk.Now(), ClientIP: ip, Action: "ban", Result: "ok", Version: uint64(i)})
	}
	l.Sync()
	cases := []struct {
		name  string
		n     int
		count int
	}{
		{"none", 0, 0},
		{"some", 3, 3},
		{"more than kept", 1000, RecentLines},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := l.Recent(tc.n)
			if len(got) != tc.count {
				t.Fatalf("%d lines, want %d", len(got), tc.count)
			}
			for i, raw := range got {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatalf("line %d %s: %v", i, raw, err)
				}
				if m["action"] == "GET /v1/top" {
					t.Errorf("a successful read call is in the tail: %s", raw)
				}
				if want := fmt.Sprint(RecentLines + 4 - i); i < 3 && fmt.Sprint(m["version"]) != want {
					t.Errorf("line %d has version %v, want %s (newest first)", i, m["version"], want)
				}
			}
		})
	}
	var nilLog *Log
	if nilLog.Recent(5) != nil {
		t.Error("a nil Log has recent lines")
	}
}
