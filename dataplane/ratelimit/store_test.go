package ratelimit

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

type otherState struct{ x int64 }

func (o *otherState) IdleAt() int64 { return o.x }

func TestStoreTables(t *testing.T) {
	s := NewStore()
	defer s.Close()
	a, err := s.Table("api@r1", 10)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLimit(a, LimitConfig{Name: "api", Default: Windows{Minute: 2}, Thresholds: DefaultThresholds})
	l.Check(7, nil, 0)
	l.Check(7, nil, 0)

	// A later policy asking for the same id gets the same buckets, with the
	// new bound and possibly new rates.
	b, err := s.Table("api@r1", 20)
	if err != nil {
		t.Fatal(err)
	}
	if b.kt != a.kt || b.kt.MaxKeys() != 20 {
		t.Fatal("same id did not return the same table with the new bound")
	}
	l2, _ := NewLimit(b, LimitConfig{Name: "api", Default: Windows{Minute: 4}, Thresholds: DefaultThresholds})
	if res := l2.Check(7, nil, 0); res.Action != Reject {
		t.Fatalf("after a reload retuning 2/min to 4/min, a client that used 100%% of 2/min is %v, want rejected (usage is kept as a fraction)", res.Action)
	}
	if _, err := TableOf[otherState](s, "api@r1", 10); err == nil || !strings.Contains(err.Error(), "another kind of state") {
		t.Fatalf("reusing an id for another state type: %v", err)
	}
	s.Drop("api@r1")
	c, _ := s.Table("api@r1", 10)
	if c.kt == a.kt {
		t.Fatal("a dropped table came back")
	}
}

func TestStoreSweepAndMetrics(t *testing.T) {
	s := NewStore()
	defer s.Close()
	tb, _ := s.Table("sweep-test", 100)
	l, _ := NewLimit(tb, LimitConfig{Name: "sweep", Default: Windows{Second: 5}, Thresholds: DefaultThresholds})
	for k := uint64(1); k <= 30; k++ {
		l.Check(k<<20, nil, int64(time.Hour))
	}
	if n := s.Sweep(int64(time.Hour)); n != 0 {
		t.Fatalf("swept %d busy buckets", n)
	}
	var sb strings.Builder
	metrics.WritePrometheus(&sb, false)
	if !strings.Contains(sb.String(), `edgeguard_ratelimit_tracked_keys{table="sweep-test"} 30`) {
		t.Fatalf("tracked keys gauge missing:\n%s", grep(sb.String(), "sweep-test"))
	}
	if n := s.Sweep(int64(time.Hour + 3*time.Second)); n != 30 {
		t.Fatalf("swept %d, want all 30 idle buckets", n)
	}
	sb.Reset()
	metrics.WritePrometheus(&sb, false)
	out := sb.String()
	if !strings.Contains(out, `edgeguard_ratelimit_tracked_keys{table="sweep-test"} 0`) ||
		!strings.Contains(out, `edgeguard_ratelimit_evictions_total{table="sweep-test",kind="idle"} 30`) {
		t.Fatalf("metrics after sweep:\n%s", grep(out, "sweep-test"))
	}
	s.Drop("sweep-test")
	sb.Reset()
	metrics.WritePrometheus(&sb, false)
	if strings.Contains(sb.String(), "sweep-test") {
		t.Fatal("metrics of a dropped table remain")
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestKeysAreDistinct(t *testing.T) {
	s := NewStore()
	defer s.Close()
	seen := map[uint64]string{}
	add := func(k uint64, what string) {
		t.Helper()
		if prev, dup := seen[k]; dup {
			t.Fatalf("%s and %s share key %x", what, prev, k)
		}
		seen[k] = what
	}
	for i := 0; i < 1000; i++ {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		add(s.IPKey(a, 64), a.String())
		v6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, byte(i >> 8), byte(i)})
		add(s.IPKey(v6, 64), v6.String())
		add(s.StringKey("key:"+a.String()), "key:"+a.String())
	}
	add(s.IPKey(netip.MustParseAddr("::a00:1"), 128), "::a00:1") // vs 10.0.0.1
	r := &pipeline.Request{ClientIP: netip.MustParseAddr("10.0.0.1")}
	if s.Key(r, 64) != s.IPKey(r.ClientIP, 64) {
		t.Fatal("anonymous key is not the IP key")
	}
	r.Principal = &pipeline.Principal{RateKey: "jwt:x"}
	if s.Key(r, 64) != s.StringKey("jwt:x") {
		t.Fatal("principal key is not its RateKey's")
	}
	s2 := NewStore()
	defer s2.Close()
	if s2.IPKey(r.ClientIP, 64) == s.IPKey(r.ClientIP, 64) {
		t.Fatal("two stores share a seed")
	}
}

func TestMaskHigh(t *testing.T) {
	tests := []struct {
		name           string
		n              int
		hi, lo, wh, wl uint64
	}{
		{"zero bits", 0, ^uint64(0), ^uint64(0), 0, 0},
		{"/48", 48, ^uint64(0), ^uint64(0), 0xffffffffffff0000, 0},
		{"/64", 64, ^uint64(0), ^uint64(0), ^uint64(0), 0},
		{"/96", 96, ^uint64(0), ^uint64(0), ^uint64(0), 0xffffffff00000000},
		{"/128", 128, ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if h, l := maskHigh(tc.hi, tc.lo, tc.n); h != tc.wh || l != tc.wl {
				t.Fatalf("maskHigh = %x:%x, want %x:%x", h, l, tc.wh, tc.wl)
			}
		})
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	s := NewStore()
	s.Table("x", 1)
	s.Close()
	s.Close()
	if len(s.TableIDs()) != 0 {
		t.Fatal("tables left after Close")
	}
}
