package enforce

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func TestReasonNames(t *testing.T) {
	// The names are metric label values: changing one breaks dashboards.
	want := []string{"pass", "pass_allowlist", "pass_not_ip", "pass_malformed", "drop_blocklist", "drop_banned", "drop_burst"}
	for r := Reason(0); r < NumReasons; r++ {
		if r.String() != want[r] {
			t.Errorf("Reason(%d) = %q, want %q", r, r.String(), want[r])
		}
		if got := strings.HasPrefix(r.String(), "drop_"); got != r.Drop() {
			t.Errorf("%s.Drop() = %v", r, r.Drop())
		}
	}
	if NumReasons.String() != "unknown" {
		t.Errorf("out of range reason: %q", NumReasons.String())
	}
}

// stub is the smallest Enforcer: it serves fixed stats.
type stub struct {
	mode  string
	stats Stats
	err   error
	reads int
}

func (s *stub) ReplaceBlocklist([]netip.Prefix) error         { return nil }
func (s *stub) ApplyBlocklistDelta(_, _ []netip.Prefix) error { return nil }
func (s *stub) ReplaceAllowlist([]netip.Prefix) error         { return nil }
func (s *stub) Ban(netip.Prefix, time.Time) error             { return nil }
func (s *stub) Unban(netip.Prefix) error                      { return nil }
func (s *stub) Bans() ([]Ban, error)                          { return nil, nil }
func (s *stub) Stats() (Stats, error)                         { s.reads++; return s.stats, s.err }
func (s *stub) Mode() string                                  { return s.mode }
func (s *stub) Close() error                                  { return nil }

func scrape(set *metrics.Set) string {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	return b.String()
}

func TestRegisterMetrics(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		want    []string
		notWant []string
	}{
		{"xdp", ModeNative, []string{
			`edgeguard_xdp_packets_total{verdict="drop_blocklist"} 7`,
			`edgeguard_xdp_bytes_total{verdict="drop_blocklist"} 420`,
			`edgeguard_xdp_packets_total{verdict="pass"} 3`,
			`edgeguard_enforcer_mode{mode="native"} 1`,
			`edgeguard_enforcer_fallback_active 0`,
			`edgeguard_enforcer_map_writes_total{path="batch"} 100`,
			`edgeguard_enforcer_map_writes_total{path="element"} 2`,
			`edgeguard_xdp_burst_kernel_bans_total 5`,
			`edgeguard_xdp_burst_ban_failures_total 1`,
			`edgeguard_xdp_burst_events_lost_total 0`,
		}, []string{"connfilter"}},
		{"userspace", ModeUserspace, []string{
			`edgeguard_connfilter_connections_total{verdict="drop_blocklist"} 7`,
			`edgeguard_enforcer_mode{mode="userspace"} 1`,
			`edgeguard_enforcer_fallback_active 1`,
		}, []string{"edgeguard_xdp_"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &stub{mode: tc.mode}
			e.stats.Verdicts[ReasonDropBlocklist] = Counter{7, 420}
			e.stats.Verdicts[ReasonPass] = Counter{3, 180}
			e.stats.BatchWrites, e.stats.ElementWrites = 100, 2
			e.stats.BurstBans, e.stats.BurstBanFailures = 5, 1
			set := metrics.NewSet()
			RegisterMetrics(set, e)
			out := scrape(set)
			for _, w := range tc.want {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("missing %q in:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("unexpected %q in:\n%s", w, out)
				}
			}
		})
	}
}

func TestBurstValidate(t *testing.T) {
	ok := Burst{On: true, SYNRate: 50, SYNBurst: 200, PacketRate: 1e4, PacketBurst: 2e4, BanFor: time.Minute,
		IPv6Prefix: 64, MaxSources: 1024}
	tests := []struct {
		name   string
		change func(*Burst)
		err    string
	}{
		{"valid", func(*Burst) {}, ""},
		{"off needs no ban duration", func(b *Burst) { b.On, b.BanFor = false, 0 }, ""},
		{"syn rate 0 needs no burst", func(b *Burst) { b.SYNRate, b.SYNBurst = 0, 0 }, ""},
		{"negative rate", func(b *Burst) { b.PacketRate = -1 }, "rates must be >= 0"},
		{"zero burst", func(b *Burst) { b.SYNBurst = 0 }, "bursts must be >= 1"},
		{"burst shorter than 10ms", func(b *Burst) { b.PacketBurst = 100 }, "at least 10ms at its rate (burst >= rate/100 + 1)"},
		{"no ban duration", func(b *Burst) { b.BanFor = 0 }, "ban duration"},
		{"prefix too short", func(b *Burst) { b.IPv6Prefix = 31 }, "IPv6 prefix must be 32-128"},
		{"no sources", func(b *Burst) { b.MaxSources = 0 }, "max sources"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := ok
			tc.change(&b)
			err := b.Validate()
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.err)
			}
		})
	}
}

func TestMetricsReadOncePerScrapeAndKeepLastOnError(t *testing.T) {
	e := &stub{mode: ModeGeneric}
	e.stats.Verdicts[ReasonDropBanned] = Counter{5, 300}
	set := metrics.NewSet()
	RegisterMetrics(set, e)
	scrape(set)
	scrape(set) // within statsMaxAge: cached
	if e.reads != 1 {
		t.Fatalf("Stats read %d times for two quick scrapes, want 1", e.reads)
	}
	e.err = errors.New("map gone")
	e.stats = Stats{}
	statsMaxAge = 0
	t.Cleanup(func() { statsMaxAge = 500 * time.Millisecond })
	out := scrape(set)
	if e.reads != 2 {
		t.Fatalf("Stats read %d times, want 2", e.reads)
	}
	if !strings.Contains(out, `edgeguard_xdp_packets_total{verdict="drop_banned"} 5`) {
		t.Errorf("last good value lost after a failed read:\n%s", out)
	}
	if !strings.Contains(out, "edgeguard_enforcer_stats_errors_total 1") {
		t.Errorf("failed read not counted:\n%s", out)
	}
}

func TestBanSource(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "192.0.2.7/32", want: "192.0.2.7/32"},
		{in: "::ffff:192.0.2.7/128", want: "192.0.2.7/32"},
		{in: "2001:db8::7/128", want: "2001:db8::7/128"},
		{in: "2001:db8:1:2:3:4:5:6/64", want: "2001:db8:1:2::/64"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "192.0.2.0/24", err: "IPv4 bans are per address"},
		{in: "::ffff:192.0.2.0/120", err: "IPv4 bans are per address"},
		{in: "::ffff:0.0.0.0/80", err: "IPv4-mapped prefix shorter than /96"},
		{in: "2001:db8::/31", err: "IPv6 bans cover /32 or longer"},
		{in: "::/0", err: "IPv6 bans cover /32 or longer"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := BanSource(netip.MustParsePrefix(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.in) {
					t.Errorf("BanSource(%s) = %v, %v; want an error naming it with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Errorf("BanSource(%s) = %v, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := BanSource(netip.Prefix{}); err == nil {
		t.Error("the zero prefix was accepted")
	}
	for in, want := range map[string]string{
		"192.0.2.7": "192.0.2.7/32", "::ffff:192.0.2.7": "192.0.2.7/32", "2001:db8::9": "2001:db8::9/128",
		"2001:db8:1:2::5/64": "2001:db8:1:2::/64", "fe80::1%eth0": "", "nope": "", "10.0.0.0/8": "", "2001:db8::/300": "",
	} {
		got, err := ParseBanSource(in)
		if (want == "") != (err != nil) || (err == nil && got.String() != want) || (err != nil && !strings.Contains(err.Error(), in)) {
			t.Errorf("ParseBanSource(%q) = %v, %v; want %q", in, got, err, want)
		}
	}
	if h := Host(netip.MustParseAddr("::ffff:10.0.0.1")); h.String() != "10.0.0.1/32" {
		t.Errorf("Host = %v", h)
	}
}
