package policy

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/internal/redistest"
)

// TestFleetBans: every ban issued at gateway A's enforcement (the burst
// meter's path, Ban; the management API's, AddBan) reaches gateway B with
// its expiry within a second, an unban (Unban, RemoveBan) lifts it there,
// and B publishes nothing back (the stream holds only A's entries).
func TestFleetBans(t *testing.T) {
	rs := redistest.Start(t)
	doc := "upstreams:\n  - name: a\n    targets: [" + upstreamAddr(t) + "]\n" +
		"rate_limit:\n  ban_duration: 1m\n  cluster:\n    addresses: [\"" + rs.Addr() + "\"]\n    gateways: 2\n    timeout: 2s\n    key_prefix: \"fb:\"\n" +
		"  limits:\n    api:\n      minute: 2\n      span: cluster\n" +
		"routes:\n  - name: users\n    path: /users\n    upstream: a\n    rate_limit: {limits: [api]}\n"
	gateway := func() *Enforcement {
		e := &Enforcement{Enforcer: connfilter.New()}
		src := &source{}
		src.set(doc)
		h, err := NewHolder(src.load, Options{Enforcer: e}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		return e
	}
	a, b := gateway(), gateway()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })

	until := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	published := int64(0)
	for _, tc := range []struct {
		name  string
		src   string
		ban   func(netip.Prefix, time.Time) error
		unban func(netip.Prefix) error
	}{
		{"burst meter", "192.0.2.10/32", a.Ban, a.Unban},
		{"management API", "2001:db8:1::/64", a.AddBan, a.RemoveBan},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := netip.MustParsePrefix(tc.src)
			if err := tc.ban(src, until); err != nil {
				t.Fatal(err)
			}
			waitBan(t, b, src, func(u time.Time, ok bool) bool { return ok && u.Equal(until) })
			if err := tc.unban(src); err != nil {
				t.Fatal(err)
			}
			waitBan(t, b, src, func(_ time.Time, ok bool) bool { return !ok })
			published += 2
			// B applied both without publishing: no echo on the stream.
			if n, err := rdb.XLen(context.Background(), "fb:bans").Result(); err != nil || n != published {
				t.Fatalf("stream holds %d entries (err %v), want A's %d", n, err, published)
			}
		})
	}
}

// waitBan waits up to a second for e's ban of src to satisfy ok.
func waitBan(t *testing.T, e *Enforcement, src netip.Prefix, ok func(time.Time, bool) bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
		bans, err := e.Bans()
		if err != nil {
			t.Fatal(err)
		}
		var u time.Time
		found := false
		for _, ban := range bans {
			if ban.Source == src {
				u, found = ban.Until, true
			}
		}
		if ok(u, found) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ban of %s at the other gateway: until %v, present %v, not as expected within a second", src, u, found)
		}
	}
}
