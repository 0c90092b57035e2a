package policy

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/internal/redistest"
)

// TestRateLimitClusterFallbackEvents: Redis killed turns the cluster limit
// to fallback with a ratelimit_cluster_fallback event naming the limit;
// Redis back brings ratelimit_cluster_restored.
func TestRateLimitClusterFallbackEvents(t *testing.T) {
	rs := redistest.Start(t)
	ev, err := secevent.Open(secevent.Options{Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ev.Close() })
	doc := "upstreams:\n  - name: a\n    targets: [" + upstreamAddr(t) + "]\n" +
		"rate_limit:\n  cluster:\n    addresses: [\"" + rs.Addr() + "\"]\n    gateways: 2\n    timeout: 200ms\n    key_prefix: \"fe:\"\n" +
		"  limits:\n    api:\n      minute: 600\n      span: cluster\n" +
		"routes:\n  - name: users\n    path: /users\n    upstream: a\n    rate_limit: {limits: [api]}\n"
	src := &source{}
	src.set(doc)
	h, err := NewHolder(src.load, Options{Events: ev}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	for _, tc := range []struct {
		name, event string
		act         func()
	}{
		{"Redis killed", "ratelimit_cluster_fallback", rs.Stop},
		{"Redis back", "ratelimit_cluster_restored", rs.Restart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.act()
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				charge(t, h.Current(), "/users", time.Now())
				for _, line := range ev.Recent(secevent.RecentLines) {
					if s := string(line); strings.Contains(s, `"`+tc.event+`"`) && strings.Contains(s, "api") {
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no %s event naming the limit; recent: %s", tc.event, ev.Recent(5))
				}
			}
		})
	}
}
