package ratelimit

import (
	"strings"
	"testing"
	"time"
)

// downLeaser is a Leaser whose store never answers: cluster limits run on
// their fallback. (The Redis leaser is tested in package cluster.)
type downLeaser struct{}

func (downLeaser) Up() bool                 { return false }
func (downLeaser) Refill(s *LeaseSlot) bool { return false }

func clusterConfig(t *testing.T, s *Store, gateways, leaseMax int64) *ClusterConfig {
	t.Helper()
	slots, err := s.LeaseTable(t.Name(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return &ClusterConfig{Key: "api", Leaser: downLeaser{}, Slots: slots, Gateways: gateways,
		LeaseMin: 1, LeaseMax: leaseMax, LeaseHorizon: 100 * time.Millisecond, LeaseTTL: time.Second}
}

// TestClusterCompile: each window's fallback is 1/gateways of it (at least
// one), and the lease cap keeps gateways*cap within half of the smallest
// window.
func TestClusterCompile(t *testing.T) {
	tests := []struct {
		name          string
		ws            Windows
		gateways, max int64
		wantFB        Windows
		wantCap       int64
	}{
		{"lease max wins", Windows{Minute: 6000}, 3, 100, Windows{Minute: 2000}, 100},
		{"half the limit over the gateways wins", Windows{Minute: 60}, 3, 100, Windows{Minute: 20}, 10},
		{"smallest window decides", Windows{Second: 12, Hour: 100_000}, 2, 100, Windows{Second: 6, Hour: 50_000}, 3},
		{"never below one", Windows{Minute: 2}, 5, 100, Windows{Minute: 1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore()
			t.Cleanup(s.Close)
			tb, err := s.Table(t.Name(), 100)
			if err != nil {
				t.Fatal(err)
			}
			l, err := NewLimit(tb, LimitConfig{Name: "api", Default: tc.ws, Thresholds: DefaultThresholds, Cluster: clusterConfig(t, s, tc.gateways, tc.max)})
			if err != nil {
				t.Fatal(err)
			}
			var fb Windows
			for _, wr := range l.def.fb.list {
				fb[wr.w] = wr.grant.N
			}
			if fb != tc.wantFB || l.def.leaseCap != tc.wantCap {
				t.Fatalf("fallback %v cap %d, want %v and %d", fb, l.def.leaseCap, tc.wantFB, tc.wantCap)
			}
		})
	}
}

func TestClusterCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ClusterConfig)
		want   string
	}{
		{"no gateways", func(c *ClusterConfig) { c.Gateways = 0 }, "gateways"},
		{"lease min above max", func(c *ClusterConfig) { c.LeaseMin = 10; c.LeaseMax = 5 }, "lease sizes"},
		{"no ttl", func(c *ClusterConfig) { c.LeaseTTL = 0 }, "ttl"},
		{"no leaser", func(c *ClusterConfig) { c.Leaser = nil }, "no leaser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore()
			t.Cleanup(s.Close)
			tb, err := s.Table(t.Name(), 100)
			if err != nil {
				t.Fatal(err)
			}
			c := clusterConfig(t, s, 3, 10)
			tc.change(c)
			_, err = NewLimit(tb, LimitConfig{Name: "api", Default: Windows{Minute: 60}, Thresholds: DefaultThresholds, Cluster: c})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "compile limit api") {
				t.Fatalf("error %v, want one naming the limit and %q", err, tc.want)
			}
		})
	}
}

// TestClusterFallbackShare: with the store down a cluster limit is the
// local limiter at 1/gateways of the rate.
func TestClusterFallbackShare(t *testing.T) {
	s := NewStore()
	t.Cleanup(s.Close)
	tb, err := s.Table("api", 100)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLimit(tb, LimitConfig{Name: "api", Default: Windows{Minute: 30}, Thresholds: DefaultThresholds, Cluster: clusterConfig(t, s, 3, 10)})
	if err != nil {
		t.Fatal(err)
	}
	now, allowed := int64(time.Hour), 0
	for range 20 {
		if l.Check(7, nil, now).Action <= Delay {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("allowed %d, want 30/3 = 10", allowed)
	}
}

// denyingLeaser is a Leaser that is up and whose shared limit refuses
// every lease, for wait: the client is over the cluster limit.
type denyingLeaser struct {
	now  *int64
	wait time.Duration
}

func (denyingLeaser) Up() bool { return true }
func (d denyingLeaser) Refill(s *LeaseSlot) bool {
	if a, ok := s.Ask(*d.now); ok {
		s.Grant(a, LeaseGrant{Wait: int64(d.wait)}, *d.now)
	}
	return true
}

// TestClusterBanThreshold: a client that the shared limit refuses is banned
// by a gateway only when that gateway's refusals reach the ban threshold of
// the whole limit (thresholds.ban 200%: as many refusals as the limit
// allows), as a local limit bans; a meter at the fallback share (limit /
// gateways) banned a client pinned to one gateway at 150% with two.
//
// With a short wait the requests alternate between the shared limit's
// refusal and the fallback (no lease at hand), which must charge the same
// meter at the same rate.
func TestClusterBanThreshold(t *testing.T) {
	for _, wait := range []time.Duration{time.Minute, 2 * time.Millisecond} {
		t.Run(wait.String(), func(t *testing.T) { testClusterBanThreshold(t, wait) })
	}
}

func testClusterBanThreshold(t *testing.T, wait time.Duration) {
	s := NewStore()
	t.Cleanup(s.Close)
	tb, err := s.Table("api", 100)
	if err != nil {
		t.Fatal(err)
	}
	now := int64(time.Hour)
	cc := clusterConfig(t, s, 2, 10)
	cc.Leaser = denyingLeaser{&now, wait}
	l, err := NewLimit(tb, LimitConfig{Name: "api", Default: Windows{Minute: 20}, Thresholds: DefaultThresholds, BurstBan: true, Cluster: cc})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := range 100 {
		now += int64(time.Millisecond)
		switch l.Check(7, nil, now).Action {
		case Reject:
			refused++
		case Ban:
			if refused < 20 {
				t.Fatalf("banned at request %d after %d refusals; want at least 20 (the limit)", i+1, refused)
			}
			return
		}
	}
	t.Fatalf("never banned after %d refusals", refused)
}
