package ratelimit

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/keytable"
)

// TestGraduatedResponse walks one client through every threshold of a
// 10/s limit at a frozen clock: 8 pass, 2 are delayed (growing), then 429
// with Retry-After, and once refusals reach another 100% of the limit
// (200% in total) the connection is closed and the source banned once.
func TestGraduatedResponse(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "api", Default: Windows{Second: 10}, BurstBan: true, MaxDelay: 100 * time.Millisecond})
	var got []Action
	var delays []time.Duration
	for i := 0; i < 23; i++ {
		o := f.do()
		got = append(got, o.action())
		if o.action() == Delay {
			delays = append(delays, o.delay)
		}
		if o.action() == Reject {
			if o.retryAfter != "1" || o.reason != pipeline.ReasonRateLimited || o.detail != "api/second" {
				t.Fatalf("request %d: 429 with Retry-After %q reason %v detail %q", i+1, o.retryAfter, o.reason, o.detail)
			}
		}
		if o.action() == Ban && (o.reason != pipeline.ReasonBurstBanned || o.status == 429) {
			t.Fatalf("request %d: close with reason %v status %d", i+1, o.reason, o.status)
		}
	}
	want := []Action{
		Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, // <= 80%
		Delay, Delay, // 90%, 100%
		Reject, Reject, Reject, Reject, Reject, Reject, Reject, Reject, Reject, Reject, // 10 refusals: 200% of attempts
		Ban, Ban, Ban,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("request %d: %v, want %v\nall: %v", i+1, got[i], want[i], got)
		}
	}
	if len(delays) != 2 || delays[0] != 50*time.Millisecond || delays[1] != 100*time.Millisecond {
		t.Fatalf("delays %v, want [50ms 100ms] (growing to max_delay at 100%%)", delays)
	}
	if n := f.enf.bans.Load(); n != 1 {
		t.Fatalf("Ban called %d times for 3 burst requests, want once", n)
	}
	bans, _ := f.enf.Bans()
	if len(bans) != 1 || bans[0].Source != netip.MustParsePrefix("192.0.2.1/32") {
		t.Fatalf("bans %v, want 192.0.2.1", bans)
	}
	if want := f.store.Epoch().Add(f.now + time.Minute); !bans[0].Until.Equal(want) {
		t.Fatalf("ban until %v, want %v", bans[0].Until, want)
	}
}

func TestMultiWindowExactAccounting(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "l", Default: Windows{Second: 2, Minute: 3}, MaxDelay: 0})
	steps := []struct {
		name       string
		at         time.Duration // since the first request
		want       Action
		retryAfter string
		detail     string
	}{
		{"first", 0, Allow, "", ""},
		{"second", 0, Allow, "", ""},
		{"third refused by the second window", 0, Reject, "1", "l/second"},
		{"a second later: the minute's last token", time.Second, Allow, "", ""},
		{"then the minute window refuses", time.Second, Reject, "19", "l/minute"},
		{"the refusal refunded the second window", time.Second, Reject, "19", "l/minute"},
		{"minute token back after 20s", 20 * time.Second, Allow, "", ""},
		{"and only one", 20 * time.Second, Reject, "20", "l/minute"},
	}
	start := f.now
	for _, s := range steps {
		f.now = start + s.at
		o := f.do()
		if o.action() != s.want || o.retryAfter != s.retryAfter || (s.detail != "" && o.detail != s.detail) {
			t.Fatalf("%s: %v Retry-After %q detail %q, want %v %q %q", s.name, o.action(), o.retryAfter, o.detail, s.want, s.retryAfter, s.detail)
		}
	}
}

// TestRefusedRequestsConsumeNothing: a client that hammers far past its
// limit and then backs off gets its quota back on schedule (tyk#1876 is
// the counter-example: there, refusals kept draining the bucket).
func TestRefusedRequestsConsumeNothing(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "l", Default: Windows{Minute: 6}, Thresholds: Thresholds{Delay: 100, Reject: 100, Ban: 10000}})
	for i := 0; i < 6; i++ {
		if a := f.do().action(); a != Allow {
			t.Fatalf("request %d: %v", i, a)
		}
	}
	for i := 0; i < 1000; i++ {
		f.now += 5 * time.Millisecond
		if a := f.do().action(); a != Reject {
			t.Fatalf("hammering: %v", a)
		}
	}
	// 5s of hammering; the first token is back 10s after the burst.
	f.now = time.Hour + 10*time.Second
	if a := f.do().action(); a != Allow {
		t.Fatalf("after backing off until a token is due: %v, want allowed", a)
	}
	f.now = time.Hour + 60*time.Second
	n := 0
	for f.do().action() == Allow {
		n++
	}
	if n != 5 {
		t.Fatalf("a minute after the burst %d requests pass, want the 5 tokens not yet used", n)
	}
}

func TestMultiLimitRefund(t *testing.T) {
	f := newFixture(t, fixtureOpts{},
		LimitConfig{Name: "wide", Default: Windows{Second: 5}},
		LimitConfig{Name: "narrow", Default: Windows{Second: 2}})
	for i := 0; i < 2; i++ {
		f.do()
	}
	for i := 0; i < 10; i++ {
		if o := f.do(); o.action() != Reject || o.detail != "narrow/second" {
			t.Fatalf("refused by %q (%v), want narrow/second", o.detail, o.action())
		}
	}
	key := f.store.IPKey(netip.MustParseAddr("192.0.2.1"), 64)
	rem, _ := f.stage.limits[0].l.Remaining(key, nil, f.store.Now(f.store.Epoch().Add(f.now)))
	if rem != 3 {
		t.Fatalf("wide limit has %d left, want 3: refusals by narrow must refund it", rem)
	}
}

func TestVariants(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{
		Name:    "v",
		Default: Windows{Second: 2},
		Tiers:   map[string]Windows{"gold": {Second: 5}},
		Kinds:   map[pipeline.IdentityKind]Windows{pipeline.IdentityNone: {Second: 1}, pipeline.IdentityJWT: {Second: 3}},
	})
	tests := []struct {
		name string
		opt  reqOpt
		want int
	}{
		{"anonymous clients use the ip variant", from("198.51.100.7"), 1},
		{"api key without tier uses the default", as(&pipeline.Principal{Kind: pipeline.IdentityAPIKey, RateKey: "key:a"}), 2},
		{"jwt uses its kind variant", as(&pipeline.Principal{Kind: pipeline.IdentityJWT, RateKey: "jwt:a"}), 3},
		{"tier wins over kind, case-insensitively", as(&pipeline.Principal{Kind: pipeline.IdentityJWT, Tier: "Gold", RateKey: "jwt:b"}), 5},
		{"unknown tier falls back to the kind", as(&pipeline.Principal{Kind: pipeline.IdentityJWT, Tier: "tin", RateKey: "jwt:c"}), 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			for f.do(tc.opt).action() != Reject {
				n++
				if n > 100 {
					t.Fatal("never refused")
				}
			}
			if n != tc.want {
				t.Fatalf("%d requests passed, want %d", n, tc.want)
			}
		})
	}
}

func TestLimitOnlyForSomeTiers(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "free", Tiers: map[string]Windows{"free": {Second: 1}}})
	for i := 0; i < 5; i++ {
		if a := f.do(as(&pipeline.Principal{Kind: pipeline.IdentityAPIKey, Tier: "paid", RateKey: "key:p"})).action(); a != Allow {
			t.Fatalf("paid tier limited by a free-tier-only limit: %v", a)
		}
	}
	f.do(as(&pipeline.Principal{Kind: pipeline.IdentityAPIKey, Tier: "free", RateKey: "key:f"}))
	if a := f.do(as(&pipeline.Principal{Kind: pipeline.IdentityAPIKey, Tier: "free", RateKey: "key:f"})).action(); a != Reject {
		t.Fatalf("free tier second request: %v", a)
	}
}

func TestIdentityKeys(t *testing.T) {
	tests := []struct {
		name   string
		v6bits int
		a, b   reqOpt
		shared bool
	}{
		{"same /64 shares a limit", 64, from("2001:db8:1:2::1"), from("2001:db8:1:2:ffff::9"), true},
		{"next /64 does not", 64, from("2001:db8:1:2::1"), from("2001:db8:1:3::1"), false},
		{"/128 keys each address", 128, from("2001:db8:1:2::1"), from("2001:db8:1:2::2"), false},
		{"/48 aggregates wider", 48, from("2001:db8:1:2::1"), from("2001:db8:1:ffff::1"), true},
		{"ipv4 addresses are separate", 64, from("192.0.2.1"), from("192.0.2.2"), false},
		{"ipv4-mapped is ipv4", 64, from("192.0.2.1"), from("::ffff:192.0.2.1"), true},
		{"principal keys ignore the address", 64,
			func(r *pipeline.Request) { from("192.0.2.1")(r); as(&pipeline.Principal{Kind: 1, RateKey: "key:k"})(r) },
			func(r *pipeline.Request) {
				from("192.0.2.99")(r)
				as(&pipeline.Principal{Kind: 1, RateKey: "key:k"})(r)
			}, true},
		{"different principals on one address are separate", 64,
			as(&pipeline.Principal{Kind: 1, RateKey: "key:x"}), as(&pipeline.Principal{Kind: 1, RateKey: "key:y"}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{v6bits: tc.v6bits}, LimitConfig{Name: "k", Default: Windows{Minute: 1}})
			f.do(tc.a)
			shared := f.do(tc.b).action() == Reject
			if shared != tc.shared {
				t.Fatalf("second client refused = %v, want shared = %v", shared, tc.shared)
			}
		})
	}
}

func TestShadowMode(t *testing.T) {
	f := newFixture(t, fixtureOpts{headers: true}, LimitConfig{Name: "trial", Default: Windows{Second: 2}, Shadow: true, BurstBan: true, MaxDelay: time.Second})
	c := &f.stage.limits[0].c
	before := [numResults]uint64{}
	for i := range c {
		before[i] = c[i].Get()
	}
	var details []string
	for i := 0; i < 10; i++ {
		o := f.do()
		if o.action() != Allow {
			t.Fatalf("request %d: a shadow limit acted: %v", i, o.action())
		}
		if len(o.headers) != 0 {
			t.Fatalf("shadow limit advertised in headers: %v", o.headers)
		}
		details = append(details, o.detail)
	}
	if details[0] != "" || details[1] != "shadow: would be delayed by trial/second" || details[2] != "shadow: would be rejected by trial/second" || details[9] != "shadow: would be banned by trial/second" {
		t.Fatalf("access-log details %q", details)
	}
	got := func(i int) uint64 { return c[i].Get() - before[i] }
	if got(resAllowed) != 1 || got(resWouldDelay) != 1 || got(resWouldReject) != 2 || got(resWouldBan) != 6 || got(resRejected) != 0 {
		t.Fatalf("counters: allowed %d would_delay %d would_reject %d would_ban %d rejected %d",
			got(resAllowed), got(resWouldDelay), got(resWouldReject), got(resWouldBan), got(resRejected))
	}
	if f.enf.bans.Load() != 0 {
		t.Fatal("a shadow limit banned")
	}
}

func TestShadowConsumptionRefundedWhenEnforcedLimitRefuses(t *testing.T) {
	f := newFixture(t, fixtureOpts{},
		LimitConfig{Name: "shadow", Default: Windows{Second: 10}, Shadow: true},
		LimitConfig{Name: "real", Default: Windows{Second: 1}})
	for i := 0; i < 5; i++ {
		f.do()
	}
	key := f.store.IPKey(netip.MustParseAddr("192.0.2.1"), 64)
	if rem, _ := f.stage.limits[0].l.Remaining(key, nil, f.store.Now(f.store.Epoch().Add(f.now))); rem != 9 {
		t.Fatalf("shadow limit left %d, want 9: only the request that passed counts", rem)
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name    string
		headers bool
		n       int // requests before the checked one
		want    map[string]string
	}{
		{"off: nothing revealed", false, 0, map[string]string{}},
		{"on: first request", true, 0, map[string]string{
			"X-Ratelimit-Limit": "4", "X-Ratelimit-Remaining": "3", "X-Ratelimit-Reset": "1",
			"Ratelimit": `"h/second";r=3;t=1`, "Ratelimit-Policy": `"h/second";q=4;w=1, "h/hour";q=100;w=3600`,
		}},
		{"on: the most used window is reported", true, 3, map[string]string{
			"X-Ratelimit-Limit": "4", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1",
			"Ratelimit": `"h/second";r=0;t=1`, "Ratelimit-Policy": `"h/second";q=4;w=1, "h/hour";q=100;w=3600`,
		}},
		{"on: 429 carries them too", true, 4, map[string]string{
			"X-Ratelimit-Limit": "4", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1",
			"Ratelimit": `"h/second";r=0;t=1`, "Ratelimit-Policy": `"h/second";q=4;w=1, "h/hour";q=100;w=3600`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{headers: tc.headers}, LimitConfig{Name: "h", Default: Windows{Second: 4, Hour: 100}})
			for i := 0; i < tc.n; i++ {
				f.do()
			}
			o := f.do()
			if len(o.headers) != len(tc.want) {
				t.Fatalf("headers %v, want %v", o.headers, tc.want)
			}
			for k, v := range tc.want {
				if o.headers[k] != v {
					t.Fatalf("%s = %q, want %q", k, o.headers[k], v)
				}
			}
		})
	}
}

// TestHeadersOnRefusal: a 429 describes the window that refused it, with
// nothing remaining and the reset of Retry-After, whichever window is the
// most used otherwise (a refused request takes no token, so another window
// could read as having requests left).
func TestHeadersOnRefusal(t *testing.T) {
	f := newFixture(t, fixtureOpts{headers: true}, LimitConfig{Name: "t", Default: Windows{Second: 2, Minute: 5}})
	limits := map[string]string{"t/second": "2", "t/minute": "5"}
	refusals := map[string]int{}
	for i := 0; i < 40; i++ {
		o := f.do()
		f.now += 150 * time.Millisecond
		if o.status != 429 {
			continue
		}
		refusals[o.detail]++
		want := map[string]string{
			"X-Ratelimit-Limit": limits[o.detail], "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": o.retryAfter,
			"Ratelimit": `"` + o.detail + `";r=0;t=` + o.retryAfter,
		}
		for k, v := range want {
			if o.headers[k] != v {
				t.Fatalf("429 from %s: %s = %q, want %q (headers %v)", o.detail, k, o.headers[k], v, o.headers)
			}
		}
	}
	if refusals["t/second"] == 0 || refusals["t/minute"] == 0 {
		t.Fatalf("refusals by window %v: want both windows to refuse", refusals)
	}
}

func TestHeadersReportHourWhenItIsTheMostUsed(t *testing.T) {
	f := newFixture(t, fixtureOpts{headers: true}, LimitConfig{Name: "h", Default: Windows{Second: 100, Hour: 10}})
	for i := 0; i < 4; i++ {
		f.do()
	}
	o := f.do()
	if o.headers["X-Ratelimit-Limit"] != "10" || o.headers["X-Ratelimit-Remaining"] != "5" || o.headers["X-Ratelimit-Reset"] != strconv.Itoa(5*360) {
		t.Fatalf("headers %v: want the hour window (10, 5 left, full in 1800s)", o.headers)
	}
}

func TestDelayCap(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "d", Default: Windows{Second: 2}, MaxDelay: time.Second})
	f.store.SetMaxDelayed(0)
	before := delaySkipped.Get()
	f.do()
	if o := f.do(); o.delay != 0 || o.action() != Allow {
		t.Fatalf("over the delay cap: %v after %v, want passed at once", o.action(), o.delay)
	}
	if delaySkipped.Get() != before+1 {
		t.Fatal("skipped delay not counted")
	}
	if f.store.Delayed() != 0 {
		t.Fatalf("delayed gauge %d after the request", f.store.Delayed())
	}
}

func TestBurstBehindTrustedProxyGets429(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "p", Default: Windows{Second: 1}, BurstBan: true})
	var last outcome
	for i := 0; i < 5; i++ {
		last = f.do(from("203.0.113.5"), viaProxy("10.0.0.1"))
	}
	if last.verdict != pipeline.Done || last.status != 429 || last.retryAfter == "" {
		t.Fatalf("proxied burst: verdict %v status %d, want 429", last.verdict, last.status)
	}
	if f.enf.bans.Load() != 0 {
		t.Fatal("banned through a trusted proxy")
	}
}

// TestBurstNeverBansProxiesOrAllowlist: a trusted proxy's own requests
// (no readable client address: keyed on the proxy) and an allowlisted
// source get 429s when they burst; a ban of the proxy cut off every client
// behind it, and the allowlisted source's connections were closed.
func TestBurstNeverBansProxiesOrAllowlist(t *testing.T) {
	f := newFixture(t, fixtureOpts{
		trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")},
		allowed: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")},
	}, LimitConfig{Name: "p", Default: Windows{Second: 1}, BurstBan: true})
	for _, src := range []string{"10.0.0.1", "198.51.100.7"} {
		var last outcome
		for i := 0; i < 5; i++ {
			last = f.do(from(src))
		}
		if last.verdict != pipeline.Done || last.status != 429 || last.retryAfter == "" {
			t.Errorf("%s burst: verdict %v status %d, want 429", src, last.verdict, last.status)
		}
	}
	if f.enf.bans.Load() != 0 {
		t.Fatalf("%d bans, want none", f.enf.bans.Load())
	}
	// Anyone else is still banned.
	for i := 0; i < 5; i++ {
		f.do(from("203.0.113.9"))
	}
	if f.enf.bans.Load() != 1 {
		t.Fatalf("%d bans after another source's burst, want 1", f.enf.bans.Load())
	}
}

func TestBurstBanOff(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "nb", Default: Windows{Second: 1}, BurstBan: false})
	for i := 0; i < 10; i++ {
		if o := f.do(); o.verdict == pipeline.Close {
			t.Fatal("closed with burst_ban off")
		}
	}
}

func TestBanRepeatsAfterExpiry(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "r", Default: Windows{Second: 1}, BurstBan: true})
	for i := 0; i < 5; i++ {
		f.do()
	}
	if f.enf.bans.Load() != 1 {
		t.Fatalf("bans %d, want 1", f.enf.bans.Load())
	}
	f.now += 61 * time.Second // ban over; the client bursts again
	for i := 0; i < 5; i++ {
		f.do()
	}
	if f.enf.bans.Load() != 2 {
		t.Fatalf("bans %d after the first expired and a new burst, want 2", f.enf.bans.Load())
	}
}

// TestIPv6BanCoversTheNetwork: an IPv6 offender is banned by the network
// its limits count it by, so hopping to another address of its /64 neither
// escapes the ban nor costs another ban entry.
func TestIPv6BanCoversTheNetwork(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "v6", Default: Windows{Second: 1}, BurstBan: true})
	var closed outcome
	for i := 0; closed.verdict != pipeline.Close; i++ {
		if i > 100 {
			t.Fatal("never banned")
		}
		closed = f.do(from("2001:db8:1:2::1"))
	}
	bans, _ := f.enf.Bans()
	if len(bans) != 1 || bans[0].Source != netip.MustParsePrefix("2001:db8:1:2::/64") {
		t.Fatalf("bans %v, want the /64", bans)
	}
	// The request that caused the ban names it for its security event.
	if closed.banSource != enforce.FormatSource(bans[0].Source) || !closed.banUntil.Equal(bans[0].Until) {
		t.Errorf("ban of the closing request %q until %v, want %q until %v", closed.banSource, closed.banUntil,
			enforce.FormatSource(bans[0].Source), bans[0].Until)
	}
	for _, hop := range []string{"2001:db8:1:2::2", "2001:db8:1:2:ffff:1:2:3"} {
		if r := f.enf.Check(netip.MustParseAddr(hop)); r != enforce.ReasonDropBanned {
			t.Errorf("%s inside the banned /64: %v", hop, r)
		}
		f.now += 10 * time.Second // quota recovered: only the ban can close it
		if o := f.do(from(hop)); o.verdict != pipeline.Close || o.detail != "source_banned" || o.banSource != "" {
			t.Errorf("request from %s on an open connection: %v %q (ban %q), want closed as banned, no new ban", hop, o.verdict, o.detail, o.banSource)
		}
	}
	if n := f.enf.bans.Load(); n != 1 {
		t.Errorf("Ban called %d times, want once for the whole /64", n)
	}
	if r := f.enf.Check(netip.MustParseAddr("2001:db8:1:3::1")); r != enforce.ReasonPass {
		t.Errorf("the next /64 is banned too: %v", r)
	}
}

func TestEvictionUnderKeySpraying(t *testing.T) {
	f := newFixture(t, fixtureOpts{maxKeys: 200}, LimitConfig{Name: "spray", Default: Windows{Minute: 5}})
	for i := 0; i < 5000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		f.do(from(a.String()))
	}
	st := f.stage.limits[0].l.table.Stats()
	if st.Keys > 200+int64(keytable.ShardsFor()) {
		t.Fatalf("%d keys tracked, bound 200", st.Keys)
	}
	if st.EvictedActive+st.EvictedIdle < 4000 {
		t.Fatalf("evictions %+v, want one per key past the bound", st)
	}
	// Idle keys go first: after the windows refill, spraying evicts idle ones.
	f.now += 2 * time.Minute
	for i := 0; i < 300; i++ {
		f.do(from(netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)}).String()))
	}
	st2 := f.stage.limits[0].l.table.Stats()
	if st2.EvictedIdle-st.EvictedIdle < 150 {
		t.Fatalf("idle evictions %d -> %d, want the refilled keys evicted as idle", st.EvictedIdle, st2.EvictedIdle)
	}
}

// xdpLike reports the native XDP mode: bans drop packets, so the stage
// need not close banned sources' open connections itself.
type xdpLike struct{ *countingEnforcer }

func (xdpLike) Mode() string { return "native" }

func TestBannedSourceClosedOnOpenConnections(t *testing.T) {
	tests := []struct {
		name      string
		xdp       bool
		wantClose bool
	}{
		{"user-space enforcement closes until the ban ends", false, true},
		{"XDP drops packets; the stage does not check", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "b", Default: Windows{Second: 1}, BurstBan: true})
			if tc.xdp {
				st, _ := NewStage(f.store, StageConfig{Route: "x", Limits: []*Limit{f.stage.limits[0].l}, IPv6Prefix: 64,
					BanDuration: time.Minute, Enforcer: xdpLike{f.enf}, Sleep: f.sl.sleep, Logger: f.stage.log})
				f.stage = st
			}
			for i := 0; f.do().verdict != pipeline.Close; i++ {
				if i > 100 {
					t.Fatal("never banned")
				}
			}
			f.now += 10 * time.Second // quota and burst meter recovered
			o := f.do()
			if got := o.verdict == pipeline.Close; got != tc.wantClose {
				t.Fatalf("request during the ban closed = %v (detail %q), want %v", got, o.detail, tc.wantClose)
			}
			if tc.wantClose && (o.detail != "source_banned" || o.reason != pipeline.ReasonBurstBanned) {
				t.Fatalf("detail %q reason %v", o.detail, o.reason)
			}
			f.now += time.Minute
			if o := f.do(); o.verdict == pipeline.Close {
				t.Fatal("still closed after the ban ended")
			}
		})
	}
}

// TestLiftedBanEndsAtOnce: an unban (ForgetBans) or an allowlist entry
// added since the ban ends it for the stage too: user-space enforcement no
// longer closes the source's open connections, and a new burst bans it
// again instead of waiting for the lifted ban's end.
func TestLiftedBanEndsAtOnce(t *testing.T) {
	tests := []struct {
		name string
		lift func(f *fixture)
	}{
		{"unban", func(f *fixture) {
			_ = f.enf.Unban(netip.MustParsePrefix("192.0.2.1/32"))
			f.store.ForgetBans()
		}},
		{"allowlisted after the ban", func(f *fixture) {
			st, err := NewStage(f.store, StageConfig{Route: "x", Limits: []*Limit{f.stage.limits[0].l}, IPv6Prefix: 64,
				BanDuration: time.Minute, Enforcer: f.enf, Sleep: f.sl.sleep, Logger: f.stage.log,
				Allowlist: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
			if err != nil {
				t.Fatal(err)
			}
			f.stage = st
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "b", Default: Windows{Second: 1}, BurstBan: true})
			for i := 0; f.do().verdict != pipeline.Close; i++ {
				if i > 100 {
					t.Fatal("never banned")
				}
			}
			f.now += 10 * time.Second // quota and burst meter recovered
			tc.lift(f)
			if o := f.do(); o.verdict == pipeline.Close {
				t.Fatalf("closed after the ban was lifted (detail %q)", o.detail)
			}
		})
	}
	t.Run("a new burst after an unban bans again", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "b", Default: Windows{Second: 1}, BurstBan: true})
		for i := 0; i < 5; i++ {
			f.do()
		}
		_ = f.enf.Unban(netip.MustParsePrefix("192.0.2.1/32"))
		f.store.ForgetBans()
		f.now += 10 * time.Second
		for i := 0; i < 5; i++ {
			f.do()
		}
		if n := f.enf.bans.Load(); n != 2 {
			t.Fatalf("bans %d, want 2: the burst after the unban was not banned", n)
		}
	})
}

// TestBanLogsAreRateLimited: a burst from many sources bans every one of
// them, but writes at most banLogBurst log lines a second; the next line
// says how many were left out.
func TestBanLogsAreRateLimited(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "flood", Default: Windows{Second: 1}, BurstBan: true})
	var logs bytes.Buffer
	f.stage.log = slog.New(slog.NewTextHandler(&logs, nil))
	const sources = 3 * banLogBurst
	for i := range sources {
		src := from(netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}).String())
		for j := 0; f.do(src).verdict != pipeline.Close; j++ {
			if j > 100 {
				t.Fatalf("source %d never banned", i)
			}
		}
	}
	if n := f.enf.bans.Load(); n != sources {
		t.Fatalf("%d bans, want one per source (%d)", n, sources)
	}
	if n := strings.Count(logs.String(), "burst offender banned"); n != banLogBurst {
		t.Fatalf("%d ban lines in one second, want %d", n, banLogBurst)
	}
	f.now += time.Second
	logs.Reset()
	for f.do(from("10.9.1.1")).verdict != pipeline.Close {
	}
	if want := fmt.Sprintf("ban_lines_suppressed=%d", sources-banLogBurst); !strings.Contains(logs.String(), want) {
		t.Fatalf("next second's line does not report the suppressed ones (%s):\n%s", want, logs.String())
	}
}

// TestRetryAfterCoversEveryWindow: when the per-second window refuses
// first but the per-minute one is exhausted for longer, Retry-After is the
// longer wait, and a retry after it succeeds.
func TestRetryAfterCoversEveryWindow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits []LimitConfig
	}{
		{"two windows of one limit", []LimitConfig{{Name: "api", Default: Windows{Second: 10, Minute: 20}}}},
		{"two limits", []LimitConfig{{Name: "fast", Default: Windows{Second: 10}}, {Name: "slow", Default: Windows{Minute: 20}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{}, tc.limits...)
			for range 10 {
				f.do()
			}
			f.now += time.Second
			for i := range 10 {
				if o := f.do(); o.status == 429 {
					t.Fatalf("request %d of the second burst refused early", i)
				}
			}
			o := f.do() // second window: ~100ms to go; minute window (one token per 3s, 20 used in 1s): 2s
			ra, err := strconv.Atoi(o.retryAfter)
			if o.status != 429 || err != nil || ra != 2 {
				t.Fatalf("21st request: %d Retry-After %q, want 429 with 2s (the minute window, not the second's 1s)", o.status, o.retryAfter)
			}
			f.now += time.Duration(ra) * time.Second
			if o := f.do(); o.status == 429 {
				t.Fatalf("retry after Retry-After (%ds) refused again: %s", ra, o.detail)
			}
		})
	}
}

// TestCountsOnlyTheVerdict: when a later limit refuses a request, the
// earlier limit that granted it (and got its token back) does not count it
// as allowed.
func TestCountsOnlyTheVerdict(t *testing.T) {
	f := newFixture(t, fixtureOpts{}, LimitConfig{Name: "wide", Default: Windows{Second: 100}}, LimitConfig{Name: "narrow", Default: Windows{Second: 1}})
	counter := func(limit, result string) uint64 {
		return metrics.GetOrCreateCounter(`edgeguard_ratelimit_requests_total{route=` + strconv.Quote(f.stage.route) +
			`,limit="` + limit + `",result="` + result + `"}`).Get()
	}
	wide0, narrow0 := counter("wide", "allowed"), counter("narrow", "allowed")
	refused0 := counter("narrow", "rejected") + counter("narrow", "banned")
	for range 5 {
		f.do()
	}
	if got := counter("wide", "allowed") - wide0; got != 1 {
		t.Errorf("wide allowed %d, want 1 (the one request both limits let through)", got)
	}
	if got := counter("narrow", "allowed") - narrow0; got != 1 {
		t.Errorf("narrow allowed %d, want 1", got)
	}
	if got := counter("narrow", "rejected") + counter("narrow", "banned") - refused0; got != 4 {
		t.Errorf("narrow refused %d, want 4", got)
	}
}
