package client

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	cases := []struct {
		in       string
		tls      bool
		url      string
		socket   string
		wantFail bool
	}{
		{"10.0.0.5:9901", false, "http://10.0.0.5:9901", "", false},
		{"10.0.0.5:9901", true, "https://10.0.0.5:9901", "", false},
		{"[2001:db8::5]:9901", true, "https://[2001:db8::5]:9901", "", false},
		{"http://gw1.example:9901", true, "http://gw1.example:9901", "", false},
		{"https://gw1.example:9901/", false, "https://gw1.example:9901", "", false},
		{"unix:/run/edgeguard/mgmt.sock", false, "http://unix", "/run/edgeguard/mgmt.sock", false},
		{"unix:relative.sock", false, "", "", true},
		{"10.0.0.5", false, "", "", true},
		{"ftp://10.0.0.5:21", false, "", "", true},
		{"https://gw1.example:9901/v1", false, "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			tg, err := ParseTarget(tc.in, tc.tls)
			if tc.wantFail {
				if err == nil {
					t.Fatalf("accepted: %+v", tg)
				}
				return
			}
			if err != nil || tg.URL != tc.url || tg.Socket != tc.socket || tg.Name != tc.in {
				t.Fatalf("got %+v %v", tg, err)
			}
		})
	}
}

func TestFanoutKeepsOrderAndBound(t *testing.T) {
	var clients []*Client
	for i := range 10 {
		clients = append(clients, &Client{Target: Target{Name: string(rune('a' + i))}})
	}
	var running, peak atomic.Int32
	rs := Fanout(context.Background(), clients, 3, func(_ context.Context, c *Client) (string, error) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond) // hold the slot so that calls overlap
		running.Add(-1)
		if c.Target.Name == "c" {
			return "", errors.New("boom")
		}
		return c.Target.Name, nil
	})
	if peak.Load() > 3 {
		t.Errorf("%d calls at once, limit 3", peak.Load())
	}
	for i, r := range rs {
		want := string(rune('a' + i))
		if r.Target.Name != want || (want == "c") != (r.Err != nil) || (r.Err == nil && r.Value != want) {
			t.Errorf("result %d = %+v", i, r)
		}
	}
}
