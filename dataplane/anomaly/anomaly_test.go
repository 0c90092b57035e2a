package anomaly

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/secevent"
)

// clock is the injectable clock: tests move it, nothing sleeps.
type clock struct{ t time.Time }

func (c *clock) now() time.Time         { return c.t }
func (c *clock) add(d time.Duration)    { c.t = c.t.Add(d) }
func newClock() *clock                  { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func ip(s string) netip.Addr            { return netip.MustParseAddr(s) }
func (h *harness) events() []string     { return h.got }
func (h *harness) count(typ string) int { return strings.Count(strings.Join(h.got, "\n"), typ+" ") }

// step drains at the current time, moves the clock and evaluates.
func (h *harness) step(d time.Duration)  { h.d.Step(); h.clk.add(d); h.d.Step() }
func (h *harness) route(n string) *Route { return h.d.Route(n, h.cfg) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fakeBanner struct{ bans []netip.Prefix }

func (f *fakeBanner) Ban(src netip.Prefix, _ time.Time) error {
	f.bans = append(f.bans, src)
	return nil
}

// harness is a manual Detector whose events are kept as "type route client detail" lines.
type harness struct {
	d   *Detector
	clk *clock
	cfg *Config
	ban *fakeBanner
	got []string
}

// testConfig is the shipped defaults with every detector on, fast windows.
func testConfig() *Config {
	return &Config{
		Interval: time.Second, Baseline: 5 * time.Minute, BanFor: time.Minute, IPv6Prefix: 64,
		Stuffing: StuffingConfig{On: true, Window: time.Minute, Warmup: 5 * time.Minute, Factor: 10, MinFailures: 30,
			BanMinFailures: 10, MaxSources: 1024},
		Enumeration: EnumerationConfig{On: true, Window: time.Minute, Threshold: 100, Infer: true, MaxKeys: 1024,
			Patterns: []string{"/shop/{shop}/orders/{order}"}},
		Probing: ProbingConfig{On: true, Window: time.Minute, Threshold: 50, MaxSources: 1024},
		Admin:   AdminConfig{On: true, Routes: []string{"admin"}, Warmup: time.Minute, MaxSources: 1024},
		Methods: MethodsConfig{On: true, Warmup: time.Minute, Declared: map[string][]string{"orders": {"GET", "POST"}}},
	}
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(cfg)
	}
	if err := cfg.Compile(); err != nil {
		t.Fatal(err)
	}
	h := &harness{clk: newClock(), cfg: cfg, ban: &fakeBanner{}}
	h.d = New(Options{Now: h.clk.now, Manual: true, Banner: h.ban, Log: quiet})
	h.d.report = func(e *secevent.Event) {
		h.got = append(h.got, fmt.Sprintf("%s %s %v %s", e.Type, e.Route, e.ClientIP, e.Detail))
	}
	t.Cleanup(h.d.Close)
	return h
}

// TestCredentialStuffing: a jump of 401/403 far above the route's baseline
// alerts once; the same volume answered 200, an attack inside warm-up, and
// failures at the route's usual rate do not.
func TestCredentialStuffing(t *testing.T) {
	cases := []struct {
		name       string
		usualFails int // 401s per second before the burst, baseline traffic
		warmup     time.Duration
		burst      int // status of the burst requests
		want       int
	}{
		{"attack", 0, 5 * time.Minute, 401, 1},
		{"benign same volume", 0, 5 * time.Minute, 200, 0},
		{"attack in warm-up", 0, time.Hour, 401, 0},
		{"403 counts too", 0, 5 * time.Minute, 403, 1},
		{"failures at the usual rate", 20, 5 * time.Minute, 401, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Stuffing.Warmup = tc.warmup })
			rt := h.route("login")
			// 10 minutes of ordinary traffic: 20 requests/s, some failing.
			for s := 0; s < 600; s++ {
				for i := 0; i < 20; i++ {
					status := 200
					if i < tc.usualFails {
						status = 401
					}
					rt.Observe([]byte("POST"), status, ip("192.0.2.1"), "", []byte("/login"))
				}
				h.step(time.Second)
			}
			if n := len(h.events()); n != 0 {
				t.Fatalf("alerts before the burst: %v", h.events())
			}
			// Two minutes of 20 requests/s from many sources with the burst's status.
			for s := 0; s < 120; s++ {
				for i := 0; i < 20; i++ {
					rt.Observe([]byte("POST"), tc.burst, netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), "", []byte("/login"))
				}
				h.step(time.Second)
			}
			if got := h.count("anomaly_credential_stuffing"); got != tc.want {
				t.Fatalf("%d alerts, want %d: %v", got, tc.want, h.events())
			}
		})
	}
}

// TestStuffingAlertsAgainAfterQuiet: once the failures stop, a new attack
// is a new alert; and with ban on, sources over ban_min_failures are banned.
func TestStuffingAlertsAgainAfterQuiet(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Stuffing.Warmup = time.Minute; c.Stuffing.Ban = true })
	rt := h.route("login")
	for s := 0; s < 120; s++ { // warm-up with ordinary traffic
		rt.Observe([]byte("POST"), 200, ip("192.0.2.1"), "", []byte("/login"))
		h.step(time.Second)
	}
	attack := func() {
		for s := 0; s < 30; s++ {
			rt.Observe([]byte("POST"), 401, ip("203.0.113.9"), "", []byte("/login")) // 30: over ban_min_failures
			rt.Observe([]byte("POST"), 401, ip("203.0.113.10"), "", []byte("/login"))
			h.step(time.Second)
		}
	}
	attack()
	h.step(3 * time.Minute) // quiet
	attack()
	if got := h.count("anomaly_credential_stuffing"); got != 2 {
		t.Fatalf("%d alerts, want 2: %v", got, h.events())
	}
	if len(h.ban.bans) < 2 || h.ban.bans[0] != netip.MustParsePrefix("203.0.113.9/32") {
		t.Fatalf("bans %v, want both failing sources", h.ban.bans)
	}
}

// TestBaselineFollowsRate: the baseline is the running mean during
// warm-up, then an exponentially weighted rate with the configured time
// constant, for the total and each status class.
func TestBaselineFollowsRate(t *testing.T) {
	h := newHarness(t, nil)
	rt := h.route("api")
	for range 30 { // idle before its first request: not part of the baseline
		h.step(10 * time.Second)
	}
	for s := 0; s < 300; s++ { // warm-up: 10/s, of which 1/s 404
		for i := 0; i < 10; i++ {
			st := 200
			if i == 0 {
				st = 404
			}
			rt.Observe([]byte("GET"), st, ip("192.0.2.1"), "", []byte("/a"))
		}
		h.step(time.Second)
	}
	rs := rt.state
	if got := rs.rate[classTotal]; math.Abs(got-10) > 0.01 {
		t.Fatalf("baseline after warm-up %.3f/s, want 10", got)
	}
	if got := rs.rate[class4xx]; math.Abs(got-1) > 0.01 {
		t.Fatalf("4xx baseline %.3f/s, want 1", got)
	}
	for s := 0; s < 300; s++ { // one time constant at 20/s: ~63% of the way
		for i := 0; i < 20; i++ {
			rt.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/a"))
		}
		h.step(time.Second)
	}
	want := 10 + 10*(1-math.Exp(-1))
	if got := rs.rate[classTotal]; math.Abs(got-want) > 0.1 {
		t.Fatalf("baseline after one time constant %.3f/s, want %.3f", got, want)
	}
}

// TestEnumeration: one client or identity walking many IDs of one pattern
// alerts once per attack; as many requests over a few IDs, or spread over
// clients, do not.
func TestEnumeration(t *testing.T) {
	cases := []struct {
		name  string
		path  func(i int) string
		who   func(i int) (netip.Addr, string)
		want  int
		match string
	}{
		{"numeric walk", func(i int) string { return fmt.Sprintf("/customers/%d", 1000+i) }, one, 1, "/customers/{id}"},
		{"uuid walk", func(i int) string { return fmt.Sprintf("/v1/docs/%08x-0000-4000-8000-000000000000/raw", i) }, one, 1, "/v1/docs/{id}/raw"},
		{"declared pattern", func(i int) string { return fmt.Sprintf("/shop/acme/orders/o%d", i) }, one, 1, "/shop/{shop}/orders/{order}"},
		{"identity behind many addresses", func(i int) string { return fmt.Sprintf("/customers/%d", i) },
			func(i int) (netip.Addr, string) {
				return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), "key-7"
			}, 1, "/customers/{id}"},
		{"ipv6 client rotating in its /64", func(i int) string { return fmt.Sprintf("/customers/%d", i) },
			func(i int) (netip.Addr, string) {
				return netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 15: byte(i)}), ""
			}, 1, "/customers/{id}"},
		{"benign: few IDs", func(i int) string { return fmt.Sprintf("/customers/%d", i%5) }, one, 0, ""},
		{"benign: many clients one ID each", func(i int) string { return fmt.Sprintf("/customers/%d", i) },
			func(i int) (netip.Addr, string) { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), "" }, 0, ""},
		{"benign: no ID segments", func(i int) string { return fmt.Sprintf("/search/q%d", i) }, one, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			rt := h.route("api")
			for i := 0; i < 300; i++ { // 300 requests in 30 s, twice: one alert
				c, id := tc.who(i % 150)
				rt.Observe([]byte("GET"), 200, c, id, []byte(tc.path(i%150)))
				if i%10 == 0 {
					h.step(time.Second)
				}
			}
			h.d.Step()
			if got := h.count("anomaly_enumeration"); got != tc.want {
				t.Fatalf("%d alerts, want %d: %v", got, tc.want, h.events())
			}
			if tc.want > 0 && !strings.Contains(h.events()[0], tc.match) {
				t.Errorf("event %q lacks the pattern %s", h.events()[0], tc.match)
			}
		})
	}
}

func one(int) (netip.Addr, string) { return ip("192.0.2.7"), "" }

// TestEnumerationWindows: an attack that goes on through several windows
// alerts once; after a quiet window, again.
func TestEnumerationWindows(t *testing.T) {
	h := newHarness(t, nil)
	rt := h.route("api")
	id := 0
	walk := func(minutes int) {
		for s := 0; s < 60*minutes; s++ {
			for i := 0; i < 3; i++ { // 180 IDs a minute
				id++
				rt.Observe([]byte("GET"), 200, ip("192.0.2.7"), "", []byte(fmt.Sprintf("/customers/%d", id)))
			}
			h.step(time.Second)
		}
	}
	walk(3)
	if got := h.count("anomaly_enumeration"); got != 1 {
		t.Fatalf("%d alerts during a 3 minute walk, want 1: %v", got, h.events())
	}
	h.step(3 * time.Minute)
	walk(1)
	if got := h.count("anomaly_enumeration"); got != 2 {
		t.Fatalf("%d alerts after a pause and a new walk, want 2: %v", got, h.events())
	}
}

// TestProbing: one source's 404s past the threshold alert once (and ban,
// when asked, the source's /64 for IPv6); 200s of the same volume do not.
func TestProbing(t *testing.T) {
	cases := []struct {
		name   string
		status int
		client string
		want   int
		ban    string
	}{
		{"404 flood", 404, "192.0.2.8", 1, "192.0.2.8/32"},
		{"ipv6 404 flood", 404, "2001:db8:1:2::99", 1, "2001:db8:1:2::/64"},
		{"benign same volume", 200, "192.0.2.8", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Probing.Ban = true })
			unrouted := h.route("")
			for i := 0; i < 200; i++ {
				unrouted.Observe([]byte("GET"), tc.status, ip(tc.client), "", []byte(fmt.Sprintf("/wp-admin/x%d.php", i)))
				if i%20 == 0 {
					h.step(time.Second)
				}
			}
			h.d.Step()
			if got := h.count("anomaly_probing"); got != tc.want {
				t.Fatalf("%d alerts, want %d: %v", got, tc.want, h.events())
			}
			if tc.ban != "" && (len(h.ban.bans) != 1 || h.ban.bans[0].String() != tc.ban) {
				t.Fatalf("bans %v, want %s", h.ban.bans, tc.ban)
			}
		})
	}
}

// TestAdminFirstSeen: sources seen during warm-up are learnt; each new one
// after it alerts once however often it comes back; other routes never.
func TestAdminFirstSeen(t *testing.T) {
	h := newHarness(t, nil)
	admin, api := h.route("admin"), h.route("api")
	admin.Observe([]byte("GET"), 200, ip("192.0.2.1"), "ops", []byte("/admin/status"))
	h.step(2 * time.Minute) // warm-up over
	for i := 0; i < 50; i++ {
		admin.Observe([]byte("GET"), 200, ip("192.0.2.1"), "ops", []byte("/admin/status"))
		api.Observe([]byte("GET"), 200, ip("203.0.113.5"), "", []byte("/api"))
		admin.Observe([]byte("GET"), 401, ip("203.0.113.66"), "", []byte("/admin/users"))
	}
	h.d.Step()
	if got := h.count("anomaly_admin_first_seen"); got != 1 || !strings.Contains(h.events()[0], "203.0.113.66") {
		t.Fatalf("%d alerts, want 1 for 203.0.113.66: %v", got, h.events())
	}
}

// TestUnusualMethod: a method a route never saw in warm-up, or outside its
// declared set, alerts once per route and method.
func TestUnusualMethod(t *testing.T) {
	h := newHarness(t, nil)
	items, orders := h.route("items"), h.route("orders")
	items.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/items"))
	items.Observe([]byte("POST"), 201, ip("192.0.2.1"), "", []byte("/items"))
	h.step(2 * time.Minute)
	for i := 0; i < 20; i++ {
		items.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/items"))
		items.Observe([]byte("POST"), 200, ip("192.0.2.1"), "", []byte("/items"))
		orders.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/orders"))
	}
	h.d.Step()
	if len(h.events()) != 0 {
		t.Fatalf("alerts for usual methods: %v", h.events())
	}
	for i := 0; i < 20; i++ {
		items.Observe([]byte("DELETE"), 200, ip("192.0.2.9"), "", []byte("/items/1"))
		items.Observe([]byte("PROPFIND"), 405, ip("192.0.2.9"), "", []byte("/items"))
		orders.Observe([]byte("PUT"), 200, ip("192.0.2.9"), "", []byte("/orders"))
	}
	h.d.Step()
	want := []string{"DELETE never seen", "PROPFIND never seen", "PUT not declared"}
	if len(h.events()) != len(want) {
		t.Fatalf("alerts %v, want %v", h.events(), want)
	}
	for i, w := range want {
		if !strings.Contains(h.events()[i], w) {
			t.Errorf("alert %q, want %q", h.events()[i], w)
		}
	}
}

// TestTableBounded: a table never holds more than its capacity; the oldest
// key goes first.
func TestTableBounded(t *testing.T) {
	tb := newTable[int, int](4)
	for k := 0; k < 10; k++ {
		v, added := tb.get(k)
		if !added {
			t.Fatalf("key %d not new", k)
		}
		*v = k
	}
	if tb.len() != 4 || len(tb.idx) != 4 {
		t.Fatalf("%d keys, want 4", tb.len())
	}
	for k := 6; k < 10; k++ {
		if v, added := tb.get(k); added || *v != k {
			t.Fatalf("key %d: added %v value %d; the 4 newest must stay", k, added, *v)
		}
	}
	if _, added := tb.get(0); !added {
		t.Fatal("oldest key kept")
	}
}

// TestSketchAccuracy: the distinct-ID estimate is within 5% up to
// MaxThreshold, exact enough for small counts.
func TestSketchAccuracy(t *testing.T) {
	for _, n := range []int{1, 10, 100, 500, MaxThreshold} {
		var s sketch
		for i := 0; i < n; i++ {
			s.add(fnvAdd(fnvOffset, []byte(fmt.Sprint(i))))
			s.add(fnvAdd(fnvOffset, []byte(fmt.Sprint(i)))) // repeats do not count
		}
		if got := s.estimate(); math.Abs(got-float64(n)) > 0.05*float64(n)+1 {
			t.Errorf("%d distinct: estimate %.1f", n, got)
		}
	}
}

func TestConfigCompile(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"valid", func(*Config) {}, ""},
		{"pattern without id", func(c *Config) { c.Enumeration.Patterns = []string{"/customers"} }, "no {id}"},
		{"pattern half brace", func(c *Config) { c.Enumeration.Patterns = []string{"/c/x{id}"} }, "whole {name}"},
		{"pattern relative", func(c *Config) { c.Enumeration.Patterns = []string{"c/{id}"} }, "must start with /"},
		{"threshold over sketch", func(c *Config) { c.Enumeration.Threshold = 5000 }, "threshold"},
		{"unknown declared method", func(c *Config) { c.Methods.Declared = map[string][]string{"r": {"FETCH"}} }, "FETCH"},
		{"window too many intervals", func(c *Config) { c.Stuffing.Window = time.Hour }, "intervals"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.mod(c)
			err := c.Compile()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestDropWhenFull: a full ring drops and counts, never blocks.
func TestDropWhenFull(t *testing.T) {
	d := New(Options{Manual: true, Buffer: 16})
	rt := d.Route("api", testConfig())
	for i := 0; i < 20; i++ {
		rt.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/a"))
	}
	if d.Dropped() != 4 {
		t.Fatalf("dropped %d, want 4", d.Dropped())
	}
	var nilRoute *Route
	nilRoute.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/a")) // detection off
}

// TestGoroutine: the running detector drains and evaluates on its own.
func TestGoroutine(t *testing.T) {
	cfg := testConfig()
	cfg.Interval = 10 * time.Millisecond
	cfg.Stuffing.Window = time.Second
	cfg.Admin.Warmup = 0
	if err := cfg.Compile(); err != nil {
		t.Fatal(err)
	}
	got := make(chan *secevent.Event, 1)
	d := New(Options{Log: quiet})
	d.report = func(e *secevent.Event) { got <- e }
	defer d.Close()
	d.Route("admin", cfg).Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/admin"))
	select {
	case e := <-got:
		if e.Type != secevent.AnomalyAdminFirstSeen {
			t.Fatalf("event %v", e.Type)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event from the detector goroutine")
	}
}
