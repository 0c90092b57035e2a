package cluster_test

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/dataplane/ratelimit/cluster"
	"github.com/edgeguard/edgeguard/internal/redistest"
)

// banLog records the bans a gateway applied.
type banLog struct {
	mu   sync.Mutex
	bans map[netip.Prefix]time.Time
}

func (b *banLog) apply(src netip.Prefix, until time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bans[src] = until
	return nil
}

func (b *banLog) has(src netip.Prefix) bool {
	_, ok := b.until(src)
	return ok
}

func (b *banLog) lift(src netip.Prefix) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.bans, src)
	return nil
}

func (b *banLog) until(src netip.Prefix) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.bans[src]
	return u, ok
}

func sharingClient(t *testing.T, addr string) (*cluster.Client, *banLog) {
	t.Helper()
	c, err := cluster.New(cluster.Config{Mode: cluster.ModeStandalone, Addrs: []string{addr}, KeyPrefix: "t:bans:",
		Timeout: 2 * time.Second, ProbeEvery: 50 * time.Millisecond, Clock: func() int64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	l := &banLog{bans: map[netip.Prefix]time.Time{}}
	c.ShareBans(l.apply, l.lift, time.Hour)
	return c, l
}

// TestBanSharing: a ban issued on one gateway is applied at the others
// within a second, not echoed back to its own, expired bans are skipped,
// and a gateway that starts later catches up from the stream.
func TestBanSharing(t *testing.T) {
	rs := redistest.Start(t)
	a, al := sharingClient(t, rs.Addr())
	_, bl := sharingClient(t, rs.Addr())
	src := netip.MustParsePrefix("198.51.100.7/32")
	old := netip.MustParsePrefix("198.51.100.8/32")
	a.PublishBan(old, time.Now().Add(-time.Second)) // already over
	t0 := time.Now()
	a.PublishBan(src, time.Now().Add(time.Minute))
	for !bl.has(src) {
		if time.Since(t0) > time.Second {
			t.Fatal("ban not applied at the other gateway within a second")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("ban propagated in %s", time.Since(t0).Round(time.Millisecond))
	if al.has(src) || bl.has(old) {
		t.Fatal("ban echoed to its own gateway, or an expired ban applied")
	}
	// A gateway started after the ban catches up.
	_, cl := sharingClient(t, rs.Addr())
	for deadline := time.Now().Add(2 * time.Second); !cl.has(src); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("late gateway did not catch up")
		}
	}
	if until, _ := cl.until(src); until.Before(time.Now().Add(50 * time.Second)) {
		t.Fatalf("caught-up ban ends at %s: expiry not carried", until)
	}
	// An unban lifts the ban at every other gateway.
	a.PublishUnban(src)
	for deadline := time.Now().Add(time.Second); bl.has(src) || cl.has(src); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("unban not applied at the other gateways within a second")
		}
	}
}

// TestBanWhileRedisDown: a ban (and then an unban of another source)
// issued while Redis is down is published once it is back, in order, and
// reaches the other gateway; before, it was dropped and never shared.
func TestBanWhileRedisDown(t *testing.T) {
	rs := redistest.Start(t)
	a, _ := sharingClient(t, rs.Addr())
	_, bl := sharingClient(t, rs.Addr())
	banned := netip.MustParsePrefix("198.51.100.21/32")
	lifted := netip.MustParsePrefix("198.51.100.22/32")
	a.PublishBan(lifted, time.Now().Add(time.Minute))
	waitBan(t, bl, lifted, true)

	rs.Stop()
	a.PublishBan(banned, time.Now().Add(time.Minute))
	a.PublishUnban(lifted)
	time.Sleep(300 * time.Millisecond) // the publisher tries and fails meanwhile
	rs.Restart()
	waitBan(t, bl, banned, true)
	waitBan(t, bl, lifted, false)
}

func waitBan(t *testing.T, l *banLog, src netip.Prefix, want bool) {
	t.Helper()
	for t0 := time.Now(); l.has(src) != want; time.Sleep(10 * time.Millisecond) {
		if time.Since(t0) > 15*time.Second {
			t.Fatalf("%s banned = %v after 15 s, want %v", src, !want, want)
		}
	}
}

// TestBansQueuedAtCloseCounted: bans still waiting for Redis when the
// gateway stops are counted as dropped, not lost silently.
func TestBansQueuedAtCloseCounted(t *testing.T) {
	rs := redistest.Start(t)
	a, _ := sharingClient(t, rs.Addr())
	rs.Stop()
	dropped := metrics.GetOrCreateCounter(`edgeguard_ratelimit_cluster_bans_total{result="dropped"}`)
	before := dropped.Get()
	for i := range 3 {
		a.PublishBan(netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(30 + i)}), 32), time.Now().Add(time.Minute))
	}
	time.Sleep(200 * time.Millisecond) // the publisher holds the first, retrying
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dropped.Get() - before; got != 3 {
		t.Fatalf("dropped counter moved by %d, want 3", got)
	}
}
